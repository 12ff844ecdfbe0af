"""The HTTP server: a FastAPI app around a bundle, with validation, limits, metrics and micro-batching.

    POST /predict   one record (a JSON object, fields by column name) or a list of them
    GET  /health    liveness and readiness (503 while shutting down)
    GET  /schema    the inputs the model reads, their JSON types, and the server's limits
    GET  /metrics   Prometheus text: requests by path and status, latency and batch-size histograms
    GET  /docs      OpenAPI docs (the request schema is built from the bundle's schema)

Every request is validated field by field before it joins a batch (a 422 lists each bad field);
a body over ``max_body_bytes`` is a 413 and a list over ``max_batch`` records a 422. Requests that
arrive together share one forward pass (:mod:`traincraft.serving.microbatch`). Shutting down
(SIGTERM / Ctrl-C under uvicorn) stops taking requests and finishes the queued ones.

fastapi is an optional dependency (``pip install 'traincraft[serve]'``), imported in
:func:`create_app`.
"""

import bisect
import contextlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from traincraft._version import __version__
from traincraft.errors import DataError, MissingDependencyError, RecipeError
from traincraft.serving._records import RecordCodec, RecordsInvalid
from traincraft.serving.microbatch import BatcherClosed, MicroBatcher, QueueFull
from traincraft.serving.onnx_export import OnnxPredictor
from traincraft.serving.predictor import Predictor, load_predictor

__all__ = [
    "create_app",
    "Metrics",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_BATCH_WAIT_MS",
    "DEFAULT_MAX_FORWARD_ROWS",
    "DEFAULT_MAX_QUEUE_ROWS",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB: ~1,000 records of 30 numbers; images need more (set max_body_bytes)
DEFAULT_MAX_BATCH = 1000  # records in one request; larger jobs belong to `traincraft predict` on a file
DEFAULT_BATCH_WAIT_MS = 2.0  # longest wait for more requests, only under concurrent load; a lone client never waits
DEFAULT_MAX_FORWARD_ROWS = 256  # rows in one forward pass; the small networks here run ~256 rows as fast as 32
DEFAULT_MAX_QUEUE_ROWS = 4096  # rows waiting for a forward pass before new requests get 503 + Retry-After
SHUTDOWN_TIMEOUT_S = 30.0  # queued requests still predicted after a shutdown signal, at most this long
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # rows per forward pass
ROUTES = ("/predict", "/health", "/schema", "/metrics", "/docs", "/openapi.json")


# --- metrics -------------------------------------------------------------------------------------
class _Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1  # the first bucket with value <= bound; past the last: +Inf
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out = []
        cumulative = 0
        sep = "," if labels else ""
        for bound, count in zip((*self.buckets, math.inf), self.counts):
            cumulative += count
            le = "+Inf" if bound == math.inf else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {cumulative}')
        suffix = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{suffix} {self.total:.6f}")
        out.append(f"{name}_count{suffix} {self.n}")
        return out


class Metrics:
    """Request counts by method, path and status; latency and batch-size histograms (Prometheus text)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.batch_rows = _Histogram(BATCH_BUCKETS)
        self.batch_seconds = _Histogram(LATENCY_BUCKETS)
        self.records = 0
        self.in_flight = 0

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, path, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            if path not in self.latency:
                self.latency[path] = _Histogram(LATENCY_BUCKETS)
            self.latency[path].observe(seconds)

    def observe_batch(self, items: int, rows: int, seconds: float) -> None:
        with self._lock:
            self.batch_rows.observe(rows)
            self.batch_seconds.observe(seconds)

    def count_records(self, n: int) -> None:
        with self._lock:
            self.records += n

    def render(self, info: dict[str, str], queued_rows: int) -> str:
        with self._lock:
            lines = [
                "# HELP traincraft_model_info The served bundle.",
                "# TYPE traincraft_model_info gauge",
                "traincraft_model_info{" + ",".join(f'{k}="{_escape(v)}"' for k, v in info.items()) + "} 1",
                "# HELP traincraft_http_requests_total HTTP requests by method, path and status code.",
                "# TYPE traincraft_http_requests_total counter",
            ]
            for (method, path, status), count in sorted(self.requests.items()):
                lines.append(f'traincraft_http_requests_total{{method="{method}",path="{path}",status="{status}"}} {count}')
            lines += [
                "# HELP traincraft_http_request_duration_seconds Time from request start to the end of the response.",
                "# TYPE traincraft_http_request_duration_seconds histogram",
            ]
            for path, histogram in sorted(self.latency.items()):
                lines += histogram.lines("traincraft_http_request_duration_seconds", f'path="{path}"')
            lines += [
                "# HELP traincraft_predicted_records_total Records predicted.",
                "# TYPE traincraft_predicted_records_total counter",
                f"traincraft_predicted_records_total {self.records}",
                "# HELP traincraft_batch_rows Rows per forward pass (micro-batch size).",
                "# TYPE traincraft_batch_rows histogram",
                *self.batch_rows.lines("traincraft_batch_rows", ""),
                "# HELP traincraft_batch_duration_seconds Time to encode and predict one micro-batch.",
                "# TYPE traincraft_batch_duration_seconds histogram",
                *self.batch_seconds.lines("traincraft_batch_duration_seconds", ""),
                "# HELP traincraft_queue_rows Rows waiting for a forward pass.",
                "# TYPE traincraft_queue_rows gauge",
                f"traincraft_queue_rows {queued_rows}",
                "# HELP traincraft_requests_in_flight Requests being handled now.",
                "# TYPE traincraft_requests_in_flight gauge",
                f"traincraft_requests_in_flight {self.in_flight}",
            ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _MetricsMiddleware:
    """Pure ASGI middleware: times every HTTP request and counts it by path and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_and_record(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        path = scope.get("path", "")
        label = path if path in ROUTES else "other"  # unknown paths share one label: bounded cardinality
        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe_request(scope.get("method", ""), label, status[0], time.perf_counter() - start)


# --- request handling ----------------------------------------------------------------------------
class _HTTPProblem(Exception):
    """A request the server answers with ``status`` and a JSON ``{"message", "detail"}`` body."""

    def __init__(self, status: int, message: str, detail: list[dict] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or {}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send null for a missing number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # built once: json.loads(..., parse_constant=) builds one per call
FAST_JSON_MAX_OPENINGS = 500  # bodies with more '[' / '{' go to the standard decoder, whose recursion limit answers "nested too deeply"
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # orjson reads an integer past 64 bits as a float; the standard decoder keeps it exact


def _parse_json(body: bytes, fast_loads: Callable[[bytes], Any] | None = None) -> Any:
    """The JSON value of ``body``, exactly as the standard library's decoder reads it, or a 400.

    ``fast_loads`` (``orjson.loads``) reads the common body several times faster. It is tried only
    where it gives the standard decoder's value: not on integers of 19+ digits (which it turns into
    floats) nor on deep nesting; anything it refuses (NaN, ``1e400``, lone surrogates, UTF-16,
    a byte-order mark, malformed JSON) goes to the standard decoder, which accepts it the same way
    as before or writes the same error.
    """
    if not body.strip():
        raise _HTTPProblem(400, "The request body is empty; send a JSON object (one record) or a list of records.")
    if fast_loads is not None and body.count(b"[") + body.count(b"{") <= FAST_JSON_MAX_OPENINGS and not _LONG_DIGITS.search(body):
        try:
            return fast_loads(body)
        except ValueError:  # orjson.JSONDecodeError is one
            pass
    try:
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))  # what json.loads does with bytes
    except RecursionError:
        raise _HTTPProblem(400, "The JSON is nested too deeply; a record is a flat object of column values.") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer with too many digits
        raise _HTTPProblem(400, f"Malformed JSON: {exc}.") from None


async def _read_body(declared: str | None, chunks: bytes | AsyncIterator[bytes], limit: int) -> bytes:
    """The body (given whole, or as chunks), refused with a 413 as soon as it is known to pass ``limit``."""
    too_large = f"The request body is larger than the server's limit of {limit:,} bytes; send fewer records per request."
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _HTTPProblem(413, too_large)
        except ValueError:
            raise _HTTPProblem(400, f"Invalid Content-Length header {declared!r}.") from None
    if isinstance(chunks, bytes):
        if len(chunks) > limit:
            raise _HTTPProblem(413, too_large)
        return chunks
    chunks_read = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _HTTPProblem(413, too_large)
        chunks_read.append(chunk)
    return b"".join(chunks_read)


class _ClientGone(Exception):
    """The client disconnected before its request body arrived."""


async def _asgi_chunks(first: dict, receive: Any) -> AsyncIterator[bytes]:
    """The request body's chunks straight from the ASGI ``receive`` channel, ``first`` already received."""
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
        message = await receive()


def _content_length(scope: dict) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.decode("latin-1")
    return None


class _Model:
    """The predictor, the record codec and the forward pass the batches run (on the worker thread)."""

    def __init__(self, predictor: Predictor, codec: RecordCodec) -> None:
        self.predictor = predictor
        self.codec = codec
        self.task = predictor.task
        self.classes = predictor.classes
        self.class_keys = [str(c) for c in self.classes] if self.classes is not None else []
        self.onnx = isinstance(predictor, OnnxPredictor)
        self._label_json = [_ENCODER.encode(c) for c in (self.classes or [])]  # response pieces, encoded once
        self._key_json = [_ENCODER.encode(k) for k in self.class_keys]
        self._id_json = _ENCODER.encode(codec.id_column) if codec.id_column else None
        self._templates = self._response_templates()

    def _response_templates(self) -> list[str]:
        """One %-template per predicted class: ``{"prediction": <label>, "probabilities": {<key>: %r, ...}}``."""
        probabilities = ", ".join(f"{key.replace('%', '%%')}: %r" for key in self._key_json)
        return [f"{{\"prediction\": {label.replace('%', '%%')}, \"probabilities\": {{{probabilities}}}}}" for label in self._label_json]

    def outputs(self, x: dict[str, torch.Tensor]) -> np.ndarray:
        """Probabilities (N, C) or regression values (N,), as Predictor.predict_raw gives them."""
        if self.onnx:
            return self.predictor.finish(self.predictor.batched_logits(x))
        with torch.inference_mode():
            logits = self.predictor.model(x).float()  # (N, out_dim)
        if self.task == "regression":
            return np.asarray(self.predictor.codec.decode(logits[:, 0].numpy()), dtype=np.float64)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def run_batch(self, items: Sequence[list[tuple]]) -> list[tuple[np.ndarray, bool]]:
        """Each item's outputs, and whether they are all finite (checked once for the whole batch)."""
        rows = [row for item in items for row in item]
        out = self.outputs(self.codec.encode(rows))
        finite = bool(np.isfinite(out).all())
        results = []
        start = 0
        for item in items:
            part = out[start : start + len(item)]
            results.append((part, finite or bool(np.isfinite(part).all())))
            start += len(item)
        return results

    def render(self, outputs: np.ndarray, ids: list[Any], single: bool) -> str:
        """The response JSON for finite ``outputs``: one record, or ``{"predictions": [...]}``.

        Written straight from templates (labels and keys JSON-encoded once, floats by ``repr`` as
        ``json`` writes them): the text ``json.dumps`` gives for the same records, without a dict
        per record.
        """
        if self.task == "regression":
            bodies = [f"{{\"prediction\": {float(v)!r}}}" for v in outputs.reshape(len(outputs)).tolist()]
        else:
            templates = self._templates
            bodies = [templates[b] % tuple(row) for b, row in zip(outputs.argmax(axis=1).tolist(), outputs.tolist())]
        if self._id_json is not None:
            bodies = [body if i is None else f"{{{self._id_json}: {_ENCODER.encode(i)}, {body[1:]}" for body, i in zip(bodies, ids)]
        return bodies[0] if single else f"{{\"predictions\": [{', '.join(bodies)}]}}"


def _non_finite(outputs: np.ndarray, single: bool) -> _HTTPProblem:
    """A 422 naming the records whose outputs overflowed (inputs far outside the training data)."""
    finite = np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)  # (N,)
    message = "the model's output for this record is not a finite number; its values are far outside the training data"
    detail = [
        {"loc": ["body"] if single else ["body", int(i)], "msg": message, "type": "value_error.output"} for i in np.flatnonzero(~finite)
    ]
    return _HTTPProblem(422, f"{len(detail)} record(s) gave a non-finite prediction; their values are far outside the training data.", detail)


def _fastapi() -> Any:
    try:
        import fastapi
    except ImportError:
        raise MissingDependencyError("fastapi", "serve", "Serving a model over HTTP") from None
    return fastapi


def _orjson() -> Any:
    try:
        import orjson
    except ImportError:
        raise MissingDependencyError("orjson", "serve", "Serving a model over HTTP") from None
    return orjson


def create_app(
    bundle_or_predictor: str | Path | Predictor,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    micro_batching: bool = True,
    max_forward_rows: int = DEFAULT_MAX_FORWARD_ROWS,
    max_queue_rows: int = DEFAULT_MAX_QUEUE_ROWS,
    runtime: str = "torch",
    extra_fields: str = "forbid",
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
) -> Any:
    """A FastAPI app serving a bundle (a path, loaded with ``runtime``) or a loaded :class:`Predictor`.

    ``max_body_bytes``: a larger request body is a 413. ``max_batch``: most records in one request
    (a longer list is a 422). ``micro_batching``: requests arriving within ``batch_wait_ms`` of
    each other (under load) share one forward pass of at most ``max_forward_rows`` rows; at most
    ``max_queue_rows`` rows wait before new requests get a 503. ``extra_fields``: ``"forbid"``
    refuses a field the bundle's schema does not know, ``"ignore"`` drops it.
    """
    fastapi = _fastapi()
    fast_loads = _orjson().loads
    from fastapi.openapi.utils import get_openapi
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response

    for name, value in (("max_body_bytes", max_body_bytes), ("max_batch", max_batch), ("max_forward_rows", max_forward_rows), ("max_queue_rows", max_queue_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecipeError(f"{name} must be a whole number of at least 1, got {value!r}.")
    if not batch_wait_ms >= 0:
        raise RecipeError(f"batch_wait_ms must be 0 or more, got {batch_wait_ms!r}.")
    if isinstance(bundle_or_predictor, Predictor):
        if runtime != "torch":
            raise RecipeError("runtime applies when create_app loads a bundle path; this Predictor is loaded already.")
        predictor = bundle_or_predictor
    else:
        predictor = load_predictor(bundle_or_predictor, runtime=runtime, purpose="Serving over HTTP")  # other kinds refused here
    codec = RecordCodec(predictor, extra_fields=extra_fields)
    model = _Model(predictor, codec)
    metrics = Metrics()
    batcher: MicroBatcher[list[tuple], tuple[np.ndarray, bool]] = MicroBatcher(
        model.run_batch,
        max_rows=max_forward_rows,
        max_wait_s=batch_wait_ms / 1000.0,
        max_queue_rows=max_queue_rows,
        retry_alone=(DataError,),
        on_batch=metrics.observe_batch,
    )
    state = {"closing": False, "started": time.time()}
    runtime_name = "onnx" if model.onnx else "torch"
    info = {"task": model.task, "label": str(predictor.label), "runtime": runtime_name, "traincraft_version": __version__}
    limits = {
        "max_body_bytes": max_body_bytes,
        "max_batch": max_batch,
        "micro_batching": micro_batching,
        "batch_wait_ms": batch_wait_ms,
        "max_forward_rows": max_forward_rows,
        "max_queue_rows": max_queue_rows,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if micro_batching:
            await batcher.start()
        try:
            yield
        finally:
            state["closing"] = True
            if micro_batching:
                await batcher.close(shutdown_timeout_s)
            codec.close()
            log.info("server stopped: %d records predicted", metrics.records)

    class _App(fastapi.FastAPI):
        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if (
                scope["type"] == "http"
                and scope["path"] == "/predict"
                and scope["method"] == "POST"
                and not scope.get("root_path")
                and not self.root_path
            ):
                await predict_asgi(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

    app = _App(
        title=f"traincraft: {predictor.label or 'model'} ({model.task})",
        version=__version__,
        description=_description(predictor),
        lifespan=lifespan,
    )
    app.state.predictor = predictor
    app.state.metrics = metrics
    app.state.batcher = batcher

    def problem(status: int, message: str, detail: list[dict] | None = None, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {"message": message}
        if detail is not None:
            body["detail"] = detail
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(_HTTPProblem)
    async def _on_problem(request: Request, exc: _HTTPProblem) -> Response:
        return problem(exc.status, exc.message, exc.detail, exc.headers)

    @app.exception_handler(fastapi.exceptions.RequestValidationError)
    async def _on_validation(request: Request, exc: Any) -> Response:
        return problem(422, "The request does not fit this endpoint.", [dict(loc=list(e.get("loc", ())), msg=e.get("msg", ""), type=e.get("type", "")) for e in exc.errors()])

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: Any) -> Response:
        hint = f" Endpoints: {', '.join(ROUTES)}." if exc.status_code in (404, 405) else ""
        return problem(exc.status_code, f"{exc.detail}.{hint}", headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _on_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error while handling %s %s", request.method, request.url.path)
        return problem(500, "Internal server error; the server log has the details.")

    def problem_body(status: int, message: str, detail: list[dict] | None = None) -> bytes:
        body: dict[str, Any] = {"message": message}
        if detail is not None:
            body["detail"] = detail
        return _ENCODER.encode(body).encode("utf-8")

    async def answer(declared: str | None, chunks: bytes | AsyncIterator[bytes]) -> tuple[int, bytes, dict[str, str]]:
        """POST /predict from its Content-Length and body chunks to ``(status, JSON body, extra headers)``."""
        try:
            return 200, await predict(declared, chunks), {}
        except _HTTPProblem as exc:
            return exc.status, problem_body(exc.status, exc.message, exc.detail), exc.headers

    async def predict(declared: str | None, chunks: bytes | AsyncIterator[bytes]) -> bytes:
        if state["closing"]:
            raise _HTTPProblem(503, "The server is shutting down.", headers={"Retry-After": "1"})
        with batcher.arriving():
            body = _parse_json(await _read_body(declared, chunks, max_body_bytes), fast_loads)
            try:
                rows, ids, single = codec.parse(body, max_records=max_batch)
            except RecordsInvalid as exc:
                raise _HTTPProblem(422, str(exc), [e.to_json() for e in exc.errors]) from None
            if micro_batching:
                if not batcher.started and not state["closing"]:
                    await batcher.start()  # served without a lifespan (e.g. a test client used without `with`)
                try:
                    pending = await batcher.dispatch(rows, len(rows))
                except QueueFull as exc:
                    raise _HTTPProblem(503, str(exc), headers={"Retry-After": "1"}) from None
                except BatcherClosed as exc:
                    raise _HTTPProblem(503, str(exc), headers={"Retry-After": "1"}) from None
        try:
            if micro_batching:
                outputs, finite = await pending
            else:
                outputs, finite = (await run_in_threadpool(model.run_batch, [rows]))[0]
        except BatcherClosed as exc:
            raise _HTTPProblem(503, str(exc), headers={"Retry-After": "1"}) from None
        except DataError as exc:  # a value the checks let through but the encoder refused
            raise _HTTPProblem(422, str(exc)) from None
        if not finite:
            raise _non_finite(outputs, single)
        metrics.count_records(len(outputs))
        return model.render(outputs, ids, single).encode("utf-8")

    async def predict_route(request: Request) -> Response:
        """POST /predict through Starlette (used when the fast path below does not apply, e.g. under a root path)."""
        status, body, headers = await answer(request.headers.get("content-length"), request.stream())
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    # A plain Starlette route: the handler reads and checks the body itself, so FastAPI's
    # dependency solving would only add per-request work; its OpenAPI entry is written below.
    app.add_route("/predict", predict_route, methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # matched first: it takes nearly every request

    async def predict_asgi(scope: dict, receive: Any, send: Any) -> None:
        """POST /predict as plain ASGI, before FastAPI's telemetry check, middleware and routing.

        The same :func:`answer` as the route; only FastAPI's per-request telemetry check, the
        middlewares, routing and Starlette's request and response objects are skipped. The request
        is timed and counted in the metrics as every other one is.
        """
        start = time.perf_counter()
        status = 500
        metrics.in_flight += 1
        try:
            try:
                first = await receive()
                if first["type"] == "http.request" and not first.get("more_body", False):
                    source: bytes | AsyncIterator[bytes] = first.get("body", b"")  # the whole body in one message
                else:
                    source = _asgi_chunks(first, receive)
                status, body, headers = await answer(_content_length(scope), source)
            except _ClientGone:
                status = 499  # client closed the request (nginx's code); there is no one to answer
                return
            except Exception:
                log.exception("unexpected error while handling POST /predict")
                body, headers = problem_body(500, "Internal server error; the server log has the details."), {}
            raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("latin-1"))]
            raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            metrics.in_flight -= 1
            metrics.observe_request("POST", "/predict", status, time.perf_counter() - start)

    @app.get("/health", summary="Liveness and readiness")
    async def health() -> Response:
        body = {
            "status": "shutting down" if state["closing"] else "ok",
            "task": model.task,
            "label": predictor.label,
            "runtime": runtime_name,
            "bundle": str(predictor.path),
            "uptime_s": round(time.time() - state["started"], 3),
            "queued_rows": batcher.queued_rows,
        }
        return JSONResponse(body, status_code=503 if state["closing"] else 200)

    @app.get("/schema", summary="The inputs the model reads, and the server's limits")
    async def schema() -> Response:
        return JSONResponse(
            {
                "task": model.task,
                "label": predictor.label,
                "classes": model.classes,
                "id_column": codec.id_column,
                "inputs": [{"name": c.name, "type": c.kind, "json_schema": c.schema()} for c in codec.columns],
                "record": codec.record_schema(),
                "limits": limits,
            }
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(info, batcher.queued_rows), media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("paths", {})["/predict"] = {"post": _predict_operation()}
            spec.setdefault("components", {}).setdefault("schemas", {}).update(_schemas(codec, model, max_batch))
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(_MetricsMiddleware, metrics=metrics)
    return app


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and other values a class label or id may hold."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_plain)  # built once, like _DECODER


def _description(predictor: Predictor) -> str:
    kind = "a number (regression)" if predictor.task == "regression" else f"one of {predictor.classes}"
    return (
        f"Predicts **{predictor.label}**: {kind}, from {len(predictor.input_columns)} input columns. "
        "POST one record (an object, a field per column) or a list of records to /predict; "
        "GET /schema lists the columns and their JSON types. Served by traincraft."
    )


def _predict_operation() -> dict[str, Any]:
    def problem(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

    return {
        "summary": "Predict one record or a list of records",
        "description": "Send one record (a JSON object, a field per column) or a list of them; GET /schema lists the columns.",
        "operationId": "predict",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
        "responses": {
            "200": {"description": "Predictions", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}}},
            "400": problem("Malformed JSON"),
            "413": problem("Body over the size limit"),
            "422": problem("A field does not fit the model; `detail` lists each"),
            "503": problem("At capacity or shutting down; retry after the Retry-After seconds"),
        },
    }


def _schemas(codec: RecordCodec, model: _Model, max_batch: int) -> dict[str, Any]:
    record = codec.record_schema()
    if model.task == "regression":
        prediction: dict[str, Any] = {"type": "object", "properties": {"prediction": {"type": ["number", "null"]}}, "required": ["prediction"]}
    else:
        prediction = {
            "type": "object",
            "properties": {
                "prediction": {"enum": model.classes},
                "probabilities": {"type": "object", "properties": {k: {"type": "number"} for k in model.class_keys}},
            },
            "required": ["prediction", "probabilities"],
        }
    if codec.id_column:
        prediction["properties"][codec.id_column] = {"type": ["string", "number", "boolean"]}
    return {
        "Record": record,
        "PredictRequest": {
            "oneOf": [
                {"$ref": "#/components/schemas/Record"},
                {"type": "array", "items": {"$ref": "#/components/schemas/Record"}, "minItems": 1, "maxItems": max_batch},
            ]
        },
        "Prediction": prediction,
        "PredictResponse": {
            "oneOf": [
                {"$ref": "#/components/schemas/Prediction"},
                {"type": "object", "properties": {"predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}}, "required": ["predictions"]},
            ]
        },
        "Problem": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "detail": {"type": "array", "items": {"type": "object", "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}, "type": {"type": "string"}}}},
            },
            "required": ["message"],
        },
    }
