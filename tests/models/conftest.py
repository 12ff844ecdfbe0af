"""The network tests run tiny tensors: one torch thread is fastest for them and cannot oversubscribe
the cores when another process is busy (DESIGN.md: a 2-thread call beside a busy core ran 100x slower)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
