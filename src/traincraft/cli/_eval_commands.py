"""The evaluation commands: ``report``, ``curve``, ``runs`` and ``runs compare``.

``register(app)`` adds them to the main typer app (see :mod:`traincraft.cli._app`); like every
command they take ``--json`` and print exactly one JSON object on stdout when it is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from traincraft.cli._app import JsonOpt, _emit, err, out

__all__ = ["register"]

RunsDirOpt = Annotated[Path, typer.Option(help="Folder that holds run directories.")]


def _fmt(value) -> str:
    return "—" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


# The metrics `traincraft runs` shows per task, in order; a run lacking one shows the others.
_HEADLINE = {
    "binary": ("accuracy", "positive_f1", "roc_auc"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
    "cluster": ("k", "silhouette", "adjusted_rand"),
    "anomaly": ("flagged", "roc_auc", "average_precision"),
    "rl": ("eval_return_mean", "env_steps"),
}
HEADLINE_FALLBACK = 3  # metrics shown for a task not in _HEADLINE


def _headline(task: str | None, metrics: dict) -> list[tuple[str, object]]:
    keys = [k for k in _HEADLINE.get(task or "", ()) if k in metrics]
    if not keys:
        keys = [k for k, v in metrics.items() if isinstance(v, (int, float))][:HEADLINE_FALLBACK]
    return [(k, metrics[k]) for k in keys]


def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (runs/<name>).")],
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when a check fails (fairness limits in the recipe).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild RUN_DIR's model card: report.html (self-contained) and card.json."""
    from traincraft.api.report import report as build

    result = build(run_dir)

    def render(r: dict) -> None:
        out.print(f"wrote {r['report']} and {r['card']}")
        if r["verdict"] != "not_applicable":
            out.print(f"  learning curves: [bold]{r['verdict'].replace('_', ' ')}[/] — {r['verdict_summary']}")
        where = "" if r.get("task") in ("cluster", "anomaly", "rl") else "test "  # those tasks have no test split
        for row in r["headline"]:
            interval = f" (95% {row['low']:.4f}–{row['high']:.4f})" if row["low"] is not None else ""
            out.print(f"  {where}{row['metric']}: {_fmt(row['value'])}{interval}")
        for c in r["failed_checks"]:
            out.print(f"  [bold red]check failed[/]: {c['attribute']} {c['measure']} = {c['value']:.4f} (limit {c['limit']})")

    _emit(result, as_json, render)
    if strict and result["failed_checks"]:
        err.print(f"{len(result['failed_checks'])} check(s) failed (--strict).")
        raise typer.Exit(1)


def curve(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML), or a data file together with --label.")],
    label: Annotated[Optional[str], typer.Option(help="Label column (overrides the recipe's).")] = None,
    fractions: Annotated[Optional[str], typer.Option(help="Comma-separated shares of the training split, e.g. 0.1,0.2,0.4,0.7,1.")] = None,
    metric: Annotated[Optional[str], typer.Option(help="Validation metric to plot (default accuracy, or rmse for regression).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name of the curve folder (runs/<name>-curve).")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """Train on 10/20/40/70/100% of the training split (same validation and test); fit a power law;
    estimate the gain from twice the data."""
    from traincraft.api.curve import curve as run_curve
    from traincraft.errors import RecipeError

    shares = None
    if fractions:
        try:
            shares = [float(x) for x in fractions.split(",") if x.strip()]
        except ValueError:
            raise RecipeError(f"--fractions takes comma-separated numbers in (0, 1], e.g. 0.1,0.2,0.4,0.7,1; got '{fractions}'.") from None
    result = run_curve(recipe, label=label, fractions=shares, metric=metric, name=name, runs_dir=runs_dir, progress="auto")

    def render(r: dict) -> None:
        table = Table(title=f"validation {r['metric']} against training rows", header_style="bold")
        for col in ("share", "train rows", f"val {r['metric']}", f"test {r['metric']}"):
            table.add_column(col, justify="right")
        for p in r["points"]:
            table.add_row(f"{p['fraction']:.0%}", str(p["train_rows"]), _fmt(p["metric"]), _fmt(p["test_metric"]))
        out.print(table)
        fit = r["fit"]
        out.print(fit.get("verdict") or fit.get("reason"))
        out.print(f"curve: {r['curve_dir']}" + (f"; report: {r['report']}" if r.get("report") else ""))

    _emit(result, as_json, render)


def _setting(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"  # learning rates span orders of magnitude
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)  # [256,256]


def search(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML) with a search: section.")],
    trials: Annotated[Optional[int], typer.Option(help="Random trials (overrides search.trials).")] = None,
    final: Annotated[Optional[bool], typer.Option("--final/--no-final", help="Train the best setting once more and read the test split (default: search.final).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the search in this folder (runs/<name>-search).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name of the search folder (runs/<name>-search).")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
) -> None:
    """Try the settings of the recipe's search.space, rank them on the validation split, and train the
    best once more as the run that reads the test split."""
    from traincraft.api.search import search as run_search

    result = run_search(recipe, trials=trials, final=final, resume=resume, name=name, runs_dir=runs_dir, progress="auto")

    def render(r: dict) -> None:
        arrow = "higher" if r["mode"] == "max" else "lower"
        over = f"mean validation {r['metric']} over {r['folds']} folds" if r.get("folds") else f"validation {r['metric']}"
        table = Table(title=f"{len(r['trials'])} trials, best first by {over} ({arrow} is better)", header_style="bold")
        paths = r["space"]
        short = [p.rsplit(".", 1)[-1] for p in paths]
        headers = short if len(set(short)) == len(short) else paths  # `lr`, `dropout`, ... unless two share a name
        table.add_column("trial", justify="right", no_wrap=True)
        for header in headers:
            table.add_column(header, no_wrap=True)
        table.add_column(r["metric"], justify="right", no_wrap=True)
        table.add_column("epochs", justify="right", no_wrap=True)
        rank = {t: i + 1 for i, t in enumerate(r["ranking"])}
        for t in sorted(r["trials"], key=lambda t: rank.get(t["trial"], len(rank) + 1)):  # best first
            values = [_setting(t["values"][p]) for p in paths]
            trial = f"{t['trial']}*" if not t["settings"] else str(t["trial"])
            if t["status"] != "finished":
                table.add_row(trial, *values, "[red]failed[/]", "—")
                continue
            score = _fmt(t["value"]) + (f" ±{t['std']:.3f}" if t.get("std") is not None else "")  # ± the spread over folds
            table.add_row(trial, *values, score, f"{t['epochs']:.0f}")
        if any(not t["settings"] for t in r["trials"]):
            table.caption = "* the recipe's own settings"
        out.print(table)
        seconds = sum(t.get("seconds", 0) for t in r["trials"])
        out.print(f"best: trial {r['best']['trial']}; its recipe: {r['best_recipe']}  (trials took {seconds:.0f} s)")
        final_run = r.get("final")
        if final_run:
            shown = [r["metric"]] + [m for m in ("accuracy", "rmse") if m != r["metric"] and m in final_run["test"]]
            test = ", ".join(f"{m} {_fmt(final_run['test'].get(m))}" for m in shown)
            out.print(f"final run {final_run['run_dir']}: validation {r['metric']} {_fmt(final_run['validation'].get(r['metric']))}; "
                      f"test (read once) {test}")
            out.print(f"bundle: {final_run['bundle']}")

    _emit(result, as_json, render)


runs_app = typer.Typer(help="List runs with their headline metrics, or compare two.", no_args_is_help=False)


@runs_app.callback(invoke_without_command=True)
def runs(ctx: typer.Context, runs_dir: RunsDirOpt = Path("runs"), as_json: JsonOpt = False) -> None:
    """List the runs under --runs-dir, newest first, with their test metrics."""
    if ctx.invoked_subcommand is not None:
        return
    from traincraft.api.runs import list_runs

    found = list_runs(runs_dir)

    def render(rows: dict) -> None:
        table = Table(title=f"runs in {runs_dir}, newest first", header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("task")
        table.add_column("epochs", justify="right")
        table.add_column("headline metrics", ratio=1, overflow="fold")
        for r in rows["runs"]:
            shown = _headline(r["task"], r["metrics"])
            table.add_row(r["name"], r["status"], str(r["task"] or "—"), _fmt(r["epochs"]),
                          " ".join(f"{k}={_fmt(v)}" for k, v in shown) or "—")
        out.print(table)

    _emit({"runs_dir": str(runs_dir), "runs": found}, as_json, render)


@runs_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="First run directory.")],
    b: Annotated[Path, typer.Argument(help="Second run directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Show how run B's recipe and test metrics differ from run A's."""
    from traincraft.api.runs import compare_runs

    result = compare_runs(a, b)

    def render(r: dict) -> None:
        table = Table(title="recipe differences", header_style="bold")
        for col in ("setting", "A", "B"):
            table.add_column(col)
        for d in r["recipe_differences"]:
            table.add_row(d["key"], str(d["a"]), str(d["b"]))
        out.print(table if r["recipe_differences"] else "recipes are the same (apart from the name)")
        metrics = Table(title="test metrics", header_style="bold")
        for col in ("metric", "A", "B", "B - A", "beyond noise"):
            metrics.add_column(col, justify="right")
        for m in r["metrics"]:
            overlap = m.get("intervals_overlap")
            metrics.add_row(m["metric"], _fmt(m["a"]), _fmt(m["b"]), "—" if m["change"] is None else f"{m['change']:+.4f}",
                            "—" if overlap is None else ("no" if overlap else "yes"))
        out.print(metrics)
        if not r["same_data"]:
            out.print("[yellow]the runs were trained on different data (fingerprints differ)[/]")

    _emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    """Add ``report``, ``curve``, ``search`` and ``runs`` (with ``runs compare``) to ``app``."""
    app.command("report")(report)
    app.command("curve")(curve)
    app.command("search")(search)
    app.add_typer(runs_app, name="runs")
