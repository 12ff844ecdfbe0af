"""Fixtures for the encoder tests: a duck-typed schema (name/type/role columns, label, task)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch


def make_schema(types: dict[str, str], *, label: str | None = None, task: str = "none") -> SimpleNamespace:
    """A schema with one role=feature column per entry of ``types`` (plus the label column, if any)."""
    columns = [SimpleNamespace(name=name, type=kind, role="feature") for name, kind in types.items()]
    if label is not None:
        columns.append(SimpleNamespace(name=label, type="categorical", role="label"))
    return SimpleNamespace(columns=columns, label=label, task=task, features=list(types))


@pytest.fixture()
def schema_of() -> Callable[..., SimpleNamespace]:
    return make_schema


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: one torch thread is fastest and cannot oversubscribe a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
