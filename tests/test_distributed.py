"""Distributed runs with 2 CPU processes (gloo) under torchrun: DDP keeps the ranks'
parameters identical, resuming restores every rank, and sharded simulations and evaluation
equal their single-process results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qagent.train.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("distributed_worker.py")


def torchrun(*args: str, timeout: int = 600) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    torchrun("train", str(out), "64")
    return out


def test_ranks_end_with_identical_parameters(trained):
    states = [load_checkpoint(trained / f"rank{r}.pt") for r in (0, 1)]
    main = load_checkpoint(trained / "final.pt")
    assert main["counters"]["updates"] > 0 and main["world_size"] == 2
    for name, value in main["model"].items():
        assert torch.equal(states[0]["model"][name], value), name
        assert torch.equal(states[1]["model"][name], value), name
    # each rank kept its own replay shard, filled from its own environments
    r0, r1 = (s["replay"] for s in states)
    assert not torch.equal(torch.as_tensor(r0["landscape_id"]), torch.as_tensor(r1["landscape_id"]))


def test_resume_restores_every_rank(trained, tmp_path):
    before = load_checkpoint(trained / "final.pt")
    torchrun("train", str(tmp_path), "96", str(trained / "final.pt"))
    after = load_checkpoint(tmp_path / "final.pt")
    assert after["counters"]["env_steps"] == 96 > before["counters"]["env_steps"]
    assert after["counters"]["updates"] > before["counters"]["updates"]
    for r in (0, 1):
        shard = load_checkpoint(tmp_path / f"rank{r}.pt")
        assert shard["replay"]["size"] > load_checkpoint(trained / f"rank{r}.pt")["replay"]["size"]
        for name, value in after["model"].items():
            assert torch.equal(shard["model"][name], value), name


def test_distributed_burn_probability_equals_single_process(tmp_path):
    from qagent.fire import burn_probability
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.landscape import synthetic

    torchrun("burn_probability", str(tmp_path))
    ls = synthetic(30, 30, seed=4)
    weather, duration = DEFAULT_SCENARIO.sample(101, np.random.default_rng(0))
    single = burn_probability(ls, 101, weather, duration, seed=9)
    assert torch.equal(torch.load(tmp_path / "burn_probability.pt"), single)


def test_distributed_eval_equals_single_process(tmp_path):
    from qagent.evaluation.cli import eval_main

    torchrun("eval", str(tmp_path / "ddp"))
    assert eval_main(["--landscapes", "synthetic", "--grid-size", "16", "--count", "5", "--ignitions", "20",
                      "--methods", "none", "random", "greedy_intensity", "--figures", "0",
                      "--out", str(tmp_path / "single")]) == 0
    ddp = (tmp_path / "ddp" / "per_landscape.csv").read_text().splitlines()
    single = (tmp_path / "single" / "per_landscape.csv").read_text().splitlines()
    strip = lambda lines: sorted(",".join(line.split(",")[:4]) for line in lines[1:])  # noqa: E731  (not timing)
    assert strip(ddp) == strip(single)
