"""Row rules: a small, safe expression language over a table's columns, evaluated vectorised.

Why not ``DataFrame.query`` / ``DataFrame.eval``: they are not a sandbox. With
``engine="python"`` an expression may call methods and reach attributes of the values
(``text.__class__...``, ``@`` names from the caller's scope), and a recipe file is data that
people share, so a rule must not be able to run code. Here an expression is parsed with
:mod:`ast` and only this grammar is accepted; everything else is an error naming the construct:

    expr     :=  expr (and | or | & | |) expr  |  not expr  |  ~expr  |  comparison
    compare  :=  value (== | != | < | <= | > | >= | in | not in) value  (chains allowed)
    value    :=  column | `column with spaces` | number | 'string' | True | False | None
              |  [constant, ...] | value (+ | - | * | / | %) value | -value | function(value, ...)
    function :=  len | words | lower | upper | strip | abs | isnull | notnull
              |  contains(col, 'text') | startswith(col, 'text') | endswith(col, 'text') | matches(col, 'regex')

A row where a value is missing compares as False. The result is a boolean mask.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any, Callable

import numpy as np
import pandas as pd

from traincraft._util.suggest import did_you_mean
from traincraft.errors import RecipeError, SchemaError

__all__ = ["evaluate_rule", "parse_rule", "rule_columns", "FUNCTIONS"]

_MAX_RULE_CHARS = 2000  # a rule is one line of a recipe; a longer one is a mistake (or an attack)
_BACKTICK = re.compile(r"`([^`]+)`")


def _as_str(s: pd.Series) -> pd.Series:
    return s.astype(object).map(lambda v: v if isinstance(v, str) else (None if pd.isna(v) else str(v)))


def _str_fn(name: str, f: Callable[[pd.Series], pd.Series]) -> Callable[..., pd.Series]:
    def call(*args: Any) -> pd.Series:
        if len(args) != 1:
            raise RecipeError(f"{name}() takes one column, got {len(args)} arguments.")
        return f(_as_str(_series(args[0])))

    return call


def _pattern_fn(name: str, f: Callable[[pd.Series, str], pd.Series]) -> Callable[..., pd.Series]:
    def call(*args: Any) -> pd.Series:
        if len(args) != 2 or not isinstance(args[1], str):
            raise RecipeError(f"{name}() takes a column and a quoted string, e.g. {name}(text, 'free').")
        return f(_as_str(_series(args[0])), args[1])

    return call


def _matches(s: pd.Series, pattern: str) -> pd.Series:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise RecipeError(f"matches(): {pattern!r} is not a valid regular expression: {exc}.") from None
    return s.str.contains(pattern, regex=True, na=False)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _str_fn("len", lambda s: s.str.len()),
    "words": _str_fn("words", lambda s: s.str.split().str.len()),
    "lower": _str_fn("lower", lambda s: s.str.lower()),
    "upper": _str_fn("upper", lambda s: s.str.upper()),
    "strip": _str_fn("strip", lambda s: s.str.strip()),
    "abs": lambda *a: abs(a[0]) if len(a) == 1 else _arity("abs"),
    "isnull": lambda *a: _series(a[0]).isna() if len(a) == 1 else _arity("isnull"),
    "notnull": lambda *a: _series(a[0]).notna() if len(a) == 1 else _arity("notnull"),
    "contains": _pattern_fn("contains", lambda s, p: s.str.contains(p, regex=False, na=False)),
    "startswith": _pattern_fn("startswith", lambda s, p: s.str.startswith(p, na=False)),
    "endswith": _pattern_fn("endswith", lambda s, p: s.str.endswith(p, na=False)),
    "matches": _pattern_fn("matches", _matches),
}


def _arity(name: str) -> None:
    raise RecipeError(f"{name}() takes one column.")


def _series(value: Any) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    raise RecipeError(f"Expected a column here, got the constant {value!r}.")


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


def parse_rule(rule: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse and validate ``rule``; returns the tree and the backtick names it uses."""
    if not isinstance(rule, str) or not rule.strip():
        raise RecipeError(f"A rule must be a non-empty expression string, got {rule!r}.")
    if len(rule) > _MAX_RULE_CHARS:
        raise RecipeError(f"Rule is {len(rule)} characters long; a rule is at most {_MAX_RULE_CHARS} characters.")
    names: dict[str, str] = {}

    def quote(m: re.Match[str]) -> str:
        alias = f"__col{len(names)}"
        names[alias] = m.group(1)
        return alias

    source = _BACKTICK.sub(quote, rule.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise RecipeError(f"Rule {rule!r} is not a valid expression: {exc.msg} (at character {exc.offset}).") from None
    for node in ast.walk(tree):
        _check_node(node, rule)
    return tree, names


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Invert,
    ast.BinOp, ast.BitAnd, ast.BitOr, ast.Compare, ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant,
    ast.List, ast.Tuple, ast.Call, *_COMPARE, *_ARITH,
)


def _check_node(node: ast.AST, rule: str) -> None:
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        hint = " Attribute access (a.b) is not allowed; use the functions len, words, lower, contains, matches ..." if what == "Attribute" else ""
        raise RecipeError(f"Rule {rule!r} uses {what}, which rules do not allow.{hint}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
            raise RecipeError(f"Rule {rule!r} calls {name}(), which is not a rule function.{did_you_mean(str(name), FUNCTIONS)} Functions: {', '.join(FUNCTIONS)}.")
        if node.keywords:
            raise RecipeError(f"Rule {rule!r}: functions take positional arguments only.")
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
        raise RecipeError(f"Rule {rule!r} uses the constant {node.value!r}; use numbers, quoted strings, True, False or None.")
    if isinstance(node, (ast.List, ast.Tuple)) and not all(isinstance(e, ast.Constant) for e in node.elts):
        raise RecipeError(f"Rule {rule!r}: a list may hold constants only.")


def rule_columns(rule: str) -> set[str]:
    """The column names a rule refers to."""
    tree, names = parse_rule(rule)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in called:
            out.add(names.get(node.id, node.id))
    return out


def evaluate_rule(df: pd.DataFrame, rule: str) -> np.ndarray:
    """(len(df),) bool: where ``rule`` holds. Missing values make a comparison False."""
    tree, names = parse_rule(rule)
    result = _eval(tree.body, df, names, rule)
    if isinstance(result, pd.Series):
        if not (pd.api.types.is_bool_dtype(result.dtype) or result.dtype == object):
            raise RecipeError(f"Rule {rule!r} gives {result.dtype} values, not true/false; compare it, e.g. `{rule} > 0`.")
        return result.fillna(False).astype(bool).to_numpy()
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(df), bool(result))
    raise RecipeError(f"Rule {rule!r} does not give true/false per row (got {result!r}).")


def _eval(node: ast.AST, df: pd.DataFrame, names: dict[str, str], rule: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    if isinstance(node, ast.Name):
        column = names.get(node.id, node.id)
        if column not in df.columns:
            cols = [str(c) for c in df.columns]
            raise SchemaError(f"Rule {rule!r} names column '{column}', which is not in the data. Columns: {', '.join(cols[:20])}.{did_you_mean(column, cols)}")
        return df[column]
    if isinstance(node, ast.BoolOp):
        values = [_truth(_eval(v, df, names, rule)) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        left, right = _truth(_eval(node.left, df, names, rule)), _truth(_eval(node.right, df, names, rule))
        return (left & right) if isinstance(node.op, ast.BitAnd) else (left | right)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, df, names, rule)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            return ~_truth(value) if isinstance(value, pd.Series) else not value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, df, names, rule), _eval(node.right, df, names, rule)
        try:
            return _ARITH[type(node.op)](_numeric(left), _numeric(right))
        except TypeError as exc:
            raise RecipeError(f"Rule {rule!r}: arithmetic needs numbers ({exc}).") from None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, df, names, rule)
        out = None
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, df, names, rule)
            part = _compare(op, left, right, rule)
            out = part if out is None else (out & part)
            left = right
        return out
    if isinstance(node, ast.Call):
        args = [_eval(a, df, names, rule) for a in node.args]
        return FUNCTIONS[node.func.id](*args)  # type: ignore[attr-defined]
    raise RecipeError(f"Rule {rule!r} uses {type(node).__name__}, which rules do not allow.")


def _numeric(value: Any) -> Any:
    if isinstance(value, pd.Series) and not pd.api.types.is_numeric_dtype(value.dtype):
        converted = pd.to_numeric(value, errors="coerce")
        if converted.notna().any() or value.isna().all():
            return converted
    return value


def _truth(value: Any) -> Any:
    if isinstance(value, pd.Series):
        return value.fillna(False).astype(bool)
    return bool(value)


def _compare(op: ast.cmpop, left: Any, right: Any, rule: str) -> Any:
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(right, list):
            raise RecipeError(f"Rule {rule!r}: 'in' needs a list on its right, e.g. label in ['a', 'b'].")
        hit = _series(left).astype(object).isin(right) | _series(left).astype(str).isin([str(v) for v in right])
        hit = hit & _series(left).notna()
        return ~hit if isinstance(op, ast.NotIn) else hit
    fn = _COMPARE[type(op)]
    if isinstance(left, pd.Series) and isinstance(right, (int, float)) and not isinstance(right, bool):
        left = _numeric(left)
    if isinstance(right, pd.Series) and isinstance(left, (int, float)) and not isinstance(left, bool):
        right = _numeric(right)
    try:
        result = fn(left, right)
    except TypeError as exc:
        raise RecipeError(f"Rule {rule!r} compares values that cannot be compared ({exc}).") from None
    if isinstance(result, pd.Series):
        missing = (left.isna() if isinstance(left, pd.Series) else False) | (right.isna() if isinstance(right, pd.Series) else False)
        return result.fillna(False).astype(bool) & ~missing
    return result
