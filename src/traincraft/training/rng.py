"""Every random number generator a training run touches, captured and restored as one value.

Python's ``random``, NumPy's global generator, torch's CPU generator and, when initialised, the
CUDA and MPS generators. The state splits into a JSON part and a tensor part so a checkpoint can
store it without pickle (:mod:`traincraft.training.checkpoint`).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["RNGState", "capture_rng_state", "restore_rng_state"]

log = logging.getLogger(__name__)


@dataclass
class RNGState:
    """A snapshot of all generators; restore it with :func:`restore_rng_state`."""

    python: tuple[Any, ...]
    numpy: tuple[Any, ...]
    torch_cpu: torch.Tensor  # uint8, as torch.get_rng_state() returns it
    cuda: list[torch.Tensor] = field(default_factory=list)  # one uint8 tensor per visible GPU
    mps: torch.Tensor | None = None

    def to_json(self) -> dict[str, Any]:
        """The Python and NumPy states as plain JSON values."""
        version, internal, gauss_next = self.python
        kind, keys, pos, has_gauss, cached = self.numpy
        return {
            "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
            "numpy": {
                "kind": kind,
                "keys": np.asarray(keys).tolist(),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            },
        }

    def tensors(self) -> dict[str, torch.Tensor]:
        """The torch generator states as uint8 tensors, keyed for a safetensors file."""
        out = {"torch_cpu": self.torch_cpu}
        for i, s in enumerate(self.cuda):
            out[f"cuda.{i}"] = s
        if self.mps is not None:
            out["mps"] = self.mps
        return out

    @classmethod
    def from_parts(cls, js: dict[str, Any], tensors: dict[str, torch.Tensor]) -> RNGState:
        """Inverse of :meth:`to_json` and :meth:`tensors`; raises KeyError/TypeError on bad input."""
        py = js["python"]
        npy = js["numpy"]
        n_cuda = sum(1 for k in tensors if k.startswith("cuda."))
        return cls(
            python=(int(py["version"]), tuple(int(v) for v in py["state"]), py["gauss_next"]),
            numpy=(
                str(npy["kind"]),
                np.asarray(npy["keys"], dtype=np.uint32),
                int(npy["pos"]),
                int(npy["has_gauss"]),
                float(npy["cached_gaussian"]),
            ),
            torch_cpu=tensors["torch_cpu"],
            cuda=[tensors[f"cuda.{i}"] for i in range(n_cuda)],
            mps=tensors.get("mps"),
        )


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def capture_rng_state() -> RNGState:
    """Snapshot every generator. CUDA is included only once initialised (capturing never starts it)."""
    cuda: list[torch.Tensor] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [s.clone() for s in torch.cuda.get_rng_state_all()]
    mps = torch.mps.get_rng_state().clone() if _mps_available() else None
    return RNGState(
        python=random.getstate(),
        numpy=np.random.get_state(legacy=True),
        torch_cpu=torch.get_rng_state().clone(),
        cuda=cuda,
        mps=mps,
    )


def restore_rng_state(state: RNGState) -> None:
    """Put every generator back where :func:`capture_rng_state` found it."""
    random.setstate(state.python)
    np.random.set_state(state.numpy)
    torch.set_rng_state(state.torch_cpu.to(torch.uint8).cpu())
    if state.cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(state.cuda):
            torch.cuda.set_rng_state_all([s.to(torch.uint8).cpu() for s in state.cuda])
        else:
            seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
            log.warning(
                "The saved CUDA generator states are for %d GPU(s) but %d are visible; "
                "GPU randomness (e.g. dropout on the GPU) will not match the original run.",
                len(state.cuda),
                seen,
            )
    if state.mps is not None and _mps_available():
        torch.mps.set_rng_state(state.mps.to(torch.uint8).cpu())
