"""Data-parallel training throughput: one process against N processes (DDP via torchrun) on this machine.

The same 64-256-256-10 MLP, synthetic 64-feature table and settings as ``train_throughput.py``
(batch 256, AdamW, default schedule), trained by traincraft's ``Trainer`` for ``--epochs``
epochs: once as a single process with ``--threads`` threads (default: all usable cores), and once
as ``--processes`` processes under torchrun with cores/processes threads each. Throughput is rank
0's training rows per second of step time (validation excluded), the median over epochs after the
first. On a CPU-only machine DDP splits the cores between processes and adds gloo's all-reduce to
every step, so expect less than 1x (0.23x measured on 2 cores at batch 256; see RESULTS.md): its
use is GPUs (one process each) and several machines; this benchmark shows what the gradient
all-reduce costs when it is not hidden behind GPU compute.

    python benchmarks/ddp_throughput.py --rows 100000 --processes 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

FEATURES, CLASSES = 64, 10


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(FEATURES, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["dense"])


def job(rows: int, epochs: int) -> None:
    """One measurement: this process alone, or the ranks of a torchrun launch."""
    from traincraft.recipe import EarlyStoppingConfig, TrainConfig
    from traincraft.training import distributed, workers
    from traincraft.training.trainer import Trainer

    group = distributed.init_from_env()
    if group is not None and not group.is_main:
        workers.serve()
        return
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(rows, FEATURES, generator=gen)
        y = (x[:, :CLASSES] + 0.5 * torch.randn(rows, CLASSES, generator=gen)).argmax(dim=1)
        torch.manual_seed(0)
        config = TrainConfig(epochs=epochs, batch_size=256, lr=1e-3, early_stopping=EarlyStoppingConfig(enabled=False))
        started = time.perf_counter()
        fit = Trainer(MLP(), config, task="multiclass", seed=0).fit({"dense": x}, y)
        rates = [h["perf/samples_per_s"] for h in fit.history[1:]] or [fit.samples_per_s]
        print(json.dumps({"samples_per_s": statistics.median(rates), "wall_s": time.perf_counter() - started,
                          "threads": torch.get_num_threads(), "final_loss": fit.history[-1]["train/loss"]}))
    finally:
        distributed.finish()


def measure(processes: int, rows: int, epochs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "OMP_NUM_THREADS")}
    cmd = [sys.executable]
    if processes > 1:
        cmd += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    cmd += [__file__, "--job", "--rows", str(rows), "--epochs", str(epochs)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        job(args.rows, args.epochs)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    one = measure(1, args.rows, args.epochs)
    many = measure(args.processes, args.rows, args.epochs)
    print(f"1 process ({one['threads']} threads):      {one['samples_per_s']:>10,.0f} samples/s  final loss {one['final_loss']:.4f}")
    print(f"{args.processes} processes ({many['threads']} thread(s) each): {many['samples_per_s']:>10,.0f} samples/s  final loss {many['final_loss']:.4f}")
    print(f"ratio {many['samples_per_s'] / one['samples_per_s']:.2f}x   load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
