"""Label values a bundle has never seen, when its model trains on new data (``train.new_labels``).

``refuse`` (the default) stops with an error that lists them; ``add`` appends them to the classes
(existing classes keep their indices, so the trained head rows still mean what they meant) and
gives the head's output layer one new row per class, started at the mean of the existing rows:
a new class begins as "an average class" and its own examples pull it away from there.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch
from torch import nn

from traincraft.errors import BundleError, DataError, RecipeError
from traincraft.features._common import canonical_key, map_uniques, missing_mask
from traincraft.features.labels import LabelCodec, _plain, _sort_key

__all__ = ["unseen_labels", "extend_labels", "grow_head", "NEW_LABEL_MODES"]

log = logging.getLogger(__name__)

NEW_LABEL_MODES = ("refuse", "add")
_SHOWN = 10  # unseen values quoted in the refusal


def unseen_labels(codec: LabelCodec, labels: pd.Series) -> list[Any]:
    """Label values in ``labels`` that are not classes of ``codec``, sorted like classes are."""
    if not codec.is_classification:
        return []
    known = {canonical_key(c) for c in codec.classes}
    present = labels[~missing_mask(labels)]
    keys = map_uniques(present, canonical_key)
    new: dict[str, Any] = {}
    for key, value in zip(keys, present.tolist()):
        if key not in known and key not in new:
            new[key] = _plain(value)
    return sorted(new.values(), key=_sort_key)


def extend_labels(codec: LabelCodec, labels: pd.Series, mode: str, *, where: str = "the new data") -> tuple[LabelCodec, list[Any]]:
    """``(codec, added)``: the codec with ``labels``' unseen values appended (``add``), or an error (``refuse``).

    A binary codec that gains a class becomes multiclass.
    """
    if mode not in NEW_LABEL_MODES:
        raise RecipeError(f"train.new_labels is {mode!r}; allowed: {', '.join(NEW_LABEL_MODES)}.")
    added = unseen_labels(codec, labels)
    if not added:
        return codec, []
    if mode == "refuse":
        shown = ", ".join(repr(v) for v in added[:_SHOWN]) + (f" ... ({len(added)} in all)" if len(added) > _SHOWN else "")
        added_keys = {canonical_key(a) for a in added}
        rows = int(map_uniques(labels, lambda v: canonical_key(v) in added_keys, dtype=bool).sum())
        raise DataError(
            f"The label column '{codec.name}' of {where} holds {shown} in {rows} row(s), which the bundle was not "
            f"trained on (its classes: {', '.join(repr(c) for c in codec.classes[:20])}). Set train.new_labels: add "
            "(--new-labels add) to add them to the head as new classes, or drop those rows."
        )
    d = codec.to_json()
    d["classes"] = [*codec.classes, *added]
    if d["task"] == "binary":
        d["task"] = "multiclass"
    log.info("Added %d new class(es) to the head: %s.", len(added), ", ".join(map(repr, added)))
    return LabelCodec.from_json(d), added


def _output_layer(model: nn.Module) -> tuple[nn.Sequential, nn.Linear]:
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Sequential) or not len(head) or not isinstance(head[-1], nn.Linear):
        raise BundleError(
            f"New classes need a head that ends in a linear layer (model.head[-1]); {type(model).__name__} has none."
        )
    return head, head[-1]


def grow_head(model: nn.Module, new_classes: int) -> nn.Module:
    """Give ``model``'s output layer ``new_classes`` more outputs, each started at the mean of the existing rows."""
    if new_classes < 1:
        return model
    head, last = _output_layer(model)
    grown = nn.Linear(last.in_features, last.out_features + new_classes, bias=last.bias is not None)
    grown.to(device=last.weight.device, dtype=last.weight.dtype)
    with torch.no_grad():
        grown.weight[: last.out_features] = last.weight
        grown.weight[last.out_features :] = last.weight.mean(dim=0, keepdim=True)  # (new, in)
        if last.bias is not None:
            grown.bias[: last.out_features] = last.bias
            grown.bias[last.out_features :] = last.bias.mean()
    head[-1] = grown
    if hasattr(model, "out_dim"):
        model.out_dim = grown.out_features
    return model
