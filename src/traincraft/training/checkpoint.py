"""Checkpoints: everything needed to continue a run exactly, without pickle.

A checkpoint is a directory written atomically (:func:`traincraft._util.atomic.replace_dir`)::

    model.safetensors       the model's state_dict (tied weights stored once, aliases in state.json)
    optimizer.safetensors   the optimiser's state tensors, keys "state.<param index>.<name>"
    rng.safetensors         torch CPU (and CUDA / MPS) generator states as uint8 tensors
    state.json              format version, epoch / step / step_in_epoch, optimiser param_groups,
                            schedule step, Python and NumPy generator states, callback states, extra

``state.json`` is written by Python's ``json`` with ``allow_nan``: a metric can legitimately be
NaN, and it must come back as NaN for a resumed run to equal a straight one. Nothing is ever
unpickled, so loading a checkpoint cannot run code.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save_file
from torch import nn

from traincraft._util.atomic import replace_dir, resolve_dir
from traincraft.constants import CHECKPOINT_FORMAT_VERSION
from traincraft.errors import CheckpointError
from traincraft.training.rng import RNGState, restore_rng_state
from traincraft.training.schedule import LRSchedule

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "MODEL_FILE", "STATE_FILE"]

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"
STATE_FILE = "state.json"
_MAX_NAMES = 5  # names listed in a mismatch message before "and N more"


def _traincraft_version() -> str:
    try:
        return importlib.metadata.version("traincraft")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _names(names: list[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_MAX_NAMES])
    return shown + (f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else "")


def _model_tensors(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state_dict as independent contiguous CPU tensors, plus ``{alias: kept name}`` for tied weights.

    safetensors refuses tensors that share memory: an exact duplicate (a tied weight) is stored once
    and recorded as an alias; any other overlap is stored as a copy.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    views: dict[tuple[Any, ...], str] = {}
    storages: set[tuple[str, int]] = set()
    for name, value in model.state_dict().items():
        value = value.detach()
        if value.numel() == 0:
            tensors[name] = value.to("cpu", copy=True).contiguous()
            continue
        storage = (str(value.device), value.untyped_storage().data_ptr())
        view = (*storage, value.storage_offset(), tuple(value.shape), tuple(value.stride()), value.dtype)
        if view in views:
            aliases[name] = views[view]
            continue
        views[view] = name
        shared = storage in storages
        storages.add(storage)
        cpu = value.to("cpu")
        tensors[name] = cpu.clone() if shared or not cpu.is_contiguous() else cpu
    return tensors, aliases


def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, json)``: state tensors flattened to "state.<index>.<name>", the rest as JSON values."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"class": type(optimizer).__name__, "param_groups": sd["param_groups"], "scalars": scalars}


def save_checkpoint(
    directory: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    schedule: LRSchedule | None = None,
    epoch: int,
    step: int,
    step_in_epoch: int = 0,
    rng: RNGState | None = None,
    callbacks: Mapping[str, dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically and return its path.

    ``epoch`` counts completed epochs; ``step_in_epoch`` > 0 marks a checkpoint taken in the middle
    of epoch ``epoch + 1`` after that many of its steps. ``callbacks`` maps a callback's state key
    to its ``state_dict()``; ``extra`` holds any other JSON values the caller needs back.
    """
    directory = Path(directory)
    model_tensors, aliases = _model_tensors(model)
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_json: dict[str, Any] | None = None
    if optimizer is not None:
        opt_tensors, opt_json = _optimizer_parts(optimizer)
    state = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "traincraft_version": _traincraft_version(),
        "torch_version": torch.__version__,
        "epoch": int(epoch),
        "step": int(step),
        "step_in_epoch": int(step_in_epoch),
        "model": {"class": type(model).__name__, "aliases": aliases},
        "optimizer": opt_json,
        "schedule": schedule.state_dict() if schedule is not None else None,
        "rng": rng.to_json() if rng is not None else None,
        "callbacks": dict(callbacks or {}),
        "extra": dict(extra or {}),
    }
    try:
        state_text = json.dumps(state, indent=1, allow_nan=True)
    except TypeError as exc:
        raise CheckpointError(
            f"Cannot write the checkpoint {directory}: a value is not JSON-serialisable ({exc}). "
            "Callback states and extra values must be JSON values (numbers, strings, lists, dicts)."
        ) from None

    def fill(tmp: Path) -> None:
        save_file(model_tensors, tmp / MODEL_FILE)
        if optimizer is not None:
            save_file(opt_tensors, tmp / OPTIMIZER_FILE)
        if rng is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in rng.tensors().items()}, tmp / RNG_FILE)
        (tmp / STATE_FILE).write_text(state_text + "\n", encoding="utf-8")

    return replace_dir(directory, fill)


@dataclass
class Checkpoint:
    """A loaded checkpoint; ``restore_*`` put its parts into live objects, checking that they fit."""

    path: Path
    state: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    optimizer_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    rng: RNGState | None = None

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return int(self.state["epoch"])

    @property
    def step(self) -> int:
        """Global optimiser steps taken."""
        return int(self.state["step"])

    @property
    def step_in_epoch(self) -> int:
        """Steps taken in the unfinished epoch ``epoch + 1`` (0 at an epoch boundary)."""
        return int(self.state.get("step_in_epoch", 0))

    @property
    def callbacks(self) -> dict[str, dict[str, Any]]:
        return dict(self.state.get("callbacks") or {})

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.state.get("extra") or {})

    def model_tensors(self) -> dict[str, torch.Tensor]:
        """The model's state_dict as saved, with tied weights filled in under every name."""
        tensors = dict(self.model_state)
        for alias, kept in (self.state.get("model") or {}).get("aliases", {}).items():
            if kept in tensors:
                tensors[alias] = tensors[kept]
        return tensors

    def restore_model(self, model: nn.Module) -> None:
        """Load the weights into ``model``; different names or shapes raise :class:`CheckpointError`."""
        tensors = self.model_tensors()
        expected = model.state_dict()
        missing = [k for k in expected if k not in tensors]
        unexpected = [k for k in tensors if k not in expected]
        reshaped = [
            f"{k} {tuple(tensors[k].shape)} in the checkpoint vs {tuple(v.shape)} in the model"
            for k, v in expected.items()
            if k in tensors and tensors[k].shape != v.shape
        ]
        if missing or unexpected or reshaped:
            problems = []
            if missing:
                problems.append(f"missing from the checkpoint: {_names(missing)}")
            if unexpected:
                problems.append(f"not in the model: {_names(unexpected)}")
            if reshaped:
                problems.append(f"shape differs: {_names(reshaped)}")
            saved_class = (self.state.get("model") or {}).get("class", "?")
            raise CheckpointError(
                f"The checkpoint {self.path} does not match the model ({type(model).__name__}; the checkpoint "
                f"holds a {saved_class}): {'; '.join(problems)}. It was written for a different model or "
                "recipe; train from scratch (without resume), or load it into the model it was written for."
            )
        model.load_state_dict(tensors, strict=True)

    def restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Load the optimiser state; a different optimiser or parameter layout raises :class:`CheckpointError`."""
        saved = self.state.get("optimizer")
        if saved is None:
            raise CheckpointError(
                f"The checkpoint {self.path} holds no optimiser state, so the run cannot resume exactly."
            )
        if saved.get("class") != type(optimizer).__name__:
            raise CheckpointError(
                f"The checkpoint {self.path} was written with the {saved.get('class')} optimiser but this run uses "
                f"{type(optimizer).__name__}; resume with train.optimizer set as when the run started."
            )
        groups = saved["param_groups"]
        live_sizes = [len(g["params"]) for g in optimizer.param_groups]
        saved_sizes = [len(g["params"]) for g in groups]
        if live_sizes != saved_sizes:
            raise CheckpointError(
                f"The checkpoint {self.path} has optimiser parameter groups of sizes {saved_sizes} but this model's "
                f"are {live_sizes}; the checkpoint belongs to a different model."
            )
        params = [p for g in optimizer.param_groups for p in g["params"]]
        state: dict[int, dict[str, Any]] = {}
        for key, tensor in self.optimizer_tensors.items():
            try:
                _, index, name = key.split(".", 2)
                param = params[int(index)]
            except (ValueError, IndexError):
                raise CheckpointError(
                    f"The checkpoint {self.path} has an unexpected optimiser entry {key!r}."
                ) from None
            if tensor.ndim > 0 and tensor.shape != param.shape:
                raise CheckpointError(
                    f"The checkpoint {self.path} has optimiser state {key} of shape {tuple(tensor.shape)} for a "
                    f"parameter of shape {tuple(param.shape)}; it belongs to a different model."
                )
            state.setdefault(int(index), {})[name] = tensor
        for index, values in (saved.get("scalars") or {}).items():
            state.setdefault(int(index), {}).update(values)
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"The optimiser state in {self.path} does not fit this optimiser: {exc}") from None

    def restore_schedule(self, schedule: LRSchedule) -> None:
        saved = self.state.get("schedule")
        if saved is None:
            raise CheckpointError(
                f"The checkpoint {self.path} holds no schedule state, so the run cannot resume exactly."
            )
        schedule.load_state_dict(saved)

    def restore_rng(self) -> None:
        if self.rng is None:
            raise CheckpointError(f"The checkpoint {self.path} holds no random generator states.")
        restore_rng_state(self.rng)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(
            f"The checkpoint {path.parent} is incomplete: {path.name} is missing. "
            "Resume from another checkpoint or train from scratch."
        )
    try:
        return st_load(path.read_bytes())
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"The checkpoint file {path} is corrupt or unreadable ({exc}).") from None


def load_checkpoint(directory: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    If a kill interrupted the directory swap, the previous copy (``<dir>.old``) is used. A missing,
    corrupt or incompatible checkpoint raises :class:`CheckpointError` naming the path.
    """
    requested = Path(directory)
    path = resolve_dir(requested)
    if path is None:
        raise CheckpointError(
            f"No checkpoint at {requested} (the directory does not exist). "
            "Train without resume first, or point to the run directory that holds checkpoints/."
        )
    if path != requested:
        log.warning("Using %s: writing %s was interrupted.", path, requested)
    state_path = path / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"The checkpoint {path} is incomplete: {STATE_FILE} is missing.")
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"The checkpoint file {state_path} is corrupt: not valid JSON ({exc}).") from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(
            f"The checkpoint file {state_path} is not a traincraft checkpoint state (no format_version)."
        )
    version = state["format_version"]
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"The checkpoint {path} has format version {version}; this traincraft "
            f"({_traincraft_version()}) reads version {CHECKPOINT_FORMAT_VERSION}. Use the traincraft version that "
            f"wrote it ({state.get('traincraft_version', 'unknown')}) or train from scratch."
        )
    missing_keys = [k for k in ("epoch", "step") if not isinstance(state.get(k), int)]
    if missing_keys:
        raise CheckpointError(f"The checkpoint file {state_path} lacks integer {', '.join(missing_keys)}.")
    model_state = _read_tensors(path / MODEL_FILE)
    optimizer_tensors = _read_tensors(path / OPTIMIZER_FILE) if state.get("optimizer") is not None else {}
    rng = None
    if state.get("rng") is not None:
        try:
            rng = RNGState.from_parts(state["rng"], _read_tensors(path / RNG_FILE))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"The random generator states in {path} are malformed ({exc!r}).") from None
    return Checkpoint(path=path, state=state, model_state=model_state, optimizer_tensors=optimizer_tensors, rng=rng)
