"""The ``finetune`` command and the merged export; :func:`register` adds ``finetune`` to the traincraft app.

``export BUNDLE --merge`` belongs to the ``export`` command (``_serve_commands``), which hands a
``--merge`` request to :func:`export_merged` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from traincraft.cli._app import JsonOpt, _emit, _metrics_table, err, out

__all__ = ["register", "export_merged"]


def register(app: typer.Typer) -> None:
    """Add ``finetune`` to ``app``."""
    app.command("finetune")(finetune)


def finetune(
    bundle: Annotated[Path, typer.Argument(help="Bundle to continue from (runs/<name>/bundle).")],
    data: Annotated[Path, typer.Argument(help="New labelled data with the bundle's columns (CSV/TSV, Parquet, JSONL, image folder).")],
    recipe: Annotated[Optional[Path], typer.Option(help="Recipe file whose settings override the bundle's (e.g. train.lr, split).")] = None,
    new_labels: Annotated[Optional[str], typer.Option(help="Label values the bundle never saw: refuse (default) or add them to the head.")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Override train.epochs.")] = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0, help="Override train.lr (continued training usually wants a lower rate).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (runs/<name>); default <bundle's name>-finetune.")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder that holds run directories.")] = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(help="Continue an interrupted fine-tuning run in this directory.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue training BUNDLE's model on DATA, keeping its encoders; writes a new run with a bundle."""
    from traincraft.api.finetune import finetune as run_finetune
    from traincraft.recipe import load_recipe

    overrides: dict = load_recipe(recipe).model_dump(exclude_unset=True) if recipe is not None else {}
    train = overrides.setdefault("train", {})
    if new_labels is not None:
        train["new_labels"] = new_labels
    if epochs is not None:
        train["epochs"] = epochs
    if lr is not None:
        train["lr"] = lr
    if not train:
        overrides.pop("train")
    run = run_finetune(bundle, data, recipe=overrides or None, name=name, runs_dir=runs_dir, resume=resume, progress="auto")
    result = run.summary()
    result["finetuned_from"] = str(bundle)

    def render(r: dict) -> None:
        out.print(f"[bold]run[/] {r['run_dir']}  (continued {r['finetuned_from']}; {r['epochs']} epochs, best epoch {r['best_epoch']}, {r['train_seconds']:.1f} s on {r['device']})")
        out.print(f"  splits: {r['splits']}")
        if r["metrics"]:
            out.print(_metrics_table("test split of the new data", r["metrics"]))
        out.print(f"bundle: {r['bundle']}")

    _emit(result, as_json, render)


def export_merged(bundle: Path, output: Optional[Path], *, overwrite: bool = False, as_json: bool = False) -> None:
    """``export BUNDLE --merge [-o OUTPUT]``: the LoRA (or head-only) bundle with its adapters folded into full weights.

    OUTPUT defaults to ``<bundle>-merged`` beside the bundle; the adapter bundle is kept.
    """
    from traincraft.api.finetune import merge

    target = output if output is not None else bundle.with_name(f"{bundle.name}-merged")
    result = merge(bundle, target, overwrite=overwrite)

    def render(r: dict) -> None:
        out.print(
            f"wrote {r['output']} ({r['merged_bytes'] / 1e6:.2f} MB of weights; the {r['tune']} bundle holds "
            f"{r['bundle_bytes'] / 1e6:.2f} MB, {100 * r['ratio']:.2f}% of that)"
        )
        err.print(f"predict with: traincraft predict {r['output']} DATA -o out.csv")

    _emit(result, as_json, render)
