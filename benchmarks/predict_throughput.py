"""In-process batch prediction: ``Predictor.predict(df)`` (checks, encoding, forward, decoding into a
DataFrame) against a raw torch forward over tensors encoded beforehand.

(a) raw torch:   ``model(x[i:i+4096])`` under ``torch.inference_mode`` over the pre-encoded table,
                 ``x = encoder.transform(df)`` (text padded to the table's longest), in 4096-row
                 batches; nothing else
(a') raw torch, same batches: for text bundles, a forward over exactly the tensors the Predictor
                 builds (rows ordered by n-gram count, each batch padded to its own longest text),
                 encoded beforehand: the floor for the Predictor's own batching, so (b)/(a') is
                 what encoding and decoding cost
(b) traincraft:  ``predictor.predict(df)``: column checks, ``TableEncoder.transform`` from the raw
                 DataFrame, the batched forward, softmax, labels and a ``proba_<class>`` frame
(c) onnx:        (b) with ``runtime="onnx"`` (the network in onnxruntime), when ``--onnx`` is given

Data: breast cancer's 569 real rows (30 numeric columns), tiled to ``--rows`` rows with 1% noise;
the bundle is examples/tabular/recipe.yaml trained here for a few epochs unless ``--bundle`` is
given. ``--text-bundle`` adds the same comparison for a text bundle (e.g. SMS spam) on its own
data file, tiled to ``--text-rows`` rows (so each text appears about 4 times, and the encoder,
which encodes each distinct text of a call once, profits), and again on the file's distinct
texts, each once, where that cannot help. Each number is the median of ``--repeats`` runs,
interleaved, after a warm-up, with ``--threads`` torch threads; rows per CPU-second are printed beside rows per second, because on a
shared machine other processes steal wall time unevenly.

Target: (b) >= 0.8x (a) in rows per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
BATCH = 4096  # the Predictor's default rows per forward pass


def tabular_rows(rows: int) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    base = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    reps = -(-rows // len(base))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[:rows]
    noise = np.random.default_rng(0).normal(1.0, 0.01, size=frame.shape)
    return frame * noise


def text_rows(path: str, rows: int | None) -> pd.DataFrame:
    """The file's texts tiled to ``rows`` (each of the 4,862 SMS about 4 times at 20k rows), or,
    with ``rows=None``, each distinct text once (4,534 rows, no repeats)."""
    from traincraft.data import read_table

    base = read_table(path, delimiter="\t", header=False, names=["label", "text"])[["text"]]
    if rows is None:
        return base.drop_duplicates(ignore_index=True)
    reps = -(-rows // len(base))
    return pd.concat([base] * reps, ignore_index=True).iloc[:rows]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(name: str, bundle: str, frame: pd.DataFrame, repeats: int, onnx: bool) -> float:
    import traincraft as tc

    predictor = tc.load(bundle)
    x = predictor.encoder.transform(frame)
    n = len(frame)

    def raw() -> None:
        with torch.inference_mode():
            for start in range(0, n, BATCH):
                predictor.model({k: v[start : start + BATCH] for k, v in x.items()})

    variants: dict[str, Callable[[], object]] = {"raw torch": raw}
    if any(k.startswith("text:") for k in x):
        same = list(predictor.encoder.transform_batches(frame, batch_size=BATCH))

        def raw_same() -> None:
            with torch.inference_mode():
                for _, batch in same:
                    predictor.model(batch)

        variants["raw, same batches"] = raw_same
    variants["traincraft"] = lambda: predictor.predict(frame)
    if onnx:
        from traincraft.serving.onnx_export import export_onnx

        from traincraft.serving.onnx_export import load_onnx

        with tempfile.TemporaryDirectory() as tmp:
            export_onnx(bundle, tmp)
            onnx_predictor = load_onnx(tmp, threads=torch.get_num_threads())  # as many threads as torch
        variants["traincraft onnx"] = lambda: onnx_predictor.predict(frame)
    for fn in variants.values():
        fn()  # warm-up
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(repeats):
        for key in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            results[key].append(timed(variants[key]))
    print(f"\n{name}: {n:,} rows, {predictor.task}, bundle {bundle}")
    print(f"{'variant':<18}{'rows/s':>12}{'rows/CPU-s':>14}   runs (s)")
    rates = {}
    for key in names:
        wall = statistics.median(w for w, _ in results[key])
        cpu = statistics.median(c for _, c in results[key])
        rates[key] = (n / wall, n / cpu)
        runs = ", ".join(f"{w:.2f}" for w, _ in results[key])
        print(f"{key:<18}{n / wall:>12,.0f}{n / cpu:>14,.0f}   {runs}")
    ratio = rates["traincraft"][0] / rates["raw torch"][0]
    ratio_cpu = rates["traincraft"][1] / rates["raw torch"][1]
    print(f"traincraft / raw torch: {ratio:.2f}x rows/s, {ratio_cpu:.2f}x rows/CPU-s (target >= 0.8x): {'PASS' if ratio >= 0.8 else 'FAIL'}")
    if "raw, same batches" in rates:
        same_ratio = rates["traincraft"][0] / rates["raw, same batches"][0]
        print(f"traincraft / raw torch over the same batches: {same_ratio:.2f}x rows/s, {rates['traincraft'][1] / rates['raw, same batches'][1]:.2f}x rows/CPU-s")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", help="a bundle trained on breast cancer (default: train one here)")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--onnx", action="store_true", help="also time the ONNX runtime")
    parser.add_argument("--text-bundle", help="also compare a text bundle (SMS spam) ...")
    parser.add_argument("--text-data", help="... on this tab-separated label/text file (the spam collection)")
    parser.add_argument("--text-rows", type=int, default=20_000)
    args = parser.parse_args()

    from traincraft._util.seed import set_threads

    set_threads(args.threads)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, torch threads {args.threads}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="predict-throughput-") as tmp:
        bundle = args.bundle
        if bundle is None:
            import traincraft as tc

            bundle = str(tc.train(ROOT / "examples" / "tabular" / "recipe.yaml", recipe={"train": {"epochs": 5}}, runs_dir=tmp).bundle_dir)
            set_threads(args.threads)  # training set its own thread count
        compare("tabular (breast cancer, 30 numeric)", bundle, tabular_rows(args.rows), args.repeats, args.onnx)
        if args.text_bundle:
            if not args.text_data:
                raise SystemExit("--text-bundle needs --text-data (the spam collection file)")
            compare("text (SMS spam, hashed n-grams; the file tiled)", args.text_bundle, text_rows(args.text_data, args.text_rows), args.repeats, args.onnx)
            compare("text, distinct texts only (no row repeated)", args.text_bundle, text_rows(args.text_data, None), args.repeats, args.onnx)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
