"""The ``serve`` and ``export`` commands; :func:`register` adds them to the traincraft app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from traincraft.cli._app import JsonOpt, _emit, err, out
from traincraft.errors import RecipeError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``export`` to ``app``."""
    app.command("serve")(serve)
    app.command("export")(export)


def serve(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (runs/<name>/bundle).")],
    host: Annotated[str, typer.Option(help="Interface to listen on; 127.0.0.1 is this machine only, 0.0.0.0 every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each with its own copy of the model.")] = 1,
    runtime: Annotated[str, typer.Option(help="torch, or onnx (after traincraft export BUNDLE --format onnx).")] = "torch",
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Largest request body; larger is a 413.")] = 1 << 20,
    max_batch: Annotated[int, typer.Option(min=1, help="Most records in one request; more is a 422.")] = 1000,
    batch_wait_ms: Annotated[float, typer.Option(min=0.0, help="Longest wait, under load, for requests to share a forward pass.")] = 2.0,
    micro_batching: Annotated[bool, typer.Option(help="Let concurrent requests share forward passes.")] = True,
    access_log: Annotated[bool, typer.Option(help="Log every request on stderr.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Serve BUNDLE over HTTP: POST /predict, GET /health, /schema, /metrics, /docs. Ctrl-C stops it gracefully."""
    from traincraft.api.serve import serve as run_server
    from traincraft.api.serve import serve_summary
    from traincraft.serving import load

    predictor = load(bundle, runtime=runtime)  # once, here: a bad bundle fails before the server starts
    summary = serve_summary(predictor, host=host, port=port, workers=workers, runtime=runtime)

    def render(r: dict) -> None:
        err.print(f"[bold]serving[/] {r['bundle']} ({r['task']} of '{r['label']}', {len(r['inputs'])} inputs) on {r['url']}")
        err.print(f"  docs {r['docs']}   workers {r['workers']} x {r['threads_per_worker']} threads   runtime {r['runtime']}   Ctrl-C to stop")

    _emit(summary, as_json, render)
    run_server(
        predictor,
        host=host,
        port=port,
        workers=workers,
        runtime=runtime,
        access_log=access_log,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        batch_wait_ms=batch_wait_ms,
        micro_batching=micro_batching,
    )


def export(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (runs/<name>/bundle).")],
    format: Annotated[Optional[str], typer.Option("--format", help="Export format: onnx (the default without --merge).")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder to write into (default: the bundle itself; with --merge, <bundle>-merged).")] = None,
    merge: Annotated[bool, typer.Option("--merge", help="Fold a fine-tuned bundle's adapters into full weights: a new bundle.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it holds another bundle's files.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Export BUNDLE's network to ONNX beside its preprocessing metadata (parity with torch checked), or --merge a fine-tuned one."""
    if merge:
        if format is not None:
            raise RecipeError("--merge writes a traincraft bundle, not a --format; export the merged bundle to ONNX in a second step.")
        from traincraft.cli._finetune_commands import export_merged

        export_merged(bundle, output, overwrite=overwrite, as_json=as_json)
        return
    from traincraft.api.export import export as run_export

    result = run_export(bundle, format=format or "onnx", output=output, overwrite=overwrite)

    def render(r: dict) -> None:
        out.print(f"wrote {r['file']} ({r['size_bytes'] / 1e6:.2f} MB, opset {r['opset']}; logits within {r['parity_max_abs_logit_difference']:.1e} of torch)")
        out.print(f"predict with: tc.load('{r['output']}', runtime='onnx')  or  traincraft serve {r['output']} --runtime onnx")

    _emit(result, as_json, render)
