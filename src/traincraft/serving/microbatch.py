"""Dynamic micro-batching: requests that arrive within a few milliseconds share one forward pass.

:class:`MicroBatcher` lives on the server's event loop. ``await submit(item, rows)`` queues an
item (one request's records) and returns its result. One worker task takes everything queued (up
to ``max_rows`` rows), runs ``run_batch(items)`` once for all of them (on the loop or on one
worker thread, see below), and hands each request its share of the results.

A lone request (nothing queued, running or arriving, and the previous batch alone too) skips the
queue and runs at once on the event loop while such requests take under ``lone_max_s``: nobody
else is waiting, and a thread would only add two hops.

Where a batch runs: while batches take under ``inline_max_s`` on average (a small network), on
the event loop itself. Their work is mostly Python that holds the GIL, so a thread would add two
hops and GIL contention, not parallelism; meanwhile new requests wait in the socket buffers and
form the next batch. Slower batches (large networks, images) run on the worker thread, where
torch releases the GIL and the loop keeps reading and validating requests.

When to wait for more: a lone client must not pay for batching, so the worker waits up to
``max_wait_s`` for more requests only when it has reason to expect them, i.e. when the previous
batch held more than one request, or requests are being parsed right now (:meth:`arriving`).
Requests that arrive while a batch runs form the next batch without any waiting.

The queue is bounded (``max_queue_rows``): a request that would overflow it gets
:class:`QueueFull` at once (the server answers 503 with Retry-After) instead of waiting without
limit. :meth:`close` stops taking requests, finishes every queued one, then stops the thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from traincraft.errors import DataError, TraincraftError

__all__ = ["MicroBatcher", "QueueFull", "BatcherClosed", "BatchStats"]

log = logging.getLogger(__name__)

INLINE_MAX_S = 0.001  # batches averaging less run on the event loop (0: never); longer ones on the worker thread
LONE_MAX_S = 0.02  # a lone request runs at once, on the loop, while lone requests average less (0: never)

T = TypeVar("T")
R = TypeVar("R")


class QueueFull(TraincraftError):
    """The batch queue is full; the client should retry shortly."""


class BatcherClosed(TraincraftError):
    """The server is shutting down and takes no new requests."""


@dataclass
class BatchStats:
    """Running totals of the batches run (read by the server's /metrics)."""

    batches: int = 0
    items: int = 0
    rows: int = 0
    seconds: float = 0.0


class _Arrival:
    """``with`` counts a request in :attr:`MicroBatcher._arriving` (a class, not a generator: it runs per request)."""

    __slots__ = ("batcher",)

    def __init__(self, batcher: MicroBatcher) -> None:
        self.batcher = batcher

    def __enter__(self) -> None:
        self.batcher._arriving += 1

    def __exit__(self, *exc: object) -> None:
        self.batcher._arriving -= 1


@dataclass
class _Pending(Generic[T]):
    item: T
    rows: int
    future: asyncio.Future


class MicroBatcher(Generic[T, R]):
    """Batches ``item``s for ``run_batch(items) -> results`` (one result per item, same order)."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_rows: int = 256,
        max_wait_s: float = 0.002,
        max_queue_rows: int = 4096,
        retry_alone: tuple[type[BaseException], ...] = (DataError,),
        on_batch: Callable[[int, int, float], None] | None = None,
        inline_max_s: float = INLINE_MAX_S,
        lone_max_s: float = LONE_MAX_S,
    ) -> None:
        if max_rows < 1 or max_queue_rows < 1 or max_wait_s < 0:
            raise ValueError("max_rows and max_queue_rows must be at least 1 and max_wait_s at least 0")
        self.run_batch = run_batch
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.max_queue_rows = max(max_queue_rows, max_rows)
        self.retry_alone = retry_alone
        self.on_batch = on_batch
        self.inline_max_s = inline_max_s
        self.lone_max_s = lone_max_s
        self._lone_seconds = 0.0  # running average time of a lone request run at once
        self._batch_seconds = 0.0  # running average time of a batch
        self._busy = False  # the worker is running a batch
        self.stats = BatchStats()
        self._queue: collections.deque[_Pending[T]] = collections.deque()
        self._queued_rows = 0
        self._arriving = 0
        self._arrival = _Arrival(self)
        self._last_items = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._lock = threading.Lock()  # stats are read from other threads (metrics)

    # --- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker task and thread on the running event loop."""
        if self._task is not None:
            return
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traincraft-batch")
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._work(), name="traincraft-microbatch")

    async def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new items, finish the queued ones (at most ``timeout_s``), stop the worker thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout_s)
            except asyncio.TimeoutError:
                log.warning("micro-batcher: %d queued request(s) not finished within %.0f s of shutdown", len(self._queue), timeout_s)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        while self._queue:  # only after a timeout: fail what is left rather than leave it hanging
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(BatcherClosed("The server shut down before this request was predicted."))
        self._queued_rows = 0
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._task = None
        self._executor = None

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @property
    def started(self) -> bool:
        """True from :meth:`start` until :meth:`close` has finished."""
        return self._task is not None

    def arriving(self) -> _Arrival:
        """Mark a request as being read and validated (``with batcher.arriving(): ...``): the worker may wait for it to join the batch."""
        return self._arrival

    # --- submitting ------------------------------------------------------------------------------
    async def submit(self, item: T, rows: int = 1) -> R:
        """Submit ``item`` (``rows`` records) and wait for its result."""
        return await (await self.dispatch(item, rows))

    async def dispatch(self, item: T, rows: int = 1) -> asyncio.Future:
        """Run ``item`` at once if it is alone and short, else queue it; return the future of its result.

        Call it while :meth:`arriving`: it first yields once, so that requests which reached the
        server together with this one get to announce themselves and are batched with it.
        """
        if self._can_run_now(rows):
            await asyncio.sleep(0)
            if self._can_run_now(rows) and not self._closing and self._task is not None:
                future = asyncio.get_running_loop().create_future()
                start = time.perf_counter()
                ok, value = self._run([item])[0]
                seconds = time.perf_counter() - start
                self._lone_seconds = seconds if not self._lone_seconds else 0.8 * self._lone_seconds + 0.2 * seconds
                self._record(1, rows, seconds, lone=True)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
                return future
        return self.enqueue(item, rows)

    def enqueue(self, item: T, rows: int = 1) -> asyncio.Future:
        """Queue ``item`` now and return the future of its result (call on the event loop)."""
        if self._closing or self._task is None:
            raise BatcherClosed("The server is shutting down and takes no new requests.")
        if self._queued_rows + rows > self.max_queue_rows and self._queue:
            raise QueueFull(
                f"The server is at capacity ({self._queued_rows} rows queued, limit {self.max_queue_rows}); retry shortly."
            )
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, rows, future))
        self._queued_rows += rows
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    def _can_run_now(self, rows: int) -> bool:
        """A lone, short request while nothing else is queued, running or arriving: no queue at all."""
        return (
            not self._queue
            and not self._busy
            and self._arriving <= 1  # the caller itself, inside arriving()
            and self._last_items <= 1
            and rows <= self.max_rows
            and self._lone_seconds < self.lone_max_s
        )

    def _record(self, items: int, rows: int, seconds: float, *, lone: bool = False) -> None:
        self._last_items = items
        if not lone:
            self._batch_seconds = seconds if not self._batch_seconds else 0.8 * self._batch_seconds + 0.2 * seconds
        with self._lock:
            self.stats.batches += 1
            self.stats.items += items
            self.stats.rows += rows
            self.stats.seconds += seconds
        if self.on_batch is not None:
            self.on_batch(items, rows, seconds)

    # --- the worker ------------------------------------------------------------------------------
    def _take(self, batch: list[_Pending[T]], rows: int) -> int:
        """Move queued items into ``batch`` while they fit in ``max_rows`` (the first always fits)."""
        while self._queue and (not batch or rows + self._queue[0].rows <= self.max_rows):
            pending = self._queue.popleft()
            self._queued_rows -= pending.rows
            if pending.future.cancelled():  # the client went away before its turn
                continue
            batch.append(pending)
            rows += pending.rows
        return rows

    async def _work(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch: list[_Pending[T]] = []
            rows = self._take(batch, 0)
            expect_more = self._arriving > 0 or self._last_items > 1
            if self.max_wait_s > 0 and expect_more and rows < self.max_rows and not self._closing:
                deadline = loop.time() + self.max_wait_s
                while rows < self.max_rows and not self._closing:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    self._wakeup.clear()
                    # a timer that sets the event, not asyncio.wait_for (a task and a timer per arrival)
                    timer = loop.call_later(left, self._wakeup.set)
                    try:
                        await self._wakeup.wait()
                    finally:
                        timer.cancel()
                    rows = self._take(batch, rows)
                    if self._arriving == 0 and not self._queue and self._last_items <= len(batch):
                        break  # everyone expected has joined
            if not batch:
                continue
            self._busy = True
            start = time.perf_counter()
            try:
                if self._batch_seconds < self.inline_max_s:
                    # short work: run it here; a thread would only contend for the GIL and add two hops
                    outcomes = self._run([p.item for p in batch])
                else:
                    outcomes = await loop.run_in_executor(self._executor, self._run, [p.item for p in batch])
            finally:
                self._busy = False
            self._record(len(batch), rows, time.perf_counter() - start)
            for pending, (ok, value) in zip(batch, outcomes):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _run(self, items: list[T]) -> list[tuple[bool, Any]]:
        """On the worker thread: the whole batch at once; if it fails on bad data, each item alone."""
        try:
            results = self.run_batch(items)
        except self.retry_alone as exc:
            if len(items) == 1:
                return [(False, exc)]
            return [self._run_one(item) for item in items]
        except Exception as exc:  # handed to every waiting request, which reports it as a server error
            log.exception("micro-batch of %d request(s) failed", len(items))
            return [(False, exc)] * len(items)
        if len(results) != len(items):
            error = RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
            return [(False, error)] * len(items)
        return [(True, r) for r in results]

    def _run_one(self, item: T) -> tuple[bool, Any]:
        try:
            return True, self.run_batch([item])[0]
        except Exception as exc:  # the caller reports this item's own error
            return False, exc
