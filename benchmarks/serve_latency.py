"""Serving over loopback: `traincraft serve` beside a minimal hand-written FastAPI endpoint, and
micro-batching against none under 32 concurrent clients.

Model: the breast-cancer bundle (30 numeric inputs; examples/tabular/recipe.yaml, trained here for
a few epochs unless ``--bundle`` is given). ``--hidden 1024,1024,1024`` trains a wider head instead.

Servers, each its own process under uvicorn (same settings: one worker, access log off, torch with
``--threads`` threads), on 127.0.0.1 only:

(a) minimal:      one ``async def`` FastAPI route taking ``dict[str, float]``; it standardises the
                  30 numbers with the bundle's means and stds in numpy, runs the same torch
                  network, and returns the label and probabilities. No schema checks beyond
                  FastAPI's, no limits, no metrics, no batching.
(b) traincraft:   ``create_app(bundle)``: full validation against the bundle's schema, body and
                  batch limits, Prometheus metrics, micro-batching (defaults).
(c) no-batching:  ``create_app(bundle, micro_batching=False)``: the same, each request predicted
                  on its own in the thread pool.
(d) http floor:   a bare ASGI callable under the same uvicorn that reads the body and answers a
                  fixed prediction: no JSON parsing, no validation, no model. Its CPU per request is
                  what uvicorn and the event loop cost; (b) minus (d) is traincraft's own work, (c)
                  minus (b) what a forward pass per request (and its thread hop) adds.

Single-record latency: sequential requests on one keep-alive connection, ``--requests`` per
server split over ``--rounds`` rounds that alternate the servers (so a noisy neighbour hits both),
after a warm-up. Throughput: ``--clients`` connections each sending requests back to back, a
fixed total (``--concurrent-requests``) per measurement, ``--rounds`` times alternating (b) and
(c); the median rate is reported. Every phase is bounded in count and in time (``--timeout``).
The client is a few lines of asyncio over raw HTTP/1.1 on uvloop's event loop when it is installed
(``--client-loop``), so that the load generator, which shares the two cores with the servers,
costs little: the same client for every server. Server CPU time per request (from /proc) and the
client's own CPU time per request are printed beside the wall-clock numbers: on a shared machine
other processes steal wall time unevenly.

Targets: (b)'s p99 <= 1.2x (a)'s; (b) >= 3x (c) in requests per second at 32 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WARMUP = 200  # requests per server before measuring (JIT-free, but caches, allocator, connection)
DISTINCT_RECORDS = 100  # the test records cycled through
CLIENT_LOOP = "asyncio"  # set from --client-loop


# --- servers (run in child processes) --------------------------------------------------------------
def minimal_app(bundle: str) -> Any:
    import numpy as np
    import torch
    from fastapi import FastAPI

    from traincraft.serving import read_bundle

    contents = read_bundle(bundle)
    model, meta = contents.model, contents.meta
    encoders = meta["encoder"]["encoders"]
    if any(e["type"] != "numeric" or e["has_missing"] for e in encoders):
        raise SystemExit("the minimal endpoint is written for bundles of numeric columns without missing values")
    columns = [e["name"] for e in encoders]
    mean = np.array([e["mean"] for e in encoders])
    std = np.array([e["std"] for e in encoders])
    classes = list(meta["label_codec"]["classes"])
    keys = [str(c) for c in classes]
    app = FastAPI()

    @app.post("/predict")
    async def predict(record: dict[str, float]) -> dict:
        x = (np.array([record[c] for c in columns]) - mean) / std
        with torch.inference_mode():
            p = torch.softmax(model({"dense": torch.from_numpy(x[None].astype(np.float32))}), dim=1)[0].tolist()
        return {"prediction": classes[int(np.argmax(p))], "probabilities": dict(zip(keys, p))}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def floor_app() -> Any:
    """(d): uvicorn's own cost per request; reads the body, answers a constant."""
    answer = json.dumps({"prediction": "malignant", "probabilities": {"malignant": 0.5, "benign": 0.5}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = scope["method"] == "POST"
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def run_server(kind: str, bundle: str, port: int, threads: int) -> None:
    import uvicorn

    from traincraft._util.seed import set_threads
    from traincraft.serving.server import create_app

    set_threads(threads)
    if kind == "minimal":
        app = minimal_app(bundle)
    elif kind == "http-floor":
        app = floor_app()
    else:
        app = create_app(bundle, micro_batching=(kind == "traincraft"))
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# --- client ----------------------------------------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection: POST bytes, read status and body (Content-Length only)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        response = await self.reader.readuntil(b"\r\n\r\n")
        status = int(response[9:12])
        length = 0
        for line in response.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, bundle: str, threads: int, timeout: float) -> None:
        self.kind = kind
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        command = [sys.executable, __file__, "--serve", kind, "--bundle", bundle, "--port", str(self.port), "--threads", str(threads)]
        self.process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + timeout
        while True:  # bounded: until /health answers or the timeout
            try:
                status = run(self._health())
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise SystemExit(f"the {kind} server did not start within {timeout:.0f} s")
            time.sleep(0.25)

    async def _health(self) -> int:
        conn = await Connection.open(self.port)
        try:
            return (await conn.request("GET", "/health"))[0]
        finally:
            conn.close()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


async def sequential(port: int, bodies: list[bytes], n: int, timeout: float) -> list[float]:
    conn = await Connection.open(port)
    latencies = []
    deadline = time.monotonic() + timeout
    try:
        for i in range(n):
            start = time.perf_counter()
            status, _ = await conn.request("POST", "/predict", bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise SystemExit(f"request {i} got HTTP {status}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{n} sequential requests did not finish within {timeout:.0f} s")
    finally:
        conn.close()
    return latencies


async def concurrent(port: int, bodies: list[bytes], clients: int, total: int, timeout: float) -> tuple[float, list[float]]:
    conns = [await Connection.open(port) for _ in range(clients)]
    remaining = [total]
    latencies: list[float] = []

    async def client(conn: Connection, k: int) -> None:
        i = k
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            status, _ = await conn.request("POST", "/predict", bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise SystemExit(f"HTTP {status} under load")
            i += clients

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(client(c, k) for k, c in enumerate(conns))), timeout=timeout)
    finally:
        for c in conns:
            c.close()
    return total / (time.perf_counter() - start), latencies


def run(coroutine: Any) -> Any:
    """Run a client coroutine on the chosen event loop (uvloop's is several times cheaper per request)."""
    if CLIENT_LOOP == "uvloop":
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the benchmark ------------------------------------------------------------------------------------
def make_bundle(hidden: str | None, workdir: Path) -> str:
    import traincraft as tc

    recipe: dict[str, Any] = {"train": {"epochs": 8}}
    if hidden:
        recipe["model"] = {"hidden": [int(h) for h in hidden.split(",")]}
    run = tc.train(ROOT / "examples" / "tabular" / "recipe.yaml", recipe=recipe, runs_dir=workdir)
    return str(run.bundle_dir)


def test_records() -> list[dict[str, float]]:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    return json.loads(frame.head(DISTINCT_RECORDS).to_json(orient="records"))


def check_same_model(servers: dict[str, Server], bodies: list[bytes]) -> float:
    async def ask(port: int) -> list[dict]:
        conn = await Connection.open(port)
        try:
            return [json.loads((await conn.request("POST", "/predict", b))[1]) for b in bodies[:20]]
        finally:
            conn.close()

    a = run(ask(servers["minimal"].port))
    b = run(ask(servers["traincraft"].port))
    return max(abs(x["probabilities"][k] - y["probabilities"][k]) for x, y in zip(a, b) for k in x["probabilities"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", help="a bundle of numeric columns (default: train breast cancer here)")
    parser.add_argument("--hidden", help="MLP widths when training here, e.g. 1024,1024,1024 (default: the recipe's)")
    parser.add_argument("--requests", type=int, default=2000, help="sequential single-record requests per server")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--concurrent-requests", type=int, default=3200, help="requests per throughput measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each server")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds any one phase may take")
    parser.add_argument("--client-loop", choices=["uvloop", "asyncio"], default=None, help="the load generator's event loop (default: uvloop if installed)")
    parser.add_argument("--serve", choices=["minimal", "traincraft", "no-batching", "http-floor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.bundle, args.port, args.threads)
        return
    global CLIENT_LOOP
    CLIENT_LOOP = args.client_loop or ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")

    with tempfile.TemporaryDirectory(prefix="serve-latency-") as tmp:
        bundle = args.bundle or make_bundle(args.hidden, Path(tmp))
        bodies = [json.dumps(r).encode() for r in test_records()]
        servers = {kind: Server(kind, bundle, args.threads, args.timeout) for kind in ("minimal", "traincraft", "no-batching", "http-floor")}
        try:
            report(args, servers, bodies, bundle)
        finally:
            for server in servers.values():
                server.stop()


def report(args: argparse.Namespace, servers: dict[str, Server], bodies: list[bytes], bundle: str) -> None:
    load = os.getloadavg()
    print(f"bundle {bundle}; {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch threads per server {args.threads}; client loop {CLIENT_LOOP}")
    difference = check_same_model(servers, bodies)
    print(f"same model: probabilities of minimal and traincraft differ by at most {difference:.2e}")

    # single-record latency, sequential, rounds alternating the servers
    kinds = ("minimal", "traincraft")
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, float] = {k: 0.0 for k in kinds}
    for kind in kinds:
        run(sequential(servers[kind].port, bodies, WARMUP, args.timeout))
    per_round = max(1, args.requests // args.rounds)
    for r in range(args.rounds):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            before = servers[kind].cpu()
            latencies[kind] += run(sequential(servers[kind].port, bodies, per_round, args.timeout))
            cpu[kind] += servers[kind].cpu() - before
    print(f"\nsingle record, sequential, {per_round * args.rounds} requests per server (ms)")
    print(f"{'server':<12}{'p50':>8}{'p90':>8}{'p99':>8}{'mean':>8}{'server CPU/req':>16}")
    for kind in kinds:
        values = [v * 1e3 for v in latencies[kind]]
        n = len(values)
        print(f"{kind:<12}{percentile(values, 50):>8.3f}{percentile(values, 90):>8.3f}{percentile(values, 99):>8.3f}{statistics.mean(values):>8.3f}{cpu[kind] / n * 1e3:>16.3f}")
    ratio50 = percentile(latencies["traincraft"], 50) / percentile(latencies["minimal"], 50)
    ratio99 = percentile(latencies["traincraft"], 99) / percentile(latencies["minimal"], 99)
    print(f"traincraft / minimal: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x (target p99 <= 1.2x): {'PASS' if ratio99 <= 1.2 else 'FAIL'}")

    # throughput under concurrent clients, micro-batching against none (and uvicorn's floor)
    kinds = ("traincraft", "no-batching", "http-floor")
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    loaded: dict[str, list[float]] = {k: [] for k in kinds}
    cpu = {k: 0.0 for k in kinds}
    client_cpu = {k: 0.0 for k in kinds}
    for kind in kinds:
        run(concurrent(servers[kind].port, bodies, args.clients, WARMUP, args.timeout))
    for r in range(args.rounds):
        for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:  # rotate the order
            before, client_before = servers[kind].cpu(), time.process_time()
            rate, values = run(concurrent(servers[kind].port, bodies, args.clients, args.concurrent_requests, args.timeout))
            cpu[kind] += servers[kind].cpu() - before
            client_cpu[kind] += time.process_time() - client_before
            rates[kind].append(rate)
            loaded[kind] += values
    print(f"\n{args.clients} concurrent clients, {args.concurrent_requests} requests x {args.rounds} rounds per server")
    print(f"{'server':<14}{'req/s (median)':>16}{'p50 ms':>9}{'p99 ms':>9}{'server CPU/req ms':>19}{'client CPU/req ms':>19}   rounds (req/s)")
    for kind in kinds:
        shown = ", ".join(f"{r:.0f}" for r in rates[kind])
        n = args.concurrent_requests * args.rounds
        print(f"{kind:<14}{statistics.median(rates[kind]):>16.0f}{percentile(loaded[kind], 50) * 1e3:>9.2f}{percentile(loaded[kind], 99) * 1e3:>9.2f}{cpu[kind] / n * 1e3:>19.3f}{client_cpu[kind] / n * 1e3:>19.3f}   {shown}")
    speedup = statistics.median(rates["traincraft"]) / statistics.median(rates["no-batching"])
    paired = statistics.median(b / a for b, a in zip(rates["traincraft"], rates["no-batching"]))
    print(f"micro-batching / none: {speedup:.2f}x requests per second (target >= 3x): {'PASS' if speedup >= 3 else 'FAIL'}")
    print(f"median of the per-round ratios (each round measures both within seconds): {paired:.2f}x")
    print(f"server CPU per request, none / micro-batching: {cpu['no-batching'] / cpu['traincraft']:.2f}x")
    n = args.concurrent_requests * args.rounds
    floor, batched, alone = (cpu[k] / n * 1e3 for k in ("http-floor", "traincraft", "no-batching"))
    print(
        f"server CPU per request (ms): uvicorn + event loop {floor:.3f}; traincraft's checks, JSON and batching "
        f"{batched - floor:.3f}; a forward pass and thread hop per request (none) {alone - batched:.3f}"
    )
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
