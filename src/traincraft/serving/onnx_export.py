"""ONNX export of a bundle's network, and :class:`OnnxPredictor`, which predicts with onnxruntime.

Only the network goes to ONNX; the encoders stay in Python / numpy and are read from the same
``bundle.json``. :func:`export_onnx` writes, into the bundle directory or another one::

    model.onnx    the network: one input per encoded tensor (``dense``, ``categorical``,
                  ``text:<col>``, ``text_w:<col>``, ``image:<col>``, or for a pretrained encoder
                  ``input_ids:<col>``, ``attention_mask:<col>`` / ``pixel_values:<col>``), output
                  ``logits`` (B, out_dim)
    onnx.json     the input names, opset, exporter, the file's sha256, and the parity with torch
                  measured right after the export
    bundle.json   a copy of the bundle's metadata (when the target is not the bundle itself)

ONNX has no ``EmbeddingBag`` with ``per_sample_weights``, so each text bag is exported as its
exact equivalent: gather the embedding rows, multiply by the weights, sum over the tokens
(padding id 0 masked out, as ``padding_idx=0`` does).

A pretrained text network (``model.pretrained``; head-only, LoRA or full) is exported whole: the
base model's weights go into ``model.onnx`` with the adapters and head (about 90 MB for
all-MiniLM-L6-v2), so the ONNX runtime needs no base model directory; the tokenizer stays in
Python. The graph runs each batch at its padded width (:meth:`PretrainedTextNet.forward_padded`);
:class:`OnnxPredictor` sorts rows by length and trims each batch of :data:`INFERENCE_CHUNK`
texts to its longest, as the torch network does. A pretrained image network exports the same way
(base model inside, the image processor in Python), with one fixed image size.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from traincraft._util.atomic import atomic_write_json, atomic_write_with
from traincraft._util.fingerprint import file_sha256
from traincraft._util.seed import usable_cores
from traincraft._version import __version__
from traincraft.constants import BUNDLE_FORMAT_VERSION
from traincraft.errors import BundleError, MissingDependencyError, SchemaError
from traincraft.features.table import EncodedTable, TableEncoder
from traincraft.models.pretrained import INFERENCE_CHUNK
from traincraft.serving.bundle import BUNDLE_JSON, BundleContents, read_bundle
from traincraft.serving.predictor import PREDICT_BATCH, Predictor

__all__ = ["export_onnx", "OnnxPredictor", "load_onnx", "ONNX_FILE", "ONNX_JSON", "ONNX_OPSET"]

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
ONNX_JSON = "onnx.json"
ONNX_OPSET = 18  # the opset torch's dynamo exporter targets by default; onnxruntime >= 1.14 runs it
OUTPUT_NAME = "logits"
EXPORT_BATCH = 3  # rows in the example inputs; not 0 or 1, which torch.export would specialise on
EXPORT_TOKENS = 5  # tokens per text in the example inputs; differs from EXPORT_BATCH so the two stay separate dims
EXPORT_TOLERANCE = 1e-4  # largest |torch - onnx| logit accepted right after export; float32 rounding is ~1e-6
EXPORTABLE = ("tabular", "pretrained", "pretrained_image")  # model kinds export_onnx takes
TOKEN_KEYS = ("input_ids:", "attention_mask:")  # a pretrained encoder's inputs, (B, L) each
GATHER_BUDGET = 1 << 24  # floats in one text gather (rows x tokens x dim, 64 MiB); bounds the ONNX batch for text models


class _WeightedBagSum(nn.Module):
    """``nn.EmbeddingBag(mode="sum", padding_idx=0)`` with ``per_sample_weights``, in ops ONNX has."""

    def __init__(self, bag: nn.EmbeddingBag) -> None:
        super().__init__()
        self.weight = bag.weight
        self.padding_idx = bag.padding_idx

    def forward(self, ids: torch.Tensor, per_sample_weights: torch.Tensor) -> torch.Tensor:
        weights = per_sample_weights
        if self.padding_idx is not None:
            weights = weights * (ids != self.padding_idx).to(weights.dtype)  # (B, L)
        rows = nn.functional.embedding(ids, self.weight)  # (B, L, d)
        return (rows * weights.unsqueeze(-1)).sum(dim=1)  # (B, d)


class _PositionalNet(nn.Module):
    """The bundle's network with one positional tensor per input key (ONNX graphs take no dicts)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = copy.deepcopy(net)
        self.keys = list(net.input_keys)
        self.padded = hasattr(self.net, "forward_padded")  # a pretrained encoder: no data-dependent trimming
        if not self.padded:
            for i, bag in enumerate(self.net.text):
                self.net.text[i] = _WeightedBagSum(bag)
        self.eval()

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        batch = dict(zip(self.keys, inputs))
        return self.net.forward_padded(batch) if self.padded else self.net(batch)  # (B, out_dim)


def _onnx_modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "onnx", "onnx", "Exporting a model to ONNX") from None
    return onnx, onnxscript


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx", "Predicting with the ONNX runtime") from None
    return onnxruntime


def example_inputs(
    spec: dict[str, Any], *, rows: int = EXPORT_BATCH, tokens: int = EXPORT_TOKENS, seed: int = 0, vocab_size: int = 100
) -> EncodedTable:
    """Random inputs shaped like the encoder's output for a model ``spec`` (for tracing and checks).

    A pretrained spec's token ids are drawn below ``vocab_size`` (the base model's vocabulary).
    """
    gen = torch.Generator().manual_seed(seed)
    x: EncodedTable = {}
    if spec["dense_dim"]:
        x["dense"] = torch.randn(rows, spec["dense_dim"], generator=gen)  # (B, D)
    if spec.get("categorical"):
        columns = [torch.randint(0, c["cardinality"], (rows,), generator=gen) for c in spec["categorical"]]
        x["categorical"] = torch.stack(columns, dim=1)  # (B, K)
    if spec.get("kind") == "pretrained":
        for t in spec["text"]:
            x[f"input_ids:{t['name']}"] = torch.randint(0, vocab_size, (rows, tokens), generator=gen)  # (B, L)
            mask = torch.ones(rows, tokens, dtype=torch.int64)  # (B, L)
            mask[0, -2:] = 0  # right padding in one row, so the mask is exercised
            x[f"attention_mask:{t['name']}"] = mask
        return x
    if spec.get("kind") == "pretrained_image":
        for im in spec["image"]:
            shape = (rows, int(im["channels"]), int(im["height"]), int(im["width"]))
            x[f"pixel_values:{im['name']}"] = torch.randn(*shape, generator=gen)  # (B, C, H, W)
        return x
    for t in spec.get("text", []):
        ids = torch.randint(0, t["buckets"] + 1, (rows, tokens), generator=gen)  # (B, L), 0 = padding
        ids[0, -1] = 0  # one padding slot, so the mask is exercised
        x[f"text:{t['name']}"] = ids
        x[f"text_w:{t['name']}"] = torch.rand(rows, tokens, generator=gen)  # (B, L)
    for im in spec.get("image", []):
        x[f"image:{im['name']}"] = torch.randn(rows, im["channels"], im["size"], im["size"], generator=gen)  # (B, C, H, W)
    return x


def _dynamic_shapes(keys: list[str]) -> tuple[tuple[dict[int, Any], ...]]:
    batch = torch.export.Dim("batch")
    tokens: dict[str, Any] = {}
    shapes = []
    for key in keys:
        if key.startswith(("text:", "text_w:", *TOKEN_KEYS)):
            column = key.split(":", 1)[1]
            tokens.setdefault(column, torch.export.Dim(f"tokens_{len(tokens)}"))
            shapes.append({0: batch, 1: tokens[column]})
        else:
            shapes.append({0: batch})
    return (tuple(shapes),)  # one entry: the *inputs varargs of _PositionalNet.forward


def export_onnx(
    bundle: str | Path | BundleContents, out_dir: str | Path | None = None, *, opset: int = ONNX_OPSET, overwrite: bool = False
) -> Path:
    """Export the bundle's network to ``out_dir/model.onnx`` (default: the bundle directory); return ``out_dir``.

    The export is checked before it is kept: onnxruntime must reproduce torch's logits on
    random inputs within :data:`EXPORT_TOLERANCE`, and the measured difference goes into
    ``onnx.json``. A folder that already holds another bundle's files is refused unless
    ``overwrite``; exporting the same bundle again replaces the earlier export.
    """
    onnx, _ = _onnx_modules()
    ort = _onnxruntime()
    contents = bundle if isinstance(bundle, BundleContents) else read_bundle(bundle)
    kind = contents.meta["model"]["spec"].get("kind", "tabular")
    if kind not in EXPORTABLE:
        raise BundleError(
            f"ONNX export covers traincraft's tabular network (numbers, categories, hashed text, images) and pretrained "
            f"text and image encoders; the model in {contents.path} is a {kind!r} network. Serve it with the torch runtime "
            f"(traincraft serve {contents.path})."
        )
    target = Path(out_dir) if out_dir is not None else contents.path
    if target.exists() and not target.is_dir():
        raise BundleError(f"{target} is a file; give a folder to write {ONNX_FILE} into.")
    other = target / BUNDLE_JSON
    if not overwrite and target.resolve() != contents.path.resolve() and other.exists():
        if other.read_bytes() != (contents.path / BUNDLE_JSON).read_bytes():
            raise BundleError(f"{target} already holds another bundle's {BUNDLE_JSON}; choose another folder or pass --overwrite to replace it.")
    if any(key.startswith("image:") for key in contents.model.input_keys) and opset < 10:
        raise BundleError(f"Image models need ONNX opset 10 or later (ceil-mode max-pool); got {opset}.")
    wrapped = _PositionalNet(contents.model)
    spec = contents.meta["model"]["spec"]
    vocab = int(getattr(contents.model.hf_model.config, "vocab_size", 100)) if kind == "pretrained" else 100
    example = example_inputs(spec, vocab_size=vocab)
    args = tuple(example[k] for k in wrapped.keys)
    with torch.inference_mode():
        expected = contents.model(example).float().numpy()  # (B, out_dim)
    program = _run_exporter(wrapped, args, opset)

    target.mkdir(parents=True, exist_ok=True)
    onnx_path = target / ONNX_FILE
    atomic_write_with(onnx_path, lambda tmp: program.save(str(tmp), external_data=False))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {k: v.numpy() for k, v in zip(wrapped.keys, args)})[0]
    difference = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if not difference <= EXPORT_TOLERANCE:
        onnx_path.unlink(missing_ok=True)
        raise BundleError(
            f"The ONNX export of {contents.path} does not reproduce the torch model: logits differ by up to "
            f"{difference:.3g} (allowed {EXPORT_TOLERANCE:g}). Report this with the bundle's bundle.json."
        )
    if target.resolve() != contents.path.resolve():
        atomic_write_with(target / BUNDLE_JSON, lambda tmp: shutil.copyfile(contents.path / BUNDLE_JSON, tmp))
    description = {
        "format": "traincraft-onnx",
        "file": ONNX_FILE,
        "sha256": file_sha256(onnx_path),
        "opset": opset,
        "inputs": wrapped.keys,
        "output": OUTPUT_NAME,
        "bundle_weights_sha256": contents.meta.get("weights_sha256"),
        "parity_max_abs_logit_difference": difference,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"traincraft": __version__, "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
    }
    atomic_write_json(target / ONNX_JSON, description)
    log.info("exported %s to %s (logits within %.2g of torch)", contents.path, onnx_path, difference)
    return target


def _run_exporter(wrapped: _PositionalNet, args: tuple[torch.Tensor, ...], opset: int) -> Any:
    """torch's dynamo exporter with a dynamic batch (and token) dimension; its chatter goes to debug logs."""
    loggers = [logging.getLogger(name) for name in ("torch", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices from inside torch.export, not about this call
            program = torch.onnx.export(
                wrapped,
                args,
                input_names=wrapped.keys,
                output_names=[OUTPUT_NAME],
                dynamic_shapes=_dynamic_shapes(wrapped.keys),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:  # torch.export raises many types; the message is what matters
        raise BundleError(f"torch could not export the network to ONNX: {type(exc).__name__}: {str(exc)[:500]}") from exc
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    return program


class OnnxPredictor(Predictor):
    """A :class:`Predictor` whose network runs in onnxruntime; the encoders are the bundle's.

    ``model`` is None: there is no torch network. Thread-safe: onnxruntime sessions may be run
    from several threads at once.
    """

    def __init__(self, path: Path, meta: dict[str, Any], session: Any, description: dict[str, Any]) -> None:
        super().__init__(BundleContents(path=path, meta=meta, model=None))  # type: ignore[arg-type]
        self.session = session
        self.onnx = description
        self.input_keys: list[str] = list(description["inputs"])
        spec = meta["model"]["spec"]
        self._pretrained = spec.get("kind") == "pretrained"
        self._token_width = 0 if self._pretrained else sum(int(t["dim"]) for t in spec.get("text", []))  # floats per token gathered

    def __repr__(self) -> str:
        return f"OnnxPredictor(task={self.task!r}, label={self.label!r}, inputs={len(self.input_columns)}, path='{self.path}')"

    def logits(self, x: EncodedTable) -> np.ndarray:
        """The network's raw outputs (B, out_dim) for encoded inputs, float32."""
        feeds = {}
        for key in self.input_keys:
            if key not in x:
                raise SchemaError(f"The encoded batch lacks '{key}'; the ONNX model reads {', '.join(self.input_keys)}.")
            feeds[key] = x[key].numpy() if isinstance(x[key], torch.Tensor) else np.asarray(x[key])
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def _rows_per_batch(self, x: EncodedTable, batch_size: int) -> int:
        tokens = max((v.shape[1] for k, v in x.items() if k.startswith("text:")), default=0)
        if not tokens or not self._token_width:
            return batch_size
        return max(1, min(batch_size, GATHER_BUDGET // (tokens * self._token_width)))

    def predict_raw(self, frame: pd.DataFrame, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Probabilities (N, C) for classification, values in label units (N,) for regression.

        Batched as the torch :class:`Predictor` batches: a table's rows are encoded with
        :meth:`TableEncoder.transform_batches` (text rows by length, each batch padded to its own
        longest text, not the table's), and the results go back to the rows' positions.
        """
        self._check_columns(frame)
        if not isinstance(self.encoder, TableEncoder):  # a pretrained tokenizer's: chunked by length in _pretrained_logits
            return self.finish(self.batched_logits(self.encoder.transform(frame, strict=True), batch_size=batch_size))
        logits = np.zeros((len(frame), self.meta["model"]["out_dim"]), dtype=np.float32)
        for rows, batch in self.encoder.transform_batches(frame, batch_size=batch_size, strict=True):
            logits[rows] = self.batched_logits(batch, batch_size=batch_size)  # (B, out_dim); split further by GATHER_BUDGET
        return self.finish(logits)

    def batched_logits(self, x: EncodedTable, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        if self._pretrained:
            return self._pretrained_logits(x)
        n = len(next(iter(x.values()))) if x else 0
        step = self._rows_per_batch(x, batch_size)
        outs = [self.logits({k: v[start : start + step] for k, v in x.items()}) for start in range(0, n, step)]
        return np.concatenate(outs) if outs else np.zeros((0, self.meta["model"]["out_dim"]), dtype=np.float32)

    def _pretrained_logits(self, x: EncodedTable) -> np.ndarray:
        """Rows sorted by text length, :data:`INFERENCE_CHUNK` at a time, each chunk's tokens cut to its longest text."""
        masks = [torch.as_tensor(v) for k, v in x.items() if k.startswith("attention_mask:")]
        n = int(masks[0].shape[0]) if masks else 0
        out = np.zeros((n, self.meta["model"]["out_dim"]), dtype=np.float32)
        lengths = torch.stack([m.sum(dim=1) for m in masks]).amax(dim=0) if masks else torch.zeros(0)  # (N,)
        for rows in torch.argsort(lengths, stable=True).split(INFERENCE_CHUNK):
            width = max(1, int(lengths[rows].max()))
            chunk = {k: torch.as_tensor(v)[rows] for k, v in x.items()}
            chunk.update({k: v[:, :width] for k, v in chunk.items() if k.startswith(TOKEN_KEYS)})  # (b, width)
            out[rows.numpy()] = self.logits(chunk)
        return out

    def finish(self, logits: np.ndarray) -> np.ndarray:
        """Logits to what :meth:`predict_raw` returns, exactly as the torch :class:`Predictor` does."""
        t = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
        if self.task == "regression":
            return np.asarray(self.codec.decode(t[:, 0].numpy()), dtype=np.float64)
        return torch.softmax(t, dim=1).numpy().astype(np.float64)


def load_onnx(directory: str | Path, *, threads: int | None = None) -> OnnxPredictor:
    """Load ``model.onnx`` + ``onnx.json`` + ``bundle.json`` from ``directory`` as an :class:`OnnxPredictor`."""
    ort = _onnxruntime()
    path = Path(directory)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise BundleError(f"Bundle {path} does not exist. Pass the folder that holds {ONNX_FILE} (see traincraft export).")
    if not (path / ONNX_FILE).exists() and (path / "bundle" / ONNX_FILE).exists():
        path = path / "bundle"  # a run directory was given
    missing = [name for name in (ONNX_FILE, ONNX_JSON, BUNDLE_JSON) if not (path / name).exists()]
    if missing:
        raise BundleError(
            f"{path} has no ONNX model ({', '.join(missing)} missing). Export it first: traincraft export {path} --format onnx"
        )
    description = _read_json(path / ONNX_JSON, "traincraft-onnx")
    meta = _read_json(path / BUNDLE_JSON, "traincraft-bundle")
    if meta.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path / BUNDLE_JSON} has format version {meta.get('format_version')}; this traincraft reads {BUNDLE_FORMAT_VERSION}."
        )
    if file_sha256(path / ONNX_FILE) != description.get("sha256"):
        raise BundleError(f"{path / ONNX_FILE} does not match the checksum in {ONNX_JSON}; it was changed or is corrupt. Export again.")
    if description.get("bundle_weights_sha256") != meta.get("weights_sha256"):
        raise BundleError(
            f"{path / ONNX_FILE} was exported from other weights than the ones {BUNDLE_JSON} describes "
            f"(the bundle was retrained after the export). Export again: traincraft export {path} --format onnx"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path / ONNX_FILE), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad file
        raise BundleError(f"onnxruntime could not load {path / ONNX_FILE}: {exc}") from None
    names = [i.name for i in session.get_inputs()]
    if names != list(description["inputs"]):
        raise BundleError(f"{path / ONNX_FILE} takes inputs {names}, but {ONNX_JSON} lists {description['inputs']}. Export again.")
    return OnnxPredictor(path, meta, session, description)


def _read_json(path: Path, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); export again.") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise BundleError(f"{path} is not a {kind} description (no \"format\": \"{kind}\").")
    return data

