"""Rules: the safe expression language."""

import numpy as np
import pandas as pd
import pytest

from traincraft.data.audit._expr import evaluate_rule, rule_columns
from traincraft.errors import RecipeError, SchemaError

DF = pd.DataFrame({"text": ["hi", "hello there", None, "FREE money"], "n": [1, 5, np.nan, 10], "country code": ["UK", "FR", "UK", "DE"]})


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("len(text) < 3", [True, False, False, False]),
        ("n >= 5 and n < 10", [False, True, False, False]),
        ("n > 4 or isnull(text)", [False, True, True, True]),
        ("not (n > 4)", [True, False, True, False]),
        ("`country code` in ['UK', 'DE']", [True, False, True, True]),
        ("`country code` not in ['UK']", [False, True, False, True]),
        ("contains(lower(text), 'free')", [False, False, False, True]),
        ("matches(text, '^h')", [True, True, False, False]),
        ("words(text) == 2", [False, True, False, True]),
        ("n * 2 + 1 > 10", [False, True, False, True]),
        ("(n > 1) & ~(n > 5)", [False, True, False, False]),
        ("1 < n < 10", [False, True, False, False]),
        ("text != 'hi'", [False, True, False, True]),
    ],
)
def test_rules(rule: str, expected: list[bool]) -> None:
    assert evaluate_rule(DF, rule).tolist() == expected


@pytest.mark.parametrize(
    "rule, match",
    [
        ("text.__class__", "Attribute"),
        ("__import__('os').system('x')", "not a rule function"),
        ("open('f')", "not a rule function"),
        ("[x for x in text]", "ListComp"),
        ("lambda: 1", "Lambda"),
        ("len(text) <", "not a valid expression"),
        ("lenn(text) > 1", "Did you mean 'len'"),
        ("len(text, 2) > 1", "takes one column"),
        ("contains(text) ", "a column and a quoted string"),
        ("text in 'abc'", "needs a list"),
        ("matches(text, '(')", "not a valid regular expression"),
        ("", "non-empty expression"),
        ("n + 1", "not true/false"),
    ],
)
def test_unsafe_or_broken_rules_are_refused(rule: str, match: str) -> None:
    with pytest.raises(RecipeError, match=match):
        evaluate_rule(DF, rule)


def test_unknown_column_names_a_suggestion() -> None:
    with pytest.raises(SchemaError, match="Did you mean 'text'"):
        evaluate_rule(DF, "len(txt) > 1")


def test_rule_columns() -> None:
    assert rule_columns("len(text) < 3 and `country code` == 'UK'") == {"text", "country code"}
