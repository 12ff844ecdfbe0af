"""The encoders and the network together learn a small mixed table (a smoke test of the whole path)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from traincraft.features import LabelCodec, TableEncoder
from traincraft.models import build_model
from traincraft.recipe import ModelConfig


def test_learns_the_small_table(small_table):
    types = {"x": "numeric", "colour": "categorical", "flag": "boolean", "review": "text", "when": "datetime"}
    schema = SimpleNamespace(
        columns=[SimpleNamespace(name=n, type=t, role="feature") for n, t in types.items()],
        label="label",
        task="binary",
    )
    config = ModelConfig.model_validate({"hidden": [32], "text": {"buckets": 4096, "embedding_dim": 8}})
    train, test = small_table.iloc[:150], small_table.iloc[150:]
    encoder = TableEncoder.fit(train, schema, config)
    codec = LabelCodec.fit(train["label"], "binary")
    x, y = encoder.transform(train), codec.encode(train["label"])
    torch.manual_seed(0)
    model = build_model(encoder.model_spec(), config.model_dump(), codec.out_dim)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        predicted = model(encoder.transform(test)).argmax(dim=1)
    accuracy = (predicted == codec.encode(test["label"])).float().mean().item()
    assert accuracy >= 0.85
