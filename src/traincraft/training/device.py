"""Where training runs and in which precision: device choice and the autocast context.

``auto`` prefers a CUDA GPU, then Apple's MPS, then the CPU. Mixed precision is bf16 autocast on
a GPU (no loss scaling needed, unlike fp16) and fp32 on the CPU, where bf16 matmuls are only
faster on CPUs with AMX/AVX512-BF16; bf16 on the CPU is used only when asked for explicitly.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from traincraft.errors import RecipeError

__all__ = ["pick_device", "resolve_precision", "autocast_context", "autocast_factory"]

log = logging.getLogger(__name__)

_DEVICES = ("auto", "cpu", "cuda", "mps")
_PRECISIONS = ("auto", "fp32", "bf16")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``train.device``: ``auto`` picks cuda, then mps, then cpu.

    Asking for a device that is not there is an error that says why and what to do instead.
    """
    if name not in _DEVICES:
        raise RecipeError(f"train.device is {name!r}; allowed: {', '.join(_DEVICES)}.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        if torch.version.cuda is None:
            why = f"this torch ({torch.__version__}) is a CPU-only build"
            fix = "install a CUDA build of torch, or"
        else:
            why = (
                f"torch was built for CUDA {torch.version.cuda} but sees no GPU "
                "(the driver is missing or CUDA_VISIBLE_DEVICES is empty)"
            )
            fix = "check `nvidia-smi`, or"
        raise RecipeError(
            f"train.device is 'cuda' but no CUDA GPU is usable: {why}. Fix: {fix} set train.device: auto (or cpu)."
        )
    if name == "mps" and not _mps_available():
        raise RecipeError(
            "train.device is 'mps' but Apple's MPS backend is not available (it needs macOS 12.3+ on Apple silicon). "
            "Fix: set train.device: auto (or cpu)."
        )
    return torch.device(name)


def resolve_precision(device: torch.device, precision: str = "auto") -> str:
    """``fp32`` or ``bf16``: what ``train.precision`` means on ``device``."""
    if precision not in _PRECISIONS:
        raise RecipeError(f"train.precision is {precision!r}; allowed: {', '.join(_PRECISIONS)}.")
    if precision == "fp32":
        return "fp32"
    if device.type == "cpu":
        return "bf16" if precision == "bf16" else "fp32"
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        level = log.warning if precision == "bf16" else log.info
        level("This GPU does not support bf16; training in fp32.")
        return "fp32"
    return "bf16"


def autocast_factory(device: torch.device, precision: str = "auto") -> Callable[[], AbstractContextManager[object]]:
    """A zero-argument callable making the per-step context; precision is resolved once, here.

    The training loop calls the factory every step: for fp32 it is ``contextlib.nullcontext``,
    which costs next to nothing in the hot loop.
    """
    if resolve_precision(device, precision) == "bf16":
        return functools.partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def autocast_context(device: torch.device, precision: str = "auto") -> AbstractContextManager[object]:
    """A context manager for one forward pass: bf16 autocast, or nothing for fp32.

    ``with autocast_context(dev, "auto"): out = model(batch)``. Loops should hold an
    :func:`autocast_factory` instead, so the precision is not resolved every step.
    """
    return autocast_factory(device, precision)()
