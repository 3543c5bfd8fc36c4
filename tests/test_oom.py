"""OOM recovery, exercised on the CPU by injecting out-of-memory errors: the effective batch
is kept, each reduction is logged and kept, accumulated gradients equal the full batch's, and
chunked work returns the same results in order."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from qagent._validation import InputError
from qagent.oom import (
    ChunkedRunner,
    InsufficientMemoryError,
    OOMRetry,
    is_oom_error,
    next_micro_batch,
    run_in_chunks,
)


def cuda_oom() -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 158.00 MiB. GPU 0 has a total capacity of 3.68 GiB of which 5.69 MiB is free.\n"
        "Of the allocated memory 3.2 GiB is allocated by PyTorch"
    )


def test_is_oom_error_recognises_allocation_failures_only():
    assert is_oom_error(cuda_oom())
    for message in ("CUDA error: out of memory", "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
                    "cudaErrorMemoryAllocation", "cuDNN error: CUDNN_STATUS_ALLOC_FAILED"):
        assert is_oom_error(RuntimeError(message)), message
    assert not is_oom_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_oom_error(ValueError("out of memory"))  # not a RuntimeError
    assert not is_oom_error(KeyError("x"))


# ----------------------------------------------------------------------------- micro-batches
class FakeStep:
    """A training step that runs out of memory above ``limit`` samples per micro-batch or at
    the calls listed in ``fail_at`` (1-based)."""

    def __init__(self, limit: int = 10**9, fail_at: tuple[int, ...] = ()):
        self.limit, self.fail_at, self.calls = limit, fail_at, []

    def __call__(self, micro_batch: int, accumulation_steps: int) -> int:
        self.calls.append((micro_batch, accumulation_steps))
        if micro_batch > self.limit or len(self.calls) in self.fail_at:
            raise cuda_oom()
        return micro_batch * accumulation_steps


def test_oom_halves_the_micro_batch_keeps_the_effective_batch_and_logs(caplog):
    retry = OOMRetry(32)
    step = FakeStep(limit=4)
    with caplog.at_level(logging.WARNING, logger="qagent.oom"):
        assert retry.run(step) == 32
    assert step.calls == [(32, 1), (16, 2), (8, 4), (4, 8)]
    assert (retry.micro_batch, retry.accumulation_steps) == (4, 8)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "micro-batch 32 x 1" in messages[0] and "micro-batch 16 x 2" in messages[0]
    assert all("effective batch 32 unchanged" in m and "Tried to allocate 158.00 MiB" in m for m in messages)


def test_the_smaller_size_is_kept_for_later_steps():
    retry = OOMRetry(64, 16)
    step = FakeStep(fail_at=(2,))  # a single OOM in the second call, e.g. a fragmented moment
    for _ in range(4):
        retry.run(step)
    assert step.calls == [(16, 4), (16, 4), (8, 8), (8, 8), (8, 8)]


@pytest.mark.parametrize("effective, sizes", [
    (64, [64, 32, 16, 8, 4, 2, 1]),
    (48, [48, 24, 12, 6, 3, 1]),
    (100, [100, 50, 25, 10, 5, 2, 1]),
    (37, [37, 1]),
])
def test_micro_batches_are_divisors_of_the_effective_batch(effective, sizes):
    seen = [effective]
    while seen[-1] > 1:
        seen.append(next_micro_batch(effective, seen[-1]))
    assert seen == sizes
    step = FakeStep(limit=0)
    with pytest.raises(InsufficientMemoryError):
        OOMRetry(effective).run(step)
    assert [m for m, _ in step.calls] == sizes
    assert all(m * a == effective for m, a in step.calls)


def test_out_of_memory_at_one_sample_raises_a_clear_error():
    with pytest.raises(InsufficientMemoryError, match="micro-batch of 1") as info:
        OOMRetry(4).run(FakeStep(limit=0))
    assert "smaller preset" in str(info.value) and "lower grid resolution" in str(info.value)


def test_other_errors_pass_through_without_shrinking():
    retry = OOMRetry(8)

    def broken(micro_batch, accumulation_steps):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        retry.run(broken)
    assert retry.micro_batch == 8


def test_bad_sizes_are_refused():
    with pytest.raises(InputError, match="does not divide"):
        OOMRetry(32, 12)
    with pytest.raises(InputError, match="effective_batch"):
        OOMRetry(0)
    with pytest.raises(InputError, match="chunk_size"):
        ChunkedRunner(0)


def make_problem(seed: int = 0):
    """A small conv net WITHOUT BatchNorm (samples independent) and a batch of 16."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 1))
    x, y = torch.randn(16, 3, 6, 5), torch.randn(16, 1, 6, 5)
    return net, x, y


def full_batch_gradients():
    net, x, y = make_problem()
    F.mse_loss(net(x), y).backward()
    return [p.grad.clone() for p in net.parameters()]


def test_accumulated_gradients_equal_the_full_batch_gradient_after_ooms():
    """(1/A) sum_a mean_{i in M_a} l_i = mean_i l_i: the mean of micro-batch losses, each
    divided by the accumulation steps, has the full batch's gradient. The OOM strikes in the
    middle of an attempt, after some micro-batches were already backpropagated; the optimizer
    passed to OOMRetry drops those partial gradients before the retry."""
    net, x, y = make_problem()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    attempts = []

    def step(micro_batch, accumulation_steps):  # deliberately does not zero grads itself
        attempts.append(micro_batch)
        for a in range(accumulation_steps):
            part = slice(a * micro_batch, (a + 1) * micro_batch)
            (F.mse_loss(net(x[part]), y[part]) / accumulation_steps).backward()
            if micro_batch > 4 and a == 1:
                raise cuda_oom()  # dies in the 2nd micro-batch, partial gradients left behind
        return [p.grad.clone() for p in net.parameters()]

    grads = OOMRetry(16, 8, optimizer=optimizer).run(step)
    assert attempts == [8, 4]
    for g, expected in zip(grads, full_batch_gradients()):
        torch.testing.assert_close(g, expected, rtol=1e-5, atol=1e-7)


def test_without_dropping_partial_gradients_the_result_would_be_wrong():
    """The counterpart of the test above: it fails if the partial gradients are kept."""
    net, x, y = make_problem()
    calls = []

    def step(micro_batch, accumulation_steps):
        calls.append(micro_batch)
        for a in range(accumulation_steps):
            part = slice(a * micro_batch, (a + 1) * micro_batch)
            (F.mse_loss(net(x[part]), y[part]) / accumulation_steps).backward()
            if micro_batch > 4 and a == 1:
                raise cuda_oom()
        return [p.grad.clone() for p in net.parameters()]

    grads = OOMRetry(16, 8).run(step)  # no optimizer, no on_oom: nothing zeroes the grads
    assert any(not torch.allclose(g, e) for g, e in zip(grads, full_batch_gradients()))


def test_on_oom_callback_runs_before_each_retry():
    events = []

    def step(micro_batch, accumulation_steps):
        events.append(micro_batch)
        if micro_batch > 2:
            raise cuda_oom()

    OOMRetry(8, on_oom=lambda: events.append("freed")).run(step)
    assert events == [8, "freed", 4, "freed", 2]


# ----------------------------------------------------------------------------- chunks
def test_chunks_shrink_on_oom_and_results_stay_identical_and_ordered(caplog):
    calls = []

    def simulate(start, stop):
        calls.append((start, stop))
        if stop - start > 3:
            raise cuda_oom()
        return torch.arange(start, stop) ** 2

    runner = ChunkedRunner(8)
    with caplog.at_level(logging.WARNING, logger="qagent.oom"):
        parts = runner.run(simulate, 11)
    torch.testing.assert_close(torch.cat(parts), torch.arange(11) ** 2)
    assert calls[:2] == [(0, 8), (0, 4)] and runner.chunk_size == 2
    assert [c for c in calls if c[1] - c[0] <= 3] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 11)]
    assert len(caplog.records) == 2 and "chunks of 2" in caplog.records[-1].getMessage()
    calls.clear()
    runner.run(simulate, 5)  # the smaller chunk size is kept for the next call
    assert calls == [(0, 2), (2, 4), (4, 5)]


def test_an_oom_in_the_short_last_chunk_halves_that_chunk():
    def fn(start, stop):
        if start == 8 and stop - start > 1:
            raise cuda_oom()
        return list(range(start, stop))

    parts = run_in_chunks(fn, 11, 4)
    assert parts == [[0, 1, 2, 3], [4, 5, 6, 7], [8], [9], [10]]


def test_chunks_raise_at_one_item_and_handle_nothing_to_do():
    def always_oom(start, stop):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(InsufficientMemoryError, match="chunk of 1 item"):
        run_in_chunks(always_oom, 5, 4, name="fire simulation")
    assert run_in_chunks(always_oom, 0, 4) == []


# ----------------------------------------------------------------------------- the environment
def test_environment_simulations_shrink_their_chunks_on_oom_with_identical_rewards(monkeypatch, caplog):
    """The training environment's batch of simulations goes through ChunkedRunner: inject "CUDA
    out of memory" into the spread op for chunks over 4 simulations; episodes give the same
    rewards as without, each simulation counted once, and the smaller chunk is kept."""
    import numpy as np

    import qagent.env.fuel_break_env as env_module
    from qagent.env import BatchedFuelBreakEnv, EnvConfig, SyntheticSource

    config = EnvConfig(budget_fraction=0.05, cells_per_step=2, ignitions=6)

    def episode(env):
        rng = np.random.default_rng(0)
        _, info = env.reset()
        rewards, done = [], np.zeros(env.num_envs, dtype=bool)
        while not done.all():
            mask = info["action_mask"].cpu().numpy()
            actions = np.stack([rng.choice(np.flatnonzero(m), 2, replace=False) for m in mask])
            _, r, terminated, _, info = env.step(actions)
            rewards.append(r)
            done |= terminated
        return np.stack(rewards), env.episode_returns(), env.simulations

    def make_env():
        return BatchedFuelBreakEnv(SyntheticSource((14, 14)), 3, config, seed=1, autoreset=False)

    expected = episode(make_env())
    original = env_module.run_spread
    sizes, failures = [], []

    def flaky(params, param_index, ignition, *args, **kwargs):
        if ignition.shape[0] > 4:
            failures.append(ignition.shape[0])
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        sizes.append(ignition.shape[0])
        return original(params, param_index, ignition, *args, **kwargs)

    monkeypatch.setattr(env_module, "run_spread", flaky)
    env = make_env()
    with caplog.at_level(logging.WARNING, logger="qagent.oom"):
        rewards, returns, simulations = episode(env)
    assert failures == [6]  # once, at the first baseline (6 fires); the halved chunk is kept after
    assert env.spread_chunks.chunk_size == 3 and max(sizes) == 3
    assert np.array_equal(rewards, expected[0]) and np.array_equal(returns, expected[1])
    assert simulations == expected[2]  # the failed chunk was not counted
    assert any("environment simulations" in r.getMessage() for r in caplog.records)
