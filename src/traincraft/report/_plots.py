"""The report's figures: matplotlib on the Agg backend, each returned as a base64 PNG for an
inline ``<img src="data:image/png;base64,...">`` (the report loads nothing from anywhere)."""

from __future__ import annotations

import base64
import io
import math
from typing import Any, Sequence

from traincraft.errors import MissingDependencyError

__all__ = [
    "learning_curves_png",
    "reliability_png",
    "confusion_png",
    "residuals_png",
    "data_curve_png",
    "fairness_png",
    "mitigation_png",
    "reward_curves_png",
    "silhouette_png",
    "score_histogram_png",
]

DPI = 110  # sharp on a laptop screen, ~30-60 kB per figure
BLUE, ORANGE, GREEN, GREY, RED = "#3366aa", "#dd7733", "#44aa66", "#888888", "#cc3333"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("matplotlib", "report", "The report's figures") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan for v in values]


def learning_curves_png(history: list[dict[str, Any]], *, metric: str | None, from_epoch: int | None, best_epoch: int | None) -> str:
    """Training and validation loss per epoch (left) and the validation metric (right)."""
    plt = _pyplot()
    epochs = [r.get("epoch") for r in history]
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(9 if metric else 5, 3.2), squeeze=False)
    ax = axes[0][0]
    ax.plot(epochs, _finite([r.get("train/loss") for r in history]), color=BLUE, marker=".", label="train loss")
    ax.plot(epochs, _finite([r.get("val/loss") for r in history]), color=ORANGE, marker=".", label="validation loss")
    if from_epoch is not None:
        ax.axvline(from_epoch, color=RED, linestyle="--", linewidth=1, label=f"overfitting from epoch {from_epoch}")
    if best_epoch is not None:
        ax.axvline(best_epoch, color=GREEN, linestyle=":", linewidth=1, label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if metric:
        ax2 = axes[0][1]
        ax2.plot(epochs, _finite([r.get(f"val/{metric}") for r in history]), color=ORANGE, marker=".")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel(f"validation {metric}")
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def reliability_png(calibration: dict[str, Any]) -> str:
    """Reliability diagram: mean predicted probability against observed frequency per bin."""
    plt = _pyplot()
    bins = calibration["bins"]
    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="perfectly calibrated")
    ax.plot([b["mean_predicted"] for b in bins], [b["observed"] for b in bins], color=BLUE, marker="o", label="model")
    for b in bins:
        ax.annotate(str(b["rows"]), (b["mean_predicted"], b["observed"]), fontsize=6, color=GREY, xytext=(3, -8), textcoords="offset points")
    positive = calibration["kind"] == "positive"
    ax.set_xlabel("predicted probability of the positive class" if positive else "confidence (top-label probability)")
    ax.set_ylabel("observed positive frequency" if positive else "accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def confusion_png(matrix: list[list[int]], classes: Sequence[Any]) -> str:
    """Confusion matrix as a heat map, counts written in the cells (rows: true class)."""
    plt = _pyplot()
    k = len(classes)
    size = min(7.0, 2.0 + 0.45 * k)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(matrix, cmap="Blues")
    top = max(max(row) for row in matrix) if matrix else 0
    for i in range(k):
        for j in range(k):
            value = matrix[i][j]
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7 if k > 8 else 9, color="white" if value > top / 2 else "black")
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right" if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _png(fig)


def residuals_png(residuals: dict[str, Any]) -> str:
    """Residual (true - predicted) against the prediction."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.scatter(residuals["predicted"], residuals["residual"], s=6, alpha=0.5, color=BLUE)
    ax.axhline(0, color=GREY, linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (true - predicted)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def data_curve_png(curve: dict[str, Any]) -> str:
    """Validation metric against training rows (log axis), the power-law fit and its 2x extrapolation."""
    plt = _pyplot()
    import numpy as np

    fit = curve.get("fit") or {}
    points = curve["points"]
    rows = [p["train_rows"] for p in points]
    values = [p["metric"] for p in points]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(rows, values, "o", color=BLUE, label="measured (validation)")
    if fit.get("ok"):
        grid = np.geomspace(min(rows), fit["rows_2x"], 60)
        err = fit["a"] * grid ** (-fit["b"])
        fitted = 1 - err if fit["error"] == "1 - metric" else err
        ax.plot(grid, fitted, color=ORANGE, label=f"power law, b = {fit['b']:.2f}")
        sign = 1.0 if fit["error"] == "1 - metric" else -1.0  # gain is "better", metric may be lower-is-better
        at_full = fit["predicted_2x"] - sign * fit["gain_2x"]
        ends = sorted(at_full + sign * g for g in fit["gain_2x_interval"])
        yerr = [[max(0.0, fit["predicted_2x"] - ends[0])], [max(0.0, ends[1] - fit["predicted_2x"])]]
        ax.errorbar([fit["rows_2x"]], [fit["predicted_2x"]], yerr=yerr, fmt="s", color=RED, capsize=4, label="2x data (95% interval)")
        ax.axhline(at_full, color=GREY, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("training rows")
    ax.set_ylabel(f"validation {curve.get('metric', 'metric')}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return _png(fig)


def fairness_png(attribute: str, groups: list[dict[str, Any]]) -> str:
    """Selection rate, TPR and FPR per group (binary tasks), small groups hatched."""
    plt = _pyplot()
    import numpy as np

    shown = groups[:12]
    names = [g["group"] for g in shown]
    x = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(shown) + 2), 3.4))
    for offset, (key, color) in zip((-0.27, 0.0, 0.27), (("selection_rate", BLUE), ("tpr", GREEN), ("fpr", ORANGE))):
        bars = ax.bar(x + offset, _finite([g.get(key) for g in shown]), width=0.26, color=color, label=key.replace("_", " ").upper() if key != "selection_rate" else "selection rate")
        for bar, g in zip(bars, shown):
            if g["small"]:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
    ax.set_xticks(x, names, rotation=30 if max(map(len, names)) > 6 else 0, ha="right" if max(map(len, names)) > 6 else "center", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(attribute, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _png(fig)


def mitigation_png(mitigation: dict[str, Any]) -> str:
    """Selection rate per group on the test split before and after per-group thresholds."""
    plt = _pyplot()
    import numpy as np

    before, after = mitigation["test_before"]["groups"], mitigation["test_after"]["groups"]
    names = list(before)[:12]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.8 * len(names) + 2), 3.2))
    key = "selection_rate" if mitigation["target_is"] == "selection_rate" else "tpr"
    ax.bar(x - 0.2, _finite([before[n][key] for n in names]), width=0.4, color=GREY, label="one threshold (0.5)")
    ax.bar(x + 0.2, _finite([after[n][key] for n in names]), width=0.4, color=BLUE, label="per-group thresholds")
    ax.axhline(mitigation["target"], color=RED, linestyle="--", linewidth=1, label="target (validation)")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("selection rate" if key == "selection_rate" else "true-positive rate")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _png(fig)


def reward_curves_png(curve: list[dict[str, Any]], *, evaluation: dict[str, Any] | None) -> str:
    """Mean return of the episodes finished in each iteration against environment steps, the evaluations during
    training, and the final evaluation's mean ± std."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    training = [r for r in curve if "rl/episode_return" in r]
    ax.plot([r["rl/steps"] for r in training], _finite([r["rl/episode_return"] for r in training]),
            color=BLUE, linewidth=1.2, label="training episodes (mean per iteration)")
    evals = [r for r in curve if "rl/eval_return" in r]
    if evals:
        ax.plot([r["rl/steps"] for r in evals], _finite([r["rl/eval_return"] for r in evals]),
                color=ORANGE, marker="o", linestyle="--", label="evaluation (deterministic)")
    if evaluation and evaluation.get("eval_return_mean") is not None:
        steps = evaluation.get("env_steps") or (curve[-1]["rl/steps"] if curve else 0)
        ax.errorbar([steps], [evaluation["eval_return_mean"]], yerr=[evaluation.get("eval_return_std") or 0.0], color=GREEN,
                    marker="s", capsize=4, label=f"final: {evaluation['eval_return_mean']:.1f} over {evaluation.get('eval_episodes')} episodes")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def silhouette_png(scores: list[dict[str, Any]], *, chosen: int) -> str:
    """Silhouette score per k tried, the chosen k marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ks = [s["k"] for s in scores]
    ax.plot(ks, _finite([s.get("silhouette") for s in scores]), color=BLUE, marker="o")
    ax.axvline(chosen, color=RED, linestyle="--", linewidth=1, label=f"chosen k = {chosen}")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("silhouette")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def score_histogram_png(histogram: dict[str, Any], *, threshold: float) -> str:
    """Rows per anomaly score (log10 bins), the threshold marked; bars above it in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges, counts = histogram["edges"], histogram["counts"]
    cut = math.log10(threshold) if threshold > 0 else -math.inf
    for left, right, count in zip(edges[:-1], edges[1:], counts):
        ax.bar(10 ** left, count, width=10 ** right - 10 ** left, align="edge", color=RED if left >= cut else BLUE, alpha=0.8)
    ax.axvline(threshold, color=RED, linestyle="--", linewidth=1, label=f"threshold {threshold:.4g}")
    ax.set_xscale("log")
    ax.set_xlabel("anomaly score (reconstruction error)")
    ax.set_ylabel("rows")
    ax.legend(fontsize=8)
    return _png(fig)
