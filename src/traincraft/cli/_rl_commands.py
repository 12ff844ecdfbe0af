"""The reinforcement-learning command ``play``, and how ``train`` shows cluster, anomaly and rl runs.

``register(app)`` adds ``play`` to the main typer app; ``render_summary(summary)`` prints the
``run.summary()`` of a ``task: cluster | anomaly | rl`` run (``train`` calls it for those tasks). Like every command it takes ``--json`` and then
prints exactly one JSON object on stdout; errors are TraincraftError subclasses, which
``traincraft.cli.main`` turns into a message and exit code 2. Training an RL policy is
``traincraft train recipe.yaml`` with ``task: rl`` in the recipe.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["register", "render_summary"]

out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object with the result on stdout.")]


def _emit(result: dict[str, Any], as_json: bool, render) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        sys.stdout.flush()
    else:
        render(result)


def play(
    bundle: Annotated[Path, typer.Argument(help="Policy bundle (runs/<name>/bundle of a task: rl run).")],
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to play.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the episodes (apart from the training episodes').")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Run a trained policy for EPISODES episodes (deterministic actions) and report the returns."""
    from traincraft.api.rl import play as run_play

    result = run_play(bundle, episodes=episodes, seed=seed)

    def render(r: dict) -> None:
        out.print(f"[bold]{r['algorithm'].upper()}[/] policy on {r['env']}: {r['episodes']} episodes (seed {r['seed']})")
        out.print(f"  return {r['mean']:.2f} ± {r['std']:.2f}  (min {r['min']:.2f}, max {r['max']:.2f})")
        shown = ", ".join(f"{v:g}" for v in r["returns"][:20])
        out.print(f"  returns: {shown}{' ...' if len(r['returns']) > 20 else ''}")

    _emit(result, as_json, render)


def _metrics_line(metrics: dict[str, Any]) -> str:
    shown = []
    for key, value in metrics.items():
        if isinstance(value, float):
            shown.append(f"{key} {value:.4f}")
        elif value is not None:
            shown.append(f"{key} {value}")
    return ", ".join(shown)


def render_summary(r: dict[str, Any]) -> None:
    """Print the summary of a cluster, anomaly or rl run (what ``train`` shows for those tasks)."""
    task = r.get("task")
    if task == "rl":
        m = r["metrics"]
        out.print(f"[bold]run[/] {r['run_dir']}  ({r['algorithm'].upper()} on {r['env']}, {r['env_steps']:,} steps, {r['seconds']:.1f} s)")
        out.print(f"  evaluation: return {m['eval_return_mean']:.2f} ± {m['eval_return_std']:.2f} over {m['eval_episodes']} episodes")
        out.print(f"bundle: {r['bundle']}   try: traincraft play {r['bundle']} --episodes 10")
    elif task == "cluster":
        out.print(f"[bold]run[/] {r['run_dir']}  (k = {r['k']}, {r['seconds']:.1f} s)")
        out.print(f"  cluster sizes: {', '.join(str(s) for s in r['sizes'])}")
        out.print(f"  {_metrics_line(r['metrics'])}")
        out.print(f"bundle: {r['bundle']}")
    else:
        out.print(f"[bold]run[/] {r['run_dir']}  (anomaly, {r['epochs']} epochs, best {r['best_epoch']}, {r['seconds']:.1f} s)")
        out.print(f"  threshold {r['threshold']:.4g} flags {r['flagged']} rows; most anomalous: {', '.join(map(str, r['top_rows']))}")
        out.print(f"  {_metrics_line(r['metrics'])}")
        out.print(f"bundle: {r['bundle']}")
    report = Path(r["run_dir"]) / "report.html"
    if report.exists():
        out.print(f"report: {report}")


def register(app: typer.Typer) -> None:
    """Add ``play`` to ``app``."""
    app.command("play")(play)
