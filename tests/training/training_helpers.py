"""Tiny models, data and configs shared by the training tests and the resume child script."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from traincraft.recipe import EarlyStoppingConfig, TrainConfig


class TinyNet(nn.Module):
    """dense (N, D) + categorical (N, 1) -> (N, out); dropout makes the global RNG matter."""

    def __init__(self, features: int = 8, out: int = 3, categories: int = 5, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(categories, 4)
        self.body = nn.Sequential(nn.Linear(features + 4, hidden), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(hidden, out)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        e = self.embed(batch["categorical"][:, 0])  # (B, 4)
        h = self.body(torch.cat([batch["dense"], e], dim=1))  # (B, hidden)
        return self.head(h)  # (B, out)


def make_net(seed: int = 0, **kwargs: Any) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kwargs)


def classification_data(
    n: int = 240, features: int = 8, classes: int = 3, seed: int = 0
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(n, features, generator=gen)
    cat = torch.randint(0, 5, (n, 1), generator=gen)
    teacher = torch.randn(features, classes, generator=gen)
    y = (dense @ teacher + 0.3 * torch.randn(n, classes, generator=gen)).argmax(dim=1)
    return {"dense": dense, "categorical": cat}, y


def regression_data(n: int = 240, features: int = 8, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(n, features, generator=gen)
    cat = torch.randint(0, 5, (n, 1), generator=gen)
    y = dense[:, 0] * 2.0 - dense[:, 1] + 0.1 * torch.randn(n, generator=gen)
    return {"dense": dense, "categorical": cat}, y.float()


def split(x: dict[str, torch.Tensor], y: torch.Tensor, n_train: int):
    train = {k: v[:n_train] for k, v in x.items()}
    val = {k: v[n_train:] for k, v in x.items()}
    return train, y[:n_train], val, y[n_train:]


def accuracy(out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((out.argmax(dim=1) == y).float().mean())}


def config(**overrides: Any) -> TrainConfig:
    """A fast config: few epochs, small batches, one thread, early stopping off unless asked."""
    values: dict[str, Any] = {
        "epochs": 3,
        "batch_size": 32,
        "lr": 0.01,
        "threads": 1,
        "early_stopping": EarlyStoppingConfig(enabled=False),
    }
    values.update(overrides)
    return TrainConfig(**values)


def without_perf(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if not k.startswith("perf/")} for h in history]


def same_weights(a: nn.Module | dict[str, torch.Tensor], b: nn.Module | dict[str, torch.Tensor]) -> bool:
    sa = a.state_dict() if isinstance(a, nn.Module) else a
    sb = b.state_dict() if isinstance(b, nn.Module) else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
