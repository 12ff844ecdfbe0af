"""traincraft's commands. Each parses options, calls one api function, and shows the result.

Every command takes ``--json`` and then prints exactly one JSON object on stdout; logs and progress
go to stderr. A :class:`~traincraft.errors.TraincraftError` becomes a message and exit code 2 (no
traceback unless ``--debug``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from traincraft import api
from traincraft._version import __version__
from traincraft.errors import TraincraftError

app = typer.Typer(
    name="traincraft",
    help="From raw data to a trained model you can trust, and serve it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()  # results
log = logging.getLogger(__name__)
err = Console(stderr=True)  # messages, logs, progress

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object with the result on stdout.")]
DelimiterOpt = Annotated[Optional[str], typer.Option(help="CSV delimiter (sniffed when not given).")]
EncodingOpt = Annotated[Optional[str], typer.Option(help="Text encoding of the data file (default utf-8).")]


def _setup_logging(debug: bool) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=err, show_time=False, show_path=debug, markup=False, rich_tracebacks=debug)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("traincraft").setLevel(logging.DEBUG if debug else logging.INFO)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"traincraft {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    """From raw data to a trained model you can trust, and serve it."""
    _setup_logging(debug)


def _emit(result: dict[str, Any], as_json: bool, render) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        sys.stdout.flush()
    else:
        render(result)


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold", min_width=len(title) + 2)  # the title never wraps
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}")
    return table


@app.command()
def quickstart(
    workdir: Annotated[Path, typer.Option(help="Folder for the data, recipe and runs.")] = Path("traincraft-quickstart"),
    as_json: JsonOpt = False,
) -> None:
    """Train on real handwritten digits end to end: raw CSV → recipe → train → evaluate → bundle."""
    result = api.quickstart(workdir, progress="auto")

    def render(r: dict) -> None:
        out.print(f"[bold]traincraft quickstart[/] — handwritten digits ({sum(r['splits'].values())} rows, 10 classes)")
        out.print(f"  data      {r['data']}\n  recipe    {r['recipe']}\n  run       {r['run_dir']}\n  bundle    {r['bundle']}")
        out.print(f"  trained   {r['epochs']} epochs (best {r['best_epoch']}) in {r['seconds']} s")
        out.print(_metrics_table("test split (read once, at the end)", r["metrics"]))
        for s in r["sample_predictions"]:
            out.print(f"  row {s['row']}: true {s['true']}, predicted {s['predicted']} (p={s['probability']:.3f})")
        out.print(f"[bold green]test accuracy {r['metrics']['accuracy']:.4f}[/]. Next: traincraft predict {r['bundle']} NEW.csv -o out.csv")

    _emit(result, as_json, render)


@app.command()
def init(
    data: Annotated[Path, typer.Argument(help="Data file (CSV/TSV, Parquet, JSONL) or image folder.")],
    label: Annotated[Optional[str], typer.Option(help="The column to predict.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the recipe here instead of stdout.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name.")] = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a commented recipe with the schema inferred from DATA."""
    if output is not None and output.exists():
        raise TraincraftError(f"{output} already exists; choose another file name (init never overwrites a recipe).")
    text, summary = api.init_recipe(data, label=label, output=output, name=name, delimiter=delimiter, encoding=encoding)
    if output is not None:
        from traincraft._util.atomic import atomic_write_text

        atomic_write_text(output, text)
        summary["recipe"] = str(output)
    if as_json:
        summary["recipe_yaml"] = text if output is None else None
        _emit(summary, True, None)
    elif output is None:
        sys.stdout.write(text)
    else:
        err.print(f"wrote {output} ({summary['task']}, {len(summary['columns'])} columns). Train with: traincraft train {output}")


@app.command("train")
def train_cmd(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML), or a data file together with --label.")],
    label: Annotated[Optional[str], typer.Option(help="Label column (overrides the recipe's).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this directory from its last checkpoint.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (runs/<name>).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder that holds run directories.")] = Path("runs"),
    epochs: Annotated[Optional[int], typer.Option(help="Override train.epochs.")] = None,
    processes: Annotated[int, typer.Option(min=1, help="Data-parallel processes on this machine (DDP via torchrun; one per GPU on a GPU machine).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Train a model from a recipe; writes runs/<name>/ with checkpoints, metrics and a bundle."""
    if processes > 1 and not _launched_by_torchrun():
        args = ["train", str(recipe), "--runs-dir", str(runs_dir)]
        for flag, value in (("--label", label), ("--resume", resume), ("--name", name), ("--epochs", epochs)):
            if value is not None:
                args += [flag, str(value)]
        raise typer.Exit(_relaunch_with_torchrun(processes, args + (["--json"] if as_json else [])))
    overrides = {"train": {"epochs": epochs}} if epochs else None
    run = api.train(recipe, label=label, recipe=overrides, name=name, runs_dir=runs_dir, resume=resume, progress="auto")
    result = run.summary()
    if result["task"] in ("cluster", "anomaly", "rl"):
        from traincraft.cli._rl_commands import render_summary

        return _emit(result, as_json, render_summary)

    def render(r: dict) -> None:
        out.print(f"[bold]run[/] {r['run_dir']}  ({r['task']}, {r['epochs']} epochs, best epoch {r['best_epoch']}, {r['train_seconds']:.1f} s on {r['device']})")
        out.print(f"  splits: {r['splits']}")
        if r["metrics"]:
            out.print(_metrics_table("test split", r["metrics"]))
        out.print(f"bundle: {r['bundle']}")

    _emit(result, as_json, render)


@app.command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (runs/<name>/bundle).")],
    data: Annotated[Path, typer.Argument(help="Table to predict (CSV/TSV, Parquet, JSONL).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write predictions (.csv, .tsv, .parquet, .jsonl).")],
    chunksize: Annotated[int, typer.Option(min=1, help="Rows per chunk (bounds memory).")] = 50_000,
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict every row of DATA with BUNDLE, in chunks, into OUTPUT."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("predicting", total=None)
        result = api.predict_file(
            bundle, data, output, chunksize=chunksize, overwrite=overwrite,
            on_chunk=lambda n: bar.update(task, description=f"predicted {n:,} rows"),
            delimiter=delimiter, encoding=encoding,
        )
    _emit(result, as_json, lambda r: out.print(f"wrote {r['rows']:,} predictions to {r['output']}"))


@app.command("evaluate")
def evaluate_cmd(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (runs/<name>/bundle).")],
    data: Annotated[Path, typer.Argument(help="Labelled table to score.")],
    label: Annotated[Optional[str], typer.Option(help="Label column, if named differently from training.")] = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score BUNDLE on labelled DATA (accuracy, macro-F1, ROC-AUC, positive-class F1; MAE, RMSE, R²)."""
    result = api.evaluate(bundle, data, label=label, delimiter=delimiter, encoding=encoding)
    _emit(result, as_json, lambda r: out.print(_metrics_table(f"{r['task']} on {r['rows']:,} rows", r["metrics"])))


@app.command()
def info(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (runs/<name>/bundle).")],
    as_json: JsonOpt = False,
) -> None:
    """Show what a bundle predicts, from which columns, how well, and what wrote it."""
    result = api.bundle_info(bundle)

    def render(r: dict) -> None:
        of = f" of '{r['label']}'" if r["label"] is not None else ""  # cluster, anomaly and rl bundles have no label
        out.print(f"[bold]{r['bundle']}[/]: {r['task']}{of}" + (f", classes {r['classes']}" if r["classes"] else ""))
        out.print(f"  {len(r['inputs'])} inputs: " + ", ".join(f"{c['name']} ({c['type']})" for c in r["inputs"][:12]) + (" ..." if len(r["inputs"]) > 12 else ""))
        out.print(f"  {r['parameters']:,} parameters, {r['size_bytes'] / 1e6:.2f} MB, created {r['created']}, traincraft {r['versions'].get('traincraft')}")
        if "env" in r["data"]:
            out.print(f"  environment {r['data']['env']['id']}")
        else:
            out.print(f"  data fingerprint {r['data'].get('fingerprint')}")
        if r["metrics"]:
            title = "test metrics" if r["task"] in ("binary", "multiclass", "regression") else "metrics"
            out.print(_metrics_table(title, {k: v for k, v in r["metrics"].items() if isinstance(v, (int, float))}))

    _emit(result, as_json, render)


def _launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1  # checked without importing torch


def _run(args: list[str]) -> None:
    """Run the command; under torchrun rank 0 runs it and the other ranks serve its training jobs."""
    if not _launched_by_torchrun():
        _exit_with(app(args=args, prog_name="traincraft", standalone_mode=False))
        return
    from traincraft.training import distributed, workers

    group = distributed.init_from_env()
    assert group is not None
    if not group.is_main:
        workers.serve()
        return
    try:
        code = app(args=args, prog_name="traincraft", standalone_mode=False)
    finally:
        try:
            distributed.finish()
        except Exception as exc:  # the workers may be gone already (torchrun stops them after a failure)
            log.debug("could not tell the workers to stop: %s", exc)
    _exit_with(code)


def _exit_with(code: Any) -> None:
    """Without standalone mode typer returns a command's ``typer.Exit(code)`` instead of exiting."""
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        raise SystemExit(code)


def _relaunch_with_torchrun(processes: int, args: list[str]) -> int:
    """Run ``traincraft ARGS`` as ``processes`` data-parallel processes on this machine; return the exit code."""
    import subprocess

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", "traincraft", *args]
    log.info("starting %d processes: %s", processes, " ".join(command))
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> None:
    """Entry point: run a command; user errors exit 2 with a message, Ctrl-C exits 130."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accept --debug anywhere on the line, not only before the command
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        _run(args)
    except TraincraftError as exc:
        if debug:
            traceback.print_exc()
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        exc.show(file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("interrupted")
        raise SystemExit(130) from None
    except OSError as exc:  # a file the user named could not be read or written
        if debug:
            traceback.print_exc()
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
