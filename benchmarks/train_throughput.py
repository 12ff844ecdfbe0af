"""Training throughput: traincraft's Trainer against a bare PyTorch loop and a DataLoader loop.

A 64-256-256-10 MLP on a synthetic (rows x 64) float table with 10 classes, batch 256, AdamW,
``--epochs`` epochs per measurement. Measured in the same process, interleaved in a rotating order,
after a warm-up, with the same torch thread count for all; each number is the median of
``--repeats`` runs. Samples per CPU-second are printed beside the wall-clock rates: on a shared
machine other processes steal wall time unevenly (with one thread the two agree when idle).

(a) bare:       randperm + index slice of pre-built tensors, ``torch.optim.AdamW`` defaults
(a') bare+:     the same loop doing what the trainer does per step: fused AdamW, grad-norm clipping,
                 a learning rate set every step (so the trainer's own overhead is visible)
(b) traincraft: ``Trainer.fit`` with the default ``train`` settings (cosine schedule with warmup,
                 grad_clip 1.0, fused AdamW), no validation, no run_dir, progress off
(c) DataLoader: ``DataLoader(TensorDataset(X, y), batch_size=256, shuffle=True)``

Targets: traincraft >= 0.9x bare and >= 1.5x DataLoader. Run small with ``--rows 20000``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from traincraft._util.seed import set_threads, usable_cores
from traincraft.recipe import EarlyStoppingConfig, TrainConfig
from traincraft.training import Trainer

FEATURES = 64
CLASSES = 10
LR = 1e-3
WEIGHT_DECAY = 1e-4  # TrainConfig's default, used by every variant


class MLP(nn.Module):
    """64-256-256-10, reading the encoded ``dense`` block of a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(FEATURES, 256),
            nn.ReLU(),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, CLASSES),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["dense"])  # (B, 10)


def make_data(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, FEATURES, generator=gen)
    teacher = torch.randn(FEATURES, CLASSES, generator=gen)
    y = (x @ teacher + 0.5 * torch.randn(rows, CLASSES, generator=gen)).argmax(dim=1)
    return x, y


def fresh_model() -> MLP:
    torch.manual_seed(0)
    return MLP()


def bare_loop(x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, max_steps: int | None = None) -> None:
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    n = x.shape[0]
    steps = 0
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            out = model({"dense": x[idx]})
            loss = F.cross_entropy(out, y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return


def bare_plus_loop(
    x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, max_steps: int | None = None
) -> None:
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    params = list(model.parameters())
    n = x.shape[0]
    steps = 0
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            for group in optimizer.param_groups:
                group["lr"] = LR
            out = model({"dense": x.index_select(0, idx)})
            loss = F.cross_entropy(out, y.index_select(0, idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
            optimizer.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return


def dataloader_loop(
    x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, max_steps: int | None = None
) -> None:
    model = fresh_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    steps = 0
    for _ in range(epochs):
        for xb, yb in loader:
            out = model({"dense": xb})
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return


def traincraft_fit(threads: int) -> Callable[..., None]:
    def run(x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, max_steps: int | None = None) -> None:
        if max_steps is not None:  # warm-up: a short fit on the first rows
            rows = min(x.shape[0], max_steps * batch_size)
            x, y, epochs = x[:rows], y[:rows], 1
        config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=LR,
            threads=threads,
            early_stopping=EarlyStoppingConfig(enabled=False),
        )
        Trainer(fresh_model(), config, task="multiclass").fit({"dense": x}, y)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=usable_cores(), help="torch threads for every variant")
    parser.add_argument("--warmup-steps", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    threads = set_threads(args.threads)
    x, y = make_data(args.rows)
    variants: dict[str, Callable[..., None]] = {
        "bare": bare_loop,
        "bare+": bare_plus_loop,
        "traincraft": traincraft_fit(threads),
        "dataloader": dataloader_loop,
    }
    print(
        f"rows={args.rows:,} features={FEATURES} classes={CLASSES} batch={args.batch_size} epochs={args.epochs} "
        f"repeats={args.repeats} threads={threads} torch={torch.__version__}"
    )
    for fn in variants.values():
        fn(x, y, 1, args.batch_size, max_steps=args.warmup_steps)

    samples = args.rows * args.epochs
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(args.repeats):
        # interleaved, in a rotating order, so background load hits every variant alike
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            fn = variants[name]
            started, started_cpu = time.perf_counter(), time.process_time()
            fn(x, y, args.epochs, args.batch_size)
            wall[name].append(samples / (time.perf_counter() - started))
            cpu[name].append(samples / (time.process_time() - started_cpu))

    median = {name: statistics.median(r) for name, r in wall.items()}
    median_cpu = {name: statistics.median(r) for name, r in cpu.items()}
    print(f"{'variant':<12} {'samples/s':>10} {'per CPU-s':>10}   wall-clock runs")
    for name, runs in wall.items():
        print(f"{name:<12} {median[name]:>10,.0f} {median_cpu[name]:>10,.0f}   {', '.join(f'{v:,.0f}' for v in runs)}")
    for label, m in (("wall", median), ("CPU", median_cpu)):
        vs_bare = m["traincraft"] / m["bare"]
        vs_loader = m["traincraft"] / m["dataloader"]
        vs_plus = m["traincraft"] / m["bare+"]
        print(
            f"[{label:>4}] traincraft / bare = {vs_bare:.2f}x ({'met' if vs_bare >= 0.9 else 'MISSED'} >= 0.9x), "
            f"/ DataLoader = {vs_loader:.2f}x ({'met' if vs_loader >= 1.5 else 'MISSED'} >= 1.5x), "
            f"/ bare+ = {vs_plus:.2f}x (the trainer's own overhead)"
        )


if __name__ == "__main__":
    main()
