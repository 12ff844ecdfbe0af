"""The rl tests need gymnasium (the `rl` extra); without it they are skipped, not failed."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("gymnasium", reason="the rl extra is not installed: pip install 'traincraft[rl]'")
sys.path.insert(0, str(Path(__file__).resolve().parent))
