"""The data commands: ``audit``, ``prepare``, ``review export``, ``review apply``.

``register(app)`` adds them to the main typer app. Like every command, each takes ``--json`` and
then prints exactly one JSON object on stdout; errors are TraincraftError subclasses, which
``traincraft.cli.main`` turns into a message and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["register"]

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object with the result on stdout.")]
ROW_IDS_ON_SCREEN = 8  # row ids shown per finding in the table; --json has all of them


def _emit(result: dict[str, Any], as_json: bool, render) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        sys.stdout.flush()
    else:
        render(result)


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _flow(mapping: dict) -> str:
    """A prepare step as a YAML flow mapping, ready to paste: ``{step: dedupe, mode: exact}``."""
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" if not isinstance(v, str) else f"{k}: {v}" for k, v in mapping.items()) + "}"


def _findings_table(report: dict) -> Table:
    """One row per finding: the message takes the width; the fix and a sample of row ids sit below it."""
    table = Table(title=f"audit: {report['rows']:,} rows, {len(report['columns'])} columns", show_lines=True, header_style="bold")
    table.add_column("severity", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("finding, fix and row ids (a sample; --json has all)", ratio=1)
    for f in report["findings"]:
        ids = f["row_ids"]
        sample = ", ".join(str(i) for i in ids[:ROW_IDS_ON_SCREEN]) + (" ..." if len(ids) > ROW_IDS_ON_SCREEN else "")
        lines = [f["message"]]
        if f["fix"]:
            lines.append(f"[green]fix:[/] {escape(_flow(f['fix']))}")
        if sample:
            lines.append(f"[dim]rows: {sample}[/]")
        table.add_row(f"[{_STYLE[f['severity']]}]{f['severity']}[/]", f["check"], f"{f['count']:,}", "\n".join(lines))
    return table


def audit(
    data: Annotated[Path, typer.Argument(help="Data file (CSV/TSV, Parquet, JSONL), image folder, or recipe (.yaml).")],
    label: Annotated[Optional[str], typer.Option(help="The label column.")] = None,
    recipe: Annotated[Optional[Path], typer.Option(help="Recipe whose columns, rules and checks to use.")] = None,
    checks: Annotated[Optional[str], typer.Option(help="Comma-separated checks to run (default: all).")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the findings as an HTML page here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find what is wrong with DATA: duplicates, wrong labels, missing values, personal data, leakage..."""
    from traincraft.api.audit import audit as run_audit
    from traincraft.api.audit import audit_html
    from traincraft._util.atomic import atomic_write_text

    selected = [c.strip() for c in checks.split(",") if c.strip()] if checks else None
    report = run_audit(data, label=label, recipe=recipe, checks=selected)
    result = report.to_json()
    if html is not None:
        atomic_write_text(html, audit_html(report, title=f"Data audit: {data.name}"))
        result["html"] = str(html)

    def render(r: dict) -> None:
        if not r["findings"]:
            out.print(f"[green]No findings[/] in {r['rows']:,} rows.")
            return
        out.print(_findings_table(r))
        c = r["counts"]
        out.print(f"{c['error']} errors, {c['warning']} warnings, {c['info']} notes. All row ids: --json. To fix, add to the recipe:")
        if r["suggested_prepare"]:
            out.print("prepare:", highlight=False)
        for step in r["suggested_prepare"]:
            out.print(f"  - {escape(_flow(step))}", highlight=False)
        if r.get("html"):
            out.print(f"wrote {r['html']}")

    _emit(result, as_json, render)


def prepare(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML) with prepare: steps.")],
    out_dir: Annotated[Optional[Path], typer.Option("-o", "--out-dir", help="Folder for prepared.parquet, quarantine.parquet, manifest.json.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply the recipe's prepare: steps; every dropped or changed row goes to the quarantine."""
    from traincraft.api.prepare import prepare as run_prepare

    result = run_prepare(recipe, out_dir=out_dir)

    def render(r: dict) -> None:
        table = Table(title="prepare", header_style="bold")
        for name in ("#", "step", "rows in", "rows out", "quarantined", "changed"):
            table.add_column(name, justify="right" if name != "step" else "left")
        for s in r["steps"]:
            table.add_row(str(s["index"]), s["step"], f"{s['rows_in']:,}", f"{s['rows_out']:,}", f"{s['rows_quarantined']:,}", f"{s['rows_changed']:,}")
        out.print(table)
        out.print(f"{r['rows_in']:,} rows in, {r['rows_out']:,} out, {r['rows_quarantined']:,} quarantined, {r['rows_changed']:,} changed.")
        out.print(f"  prepared   {r['prepared']}\n  quarantine {r['quarantine']}\n  manifest   {r['manifest']}")

    _emit(result, as_json, render)


review_app = typer.Typer(help="Human review of suspected label errors.", no_args_is_help=True)


@review_app.command("export")
def review_export(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Queue CSV to write.")],
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the suspected label errors, most likely first; fill the decision column (keep, relabel:<label>, drop)."""
    from traincraft.api.review import review_export as run_export

    result = run_export(recipe, output, overwrite=overwrite)
    _emit(result, as_json, lambda r: out.print(
        f"wrote {r['rows']:,} suspected label errors to {r['queue']}"
        + (f" ({r['prefilled']} with earlier decisions)" if r["prefilled"] else "")
        + ". Fill the decision column, then: traincraft review apply QUEUE --recipe RECIPE"
    ))


@review_app.command("apply")
def review_apply(
    queue: Annotated[Path, typer.Argument(help="The filled-in queue CSV.")],
    recipe: Annotated[Path, typer.Option(help="Recipe whose relabel step records the decisions.")],
    as_json: JsonOpt = False,
) -> None:
    """Record the queue's decisions where the recipe's relabel step reads them."""
    from traincraft.api.review import review_apply as run_apply

    result = run_apply(queue, recipe=recipe)
    _emit(result, as_json, lambda r: out.print(
        f"recorded {r['decisions']:,} decisions ({r['keep']} keep, {r['relabel']} relabel, {r['drop']} drop; {r['undecided']} undecided) "
        f"in {r['review_file']}; every later prepare and train applies them."
    ))


def register(app: typer.Typer) -> None:
    """Add ``audit``, ``prepare`` and the ``review`` group to ``app``."""
    app.command("audit")(audit)
    app.command("prepare")(prepare)
    app.add_typer(review_app, name="review")
