"""Fine-tuning: adapting a pretrained encoder or an earlier bundle's model to a new task or new data.

    head_cache.py   tune: head — the frozen encoder's outputs, computed once and cached (safetensors)
    merge.py        export --merge — a LoRA bundle rewritten with the adapters folded into full weights
    new_labels.py   continued training — label values a bundle never saw: refused, or added to the head

The network itself (a Hugging Face encoder with LoRA through peft, pooling and a head) is
:class:`traincraft.models.PretrainedTextNet`, or :class:`traincraft.models.PretrainedImageNet` for a
vision model, so that serving rebuilds it from a bundle without this package; the tokenizer (or
image processor) is :class:`traincraft.features.pretrained_text.PretrainedTableEncoder`.
``transformers`` and ``peft`` (the ``finetune`` extra) are imported only when a network is built.
"""

from traincraft.finetune.head_cache import encoder_outputs, head_cache_dir, head_inputs
from traincraft.finetune.merge import merge_bundle
from traincraft.finetune.new_labels import extend_labels, grow_head, unseen_labels

__all__ = [
    "encoder_outputs",
    "extend_labels",
    "grow_head",
    "head_cache_dir",
    "head_inputs",
    "merge_bundle",
    "unseen_labels",
]
