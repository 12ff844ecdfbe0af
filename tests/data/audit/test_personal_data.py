"""Personal data: recall on a planted corpus, Luhn and IBAN checksums, masked examples."""

import pandas as pd
import pytest

from traincraft.data.audit import audit
from traincraft.data.audit._pii import iban_ok, luhn_ok, mask_value, redact_text, scan

from ._audit_planted import iban, luhn_complete, planted_pii


def test_recall_on_planted_personal_data_and_no_luhn_invalid_card() -> None:
    texts, planted = planted_pii(450)
    hits = 0
    real = [p for p in planted if p[1] != "BAD_CARD"]
    for row, kind, value in planted:
        found = scan(texts[row])
        kinds = {m.kind for m in found}
        if kind == "BAD_CARD":
            assert "CARD" not in kinds, (texts[row], found)
        elif any(m.kind == kind and m.value == value for m in found):
            hits += 1
    assert hits / len(real) >= 0.95, hits / len(real)


def test_every_planted_value_is_redacted() -> None:
    texts, planted = planted_pii(450, seed=3)
    for row, kind, value in planted:
        if kind == "BAD_CARD":
            continue
        redacted, _ = redact_text(texts[row])
        assert value not in redacted, (kind, value, redacted)
        assert f"<{kind}>" in redacted


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert luhn_ok(luhn_complete("453201511283036"))
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    assert iban_ok(iban("DE", "370400440532013000"))


def test_numbers_that_are_not_personal_data_are_left_alone() -> None:
    text = "Order 12345 costs 19.99 on 2024-01-15 at 10:30:00, version 1.2.3, call 5 times"
    assert scan(text) == []


def test_finding_per_column_with_masked_examples() -> None:
    df = pd.DataFrame({"note": ["mail anna@example.com now", "nothing here", "card 4111 1111 1111 1111"], "y": [0, 1, 0]})
    f = audit(df, label="y", checks=["personal_data"]).first("personal_data")
    assert f.row_ids == [0, 2] and f.details["matches"] == {"EMAIL": 1, "CARD": 1}
    assert f.fix == {"step": "redact", "columns": ["note"], "kinds": ["EMAIL", "CARD"]}
    shown = f.details["examples"]["EMAIL"][0]
    assert "anna@example.com" not in shown and shown.startswith("an") and "*" in shown


@pytest.mark.parametrize("value, expected", [("ab", "**"), ("abcdef", "a****f"), ("abcdefghijkl", "ab********kl")])
def test_mask_value(value: str, expected: str) -> None:
    assert mask_value(value) == expected
