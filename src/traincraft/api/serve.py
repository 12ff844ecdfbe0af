"""``serve``: run the HTTP server for a bundle under uvicorn, until SIGTERM / Ctrl-C.

One worker serves in this process; ``workers > 1`` starts that many uvicorn worker processes,
each loading the bundle itself (uvicorn needs an importable app factory for that:
:func:`app_from_environment`, configured through ``TRAINCRAFT_SERVE_CONFIG``). The cores are
shared out: each worker runs torch with ``cores // workers`` threads, so workers never
oversubscribe the CPU.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from traincraft._util.seed import set_threads, usable_cores
from traincraft.errors import MissingDependencyError, RecipeError
from traincraft.serving import Predictor
from traincraft.serving.predictor import load_predictor

__all__ = ["serve", "serve_summary", "app_from_environment", "CONFIG_ENV"]

log = logging.getLogger(__name__)

CONFIG_ENV = "TRAINCRAFT_SERVE_CONFIG"  # JSON handed to each uvicorn worker process
GRACEFUL_SHUTDOWN_S = 30  # uvicorn waits this long for open requests after SIGTERM


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("uvicorn", "serve", "Serving a model over HTTP") from None
    return uvicorn


def _log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, all on stderr (stdout is for the one JSON object of ``--json``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
            "access": {"()": "uvicorn.logging.AccessFormatter", "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO" if access_log else "WARNING", "propagate": False},
        },
    }


def _check(host: str, port: int, workers: int, runtime: str) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise RecipeError(f"port must be a whole number from 0 to 65535, got {port!r}.")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise RecipeError(f"workers must be at least 1, got {workers!r}.")
    if not host:
        raise RecipeError("host must not be empty; use 127.0.0.1 for this machine only, 0.0.0.0 for every interface.")
    if runtime not in ("torch", "onnx"):
        raise RecipeError(f"runtime must be torch or onnx, got {runtime!r}.")


def _predictor(bundle: str | Path | Predictor, runtime: str) -> Predictor:
    return bundle if isinstance(bundle, Predictor) else load_predictor(bundle, runtime=runtime, purpose="traincraft serve")


def serve_summary(
    bundle: str | Path | Predictor, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, runtime: str = "torch"
) -> dict[str, Any]:
    """Check the options and the bundle (loading it if a path is given) and describe the server ``serve`` would start."""
    _check(host, port, workers, runtime)
    predictor = _predictor(bundle, runtime)
    return {
        "bundle": str(predictor.path),
        "url": f"http://{host if ':' not in host else f'[{host}]'}:{port}",
        "docs": f"http://{host if ':' not in host else f'[{host}]'}:{port}/docs",
        "task": predictor.task,
        "label": predictor.label,
        "inputs": predictor.input_columns,
        "workers": workers,
        "threads_per_worker": max(1, usable_cores() // workers),
        "runtime": runtime,
    }


def serve(
    bundle: str | Path | Predictor,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    runtime: str = "torch",
    access_log: bool = False,
    **app_options: Any,
) -> None:
    """Serve ``bundle`` (a path or a loaded Predictor) over HTTP until interrupted.

    ``app_options`` go to :func:`traincraft.serving.server.create_app` (limits, micro-batching).
    """
    _check(host, port, workers, runtime)
    uvicorn = _uvicorn()
    from traincraft.serving.server import create_app

    threads = max(1, usable_cores() // workers)
    common = dict(
        host=host,
        port=port,
        log_config=_log_config(access_log),
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    if workers == 1:
        set_threads(threads)
        app = create_app(_predictor(bundle, runtime), **app_options)
        log.info("serving %s on http://%s:%d (docs at /docs)", app.state.predictor.path, host, port)
        uvicorn.run(app, **common)
        return
    path = bundle.path if isinstance(bundle, Predictor) else Path(bundle)
    config = {"bundle": str(Path(path).resolve()), "runtime": runtime, "threads": threads, "options": app_options}
    try:
        os.environ[CONFIG_ENV] = json.dumps(config)
    except TypeError as exc:
        raise RecipeError(f"Server options must be plain values (numbers, strings, booleans) with several workers: {exc}") from None
    log.info("serving %s on http://%s:%d with %d workers (%d torch threads each)", bundle, host, port, workers, threads)
    try:
        uvicorn.run("traincraft.api.serve:app_from_environment", factory=True, workers=workers, **common)
    finally:
        os.environ.pop(CONFIG_ENV, None)


def app_from_environment() -> Any:
    """The app of one uvicorn worker process, configured by ``serve`` through ``TRAINCRAFT_SERVE_CONFIG``."""
    from traincraft.serving.server import create_app

    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RecipeError(f"{CONFIG_ENV} is not set; start the server with traincraft serve BUNDLE --workers N.")
    config = json.loads(raw)
    set_threads(int(config["threads"]))
    return create_app(config["bundle"], runtime=config["runtime"], **config["options"])
