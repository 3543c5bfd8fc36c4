"""Recovering from GPU out-of-memory errors by doing less work per call.

Two tools here turn a CUDA out-of-memory error, which would end a run, into a slower, but
equivalent, run (why: docs/history.md, "Out of GPU memory"):

- :class:`OOMRetry` runs a training step as ``accumulation_steps`` micro-batches of
  ``micro_batch`` samples whose gradients are accumulated before one optimizer step. On an
  OOM it frees the failed attempt, halves the micro-batch, doubles the accumulation (the
  effective batch, micro_batch x accumulation_steps, is unchanged) and re-runs the step from
  scratch; the smaller size is kept for later steps.
- :class:`ChunkedRunner` / :func:`run_in_chunks` run work over ``n_items`` (e.g. fire
  simulations of many environments) in chunks and halve the chunk size on an OOM, re-running
  only the chunk that failed.

Below a size of 1 they raise :class:`InsufficientMemoryError`, which says what to change.

Equivalence of accumulation. If the step's loss is the mean over the effective batch of E
per-sample losses, L = (1/E) sum_i l_i, then with micro-batches M_1..M_A of equal size m = E/A,
L = (1/A) sum_a (1/m) sum_{i in M_a} l_i: backpropagating each micro-batch's mean loss divided
by A accumulates exactly the full-batch gradient (up to float rounding). This holds for a
model without batch-coupled layers; BatchNorm computes its statistics per micro-batch, so
there a smaller micro-batch changes the step slightly (see ``qagent.agent.models``).

Batches that are not powers of two. To keep every micro-batch the same size (equal weights
1/A above, and steady BatchNorm statistics), the micro-batch is always a divisor of the
effective batch: on an OOM it becomes the largest divisor of E that is at most half the
current micro-batch. For powers of two (all presets) that is an exact halving; for E = 48:
48, 24, 12, 6, 3, 1; for E = 100: 100, 50, 25, 10, 5, 2, 1; a prime E falls straight to 1.
Chunks of independent items need no equal sizes: a chunk size simply halves (rounding down),
and the last chunk may be shorter.

Freeing memory. The failed attempt's tensors (the partial autograd graph, activations) are
referenced by the exception's traceback; they are released when the ``except`` block ends,
then the gradients are dropped (``optimizer.zero_grad(set_to_none=True)`` and/or the
``on_oom`` callback), ``gc.collect()`` breaks remaining cycles, and
``torch.cuda.empty_cache()`` returns the cached blocks to the driver so the retry can get
them as larger contiguous allocations. The step function must therefore be restartable: it
should zero the gradients itself at its start and take its data from outside (e.g. a batch
sampled once before ``run``), so a retry recomputes the same step.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import TypeVar

import torch

from qagent._validation import InputError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Lower-case fragments of allocation-failure messages: the caching allocator's "CUDA out of
# memory" and the CUDA runtime's "out of memory" (and HIP's), cuBLAS, cuDNN and the CUDA
# error enum name.
_OOM_MESSAGE_FRAGMENTS = (
    "out of memory",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "cudaerrormemoryallocation",
)

_ADVICE = (
    "choose a smaller preset (qagent-train --preset low, or demo), a smaller model (qnet), "
    "or a lower grid resolution; close other programs using the GPU (see nvidia-smi)"
)


class InsufficientMemoryError(RuntimeError):
    """Out of memory even at a micro-batch (or chunk) of one item."""


def is_oom_error(exc: BaseException) -> bool:
    """True for ``torch.cuda.OutOfMemoryError`` and for RuntimeErrors whose message shows a
    failed GPU allocation (CUDA, cuBLAS, cuDNN)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(f in str(exc).lower() for f in _OOM_MESSAGE_FRAGMENTS)


def release_memory(optimizer: torch.optim.Optimizer | None = None, on_oom: Callable[[], None] | None = None) -> None:
    """Drop the gradients (``optimizer.zero_grad(set_to_none=True)``), call ``on_oom``,
    collect garbage and, if CUDA is in use, return cached blocks to the driver."""
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    if on_oom is not None:
        on_oom()
    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def next_micro_batch(effective_batch: int, micro_batch: int) -> int:
    """The largest divisor of ``effective_batch`` that is at most ``micro_batch // 2`` (and
    at least 1)."""
    for size in range(max(1, micro_batch // 2), 0, -1):
        if effective_batch % size == 0:
            return size
    return 1


def _describe(exc: BaseException) -> str:
    """First line of an OOM message (the allocator's message runs over several lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected a positive integer, got {value!r}")


class OOMRetry:
    """Run training steps with gradient accumulation, shrinking the micro-batch on OOM.

    ``OOMRetry(effective_batch, micro_batch=None, *, optimizer=None, on_oom=None)``:
    ``micro_batch`` (default: the whole effective batch) must divide ``effective_batch``.
    ``run(step_fn)`` calls ``step_fn(micro_batch, accumulation_steps)`` and returns its
    result; ``step_fn`` does one complete optimizer step as ``accumulation_steps`` forward /
    backward passes over consecutive slices of ``micro_batch`` samples (each loss divided by
    ``accumulation_steps``), then ``optimizer.step()``. On an OOM the attempt is discarded
    (see the module docstring), the micro-batch shrinks and ``step_fn`` runs again; the
    reduction is logged (``logging.WARNING``, logger ``qagent.oom``) and kept for the
    following steps (``micro_batch`` / ``accumulation_steps`` attributes). At a micro-batch of
    1 a further OOM raises :class:`InsufficientMemoryError`. Other exceptions pass through.
    """

    def __init__(
        self,
        effective_batch: int,
        micro_batch: int | None = None,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        on_oom: Callable[[], None] | None = None,
        name: str = "training step",
    ):
        _check_size("effective_batch", effective_batch)
        micro_batch = effective_batch if micro_batch is None else micro_batch
        _check_size("micro_batch", micro_batch)
        if effective_batch % micro_batch:
            raise InputError(f"micro_batch: {micro_batch} does not divide the effective batch {effective_batch}")
        self.effective_batch = effective_batch
        self.micro_batch = micro_batch
        self.optimizer = optimizer
        self.on_oom = on_oom
        self.name = name

    @property
    def accumulation_steps(self) -> int:
        return self.effective_batch // self.micro_batch

    def run(self, step_fn: Callable[[int, int], T]) -> T:
        while True:
            try:
                return step_fn(self.micro_batch, self.accumulation_steps)
            except Exception as exc:
                if not is_oom_error(exc):
                    raise
                reason = _describe(exc)
            # Outside the except block: the exception and its traceback (which hold the
            # failed attempt's tensors) are gone before memory is released.
            release_memory(self.optimizer, self.on_oom)
            self._shrink(reason)

    def _shrink(self, reason: str) -> None:
        if self.micro_batch == 1:
            raise InsufficientMemoryError(
                f"{self.name}: out of GPU memory even with a micro-batch of 1 sample "
                f"({self.accumulation_steps} accumulation steps for the effective batch of "
                f"{self.effective_batch}): {reason}. To continue, {_ADVICE}."
            )
        old_micro, old_steps = self.micro_batch, self.accumulation_steps
        self.micro_batch = next_micro_batch(self.effective_batch, self.micro_batch)
        logger.warning(
            "%s: out of GPU memory with micro-batch %d x %d accumulation steps (%s); retrying with "
            "micro-batch %d x %d steps, effective batch %d unchanged",
            self.name, old_micro, old_steps, reason, self.micro_batch, self.accumulation_steps, self.effective_batch,
        )


class ChunkedRunner:
    """Run ``fn(start, stop)`` over ``[0, n_items)`` in chunks of ``chunk_size`` items,
    halving the chunk size on OOM and keeping it halved for later chunks and later calls.

    ``run(fn, n_items)`` returns the results of the successful calls in order (one per chunk,
    consecutive half-open ranges that cover ``[0, n_items)``; concatenate them as needed).
    A chunk that runs out of memory is re-run from its start with the smaller size, after
    ``on_oom`` and ``release_memory``; ``fn`` must not have side effects that a re-run would
    repeat. An OOM on a single item raises :class:`InsufficientMemoryError`."""

    def __init__(self, chunk_size: int, *, on_oom: Callable[[], None] | None = None, name: str = "simulation"):
        _check_size("chunk_size", chunk_size)
        self.chunk_size = chunk_size
        self.on_oom = on_oom
        self.name = name

    def run(self, fn: Callable[[int, int], T], n_items: int) -> list[T]:
        if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 0:
            raise InputError(f"n_items: expected a non-negative integer, got {n_items!r}")
        results: list[T] = []
        start = 0
        while start < n_items:
            stop = min(start + self.chunk_size, n_items)
            try:
                results.append(fn(start, stop))
                start = stop
                continue
            except Exception as exc:
                if not is_oom_error(exc):
                    raise
                reason = _describe(exc)
            release_memory(on_oom=self.on_oom)
            self._shrink(stop - start, reason)
        return results

    def _shrink(self, failed_size: int, reason: str) -> None:
        if failed_size == 1:
            raise InsufficientMemoryError(
                f"{self.name}: out of GPU memory even for a chunk of 1 item: {reason}. To continue, {_ADVICE}."
            )
        old = self.chunk_size
        self.chunk_size = failed_size // 2
        logger.warning("%s: out of GPU memory with a chunk of %d items (%s); retrying with chunks of %d (was %d)",
                       self.name, failed_size, reason, self.chunk_size, old)


def run_in_chunks(
    fn: Callable[[int, int], T],
    n_items: int,
    chunk_size: int,
    *,
    on_oom: Callable[[], None] | None = None,
    name: str = "simulation",
) -> list[T]:
    """One-off :meth:`ChunkedRunner.run`: ``fn(start, stop)`` over ``[0, n_items)`` in
    chunks, halving the chunk size on OOM; the results in order. Use a :class:`ChunkedRunner`
    to keep a reduced chunk size across calls."""
    return ChunkedRunner(chunk_size, on_oom=on_oom, name=name).run(fn, n_items)
