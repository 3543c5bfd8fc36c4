"""The trainer: a tiny end-to-end run, resume, checkpoints (atomic, damaged), OOM-retry inside
training, configuration and the qagent-train command line."""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.train.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from qagent.train.cli import build_parser, main
from qagent.train.config import build_config, load_toml
from qagent.train.dqn import train

TINY = dict(preset="demo", grid_size=12, num_envs=2, ignitions=4, cells_per_step=2, micro_batch=8,
            buffer_capacity=500, learning_starts=16, eval_every=48, eval_landscapes=2, checkpoint_every=48,
            log_every=24, device="cpu")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = build_config(None, steps=96, out=str(out), **TINY)
    return out, train(cfg, progress=False)


def test_tiny_run_writes_everything(tiny_run):
    out, summary = tiny_run
    for name in ("best.pt", "final.pt", "last.pt", "training_log.csv", "training_curve.png"):
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").iterdir())
    assert summary["env_steps"] == 96 and summary["updates"] > 0
    rows = list(csv.DictReader(open(out / "training_log.csv")))
    assert rows and rows[-1]["validation_return"] not in ("", None)
    state = load_checkpoint(out / "final.pt")
    assert state["counters"]["env_steps"] == 96
    assert state["config"]["grid_size"] == 12 and "replay" in state and "rng" in state


def test_default_relative_reward_reports_percent_of_untreated_burned_area(tiny_run, tmp_path):
    relative = tiny_run[1]
    assert relative["reward"] == "relative"  # the default
    # returns are relative reductions in percent: a policy can save at most all of the burned area
    for key in ("random_return", "final_validation_return", "best_validation_return"):
        assert 0.0 <= relative[key] <= 100.0, key
    cfg = build_config(None, steps=48, out=str(tmp_path), reward="absolute", gamma=0.99, **TINY)
    assert cfg.reward_scale == 100.0 and build_config(None, **TINY).reward_scale == 10.0
    absolute = train(cfg, progress=False)
    # the same random placements on the same validation fires as tiny_run's, each divided by an
    # untreated burned fraction below 1: the relative return is the larger one
    assert absolute["reward"] == "absolute" and absolute["random_return"] > 0
    assert relative["random_return"] > absolute["random_return"]
    assert load_checkpoint(tmp_path / "final.pt")["config"]["reward"] == "absolute"


def test_resume_refuses_a_configuration_that_changes_what_q_values_mean(tiny_run, tmp_path):
    out, _ = tiny_run
    for setting in ({"reward": "absolute"}, {"gamma": 0.99}, {"reward_scale": 50.0}):
        cfg = build_config(None, steps=144, out=str(tmp_path), **setting, **TINY)
        name = next(iter(setting))
        with pytest.raises(InputError, match=rf"--resume .*final.pt: the run was trained with {name} = "):
            train(cfg, resume=out / "final.pt", progress=False)


def test_resume_continues_where_it_stopped(tiny_run, tmp_path):
    out, _ = tiny_run
    state = load_checkpoint(out / "final.pt")
    cfg = build_config(None, steps=144, out=str(tmp_path), **TINY)
    summary = train(cfg, resume=out / "final.pt", progress=False)
    assert summary["env_steps"] == 144
    resumed = load_checkpoint(tmp_path / "final.pt")
    assert resumed["counters"]["updates"] > state["counters"]["updates"]
    assert resumed["counters"]["episodes"] >= state["counters"]["episodes"]


def test_resume_from_a_checkpoint_whose_replay_has_the_retired_seed_column(tiny_run, tmp_path):
    """Checkpoints written before replay dropped its per-transition seed column resume, with
    the same transitions."""
    out, _ = tiny_run
    state = load_checkpoint(out / "final.pt")
    size = int(state["replay"]["size"])
    state["replay"]["seed"] = torch.arange(size, dtype=torch.int64)  # what earlier versions stored
    old = tmp_path / "old" / "final.pt"
    save_checkpoint(old, state)
    cfg = build_config(None, steps=120, out=str(tmp_path / "old"), **TINY)
    summary = train(cfg, resume=old, progress=False)
    assert summary["env_steps"] == 120
    resumed = load_checkpoint(tmp_path / "old" / "final.pt")["replay"]
    assert "seed" not in resumed and int(resumed["size"]) > size
    assert torch.equal(resumed["landscape_id"][:size], state["replay"]["landscape_id"])


def read_log(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_resume_after_a_kill_continues_the_log_at_the_checkpoint_and_cleans_up(tiny_run, tmp_path):
    """Simulate a kill -9 after last.pt was written: rows logged after it, a temporary of the
    dead writer, and a best.pt written after it. Resuming in the same folder cuts the log back
    to the checkpoint, removes only dead writers' temporaries, keeps counting wall time and
    keeps the later best.pt unless beaten."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    before = read_log(run / "training_log.csv")
    last = load_checkpoint(run / "last.pt")
    at, wall = last["counters"]["env_steps"], last["counters"]["wall_s"]
    assert at == 96 and wall > 0 and float(before[-1]["wall_s"]) <= wall
    with open(run / "training_log.csv", "a", newline="") as f:  # what the killed session had logged
        writer = csv.DictWriter(f, fieldnames=list(before[0]))
        for steps in (120, 144):
            writer.writerow({**before[-1], "env_steps": steps, "wall_s": 1.0})
    # a best.pt the killed session wrote after last.pt, better than anything this resume will see
    best = load_checkpoint(run / "best.pt")
    best["counters"]["best_validation"] = 1e9
    save_checkpoint(run / "best.pt", best)
    last["counters"]["best_validation"] = -math.inf
    save_checkpoint(run / "last.pt", last)
    stale = run / f".last.pt.tmp-{dead_pid()}"
    stale.write_bytes(b"half a checkpoint")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    in_flight = run / f".final.pt.tmp-{live.pid}"
    in_flight.write_bytes(b"being written")
    try:
        cfg = build_config(None, steps=144, out=str(run), **TINY)
        summary = train(cfg, resume=run / "last.pt", progress=False)
        assert in_flight.exists()  # a live writer's temporary is never touched
    finally:
        live.kill()
        live.wait()
    assert not stale.exists()
    rows = read_log(run / "training_log.csv")
    steps = [int(r["env_steps"]) for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 144  # every step once, in order
    assert rows[:len(before)] == before  # the log up to the checkpoint is untouched
    resumed = [float(r["wall_s"]) for r in rows[len(before):]]
    assert resumed and min(resumed) > wall and resumed == sorted(resumed)  # wall time carried on
    assert load_checkpoint(run / "final.pt")["counters"]["wall_s"] >= resumed[-1]
    assert summary["wall_s"] > wall and summary["session_wall_s"] < summary["wall_s"]
    assert load_checkpoint(run / "best.pt")["counters"]["best_validation"] == 1e9  # kept


def test_resume_from_best_pt_says_to_use_last_pt(tiny_run, tmp_path):
    cfg = build_config(None, steps=144, out=str(tmp_path), **TINY)
    with pytest.raises(InputError, match=r"best.pt: holds no optimizer, scheduler state .* resume from last.pt"):
        train(cfg, resume=tiny_run[0] / "best.pt", progress=False)


def test_training_curve_is_labelled_in_the_rewards_unit_with_domirank_and_random(tiny_run):
    from qagent.train.dqn import training_curve_figure

    out, summary = tiny_run
    rows = read_log(out / "training_log.csv")
    assert summary["domirank_return"] is not None and 0 <= summary["domirank_return"] <= 100
    assert float(rows[-1]["domirank_return"]) == summary["domirank_return"]
    fig = training_curve_figure(rows, "relative")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "% of the untreated loss saved per episode"
    assert ax.get_xlabel() == "environment steps"
    assert ax.get_ylim()[0] == 0.0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["training episodes (epsilon-greedy, mean of the last 50)", "agent, greedy (validation episodes)",
                      "DomiRank (validation episodes)", "random placement (validation episodes)"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["DomiRank (validation episodes)"].get_ydata()) == [summary["domirank_return"]] * 2
    assert list(lines["random placement (validation episodes)"].get_ydata()) == [summary["random_return"]] * 2
    assert training_curve_figure(rows, "absolute").axes[0].get_ylabel() == "% of the landscape's value saved per episode"


def test_damaged_checkpoints_give_clear_errors(tiny_run, tmp_path):
    out, _ = tiny_run
    data = (out / "final.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"checkpoint .*truncated.pt: damaged or not a checkpoint"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(InputError, match="damaged or not a checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="not a QAgent checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(InputError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    assert main(["--resume", str(truncated), "--out", str(tmp_path / "x"), "--quiet", "--steps", "8",
                 "--grid-size", "8"]) == 2


def _zip_not_torch(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes/readme.txt", "a zip archive, but not one torch.save wrote")


@pytest.mark.parametrize("kind, write", [
    ("empty", lambda p: p.write_bytes(b"")),
    ("random bytes", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096))),
    ("text", lambda p: p.write_text("hello\nthis is a text file\n")),
    ("zip", _zip_not_torch),
])
def test_files_that_are_not_checkpoints_give_the_damaged_error_without_torch_advice(tmp_path, kind, write):
    path = tmp_path / "ckpt.pt"
    write(path)
    with pytest.raises(InputError, match=r"checkpoint .*ckpt.pt: damaged or not a checkpoint") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "weights_only" not in message and "arbitrary code" not in message and len(message) < 200, message


def test_truncated_checkpoints_at_any_length_give_the_damaged_error(tiny_run, tmp_path):
    data = (tiny_run[0] / "final.pt").read_bytes()
    path = tmp_path / "cut.pt"
    for length in (1, 7, 100, len(data) // 3, len(data) - 1):
        path.write_bytes(data[:length])
        for mmap in (False, True):  # mapped: how --resume reads a run's settings (resumed_settings)
            with pytest.raises(InputError, match="damaged or not a checkpoint"):
                load_checkpoint(path, mmap=mmap)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "config": {}, "counters": {"env_steps": 1}})

    def failing_save(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {}, "config": {}, "counters": {"env_steps": 2}})
    monkeypatch.undo()
    assert load_checkpoint(path)["counters"]["env_steps"] == 1  # the good checkpoint survived
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary left behind


def test_checkpoint_rename_is_followed_by_a_sync_of_the_folder(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(tmp_path / "ckpt.pt", {"model": {}, "config": {}, "counters": {}})
    assert events == [("fsync", "file"), ("replace", "ckpt.pt"), ("fsync", "folder")]


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_processes_are_removed_never_live_ones(tmp_path):
    dead = dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".last.pt.tmp-{dead}"
        in_flight = tmp_path / f".last.pt.tmp-{live.pid}"
        ours = tmp_path / f".best.pt.tmp-{os.getpid()}"
        other = tmp_path / "notes.tmp-1"  # not a checkpoint temporary
        for p in (stale, in_flight, ours, other):
            p.write_bytes(b"partial")
        assert remove_stale_temporaries(tmp_path) == [stale]
        assert not stale.exists() and in_flight.exists() and ours.exists() and other.exists()
    finally:
        live.kill()
        live.wait()


def test_out_of_memory_in_training_halves_the_micro_batch(tmp_path, caplog):
    """Inject "CUDA out of memory" whenever a training forward pass sees more than 2 samples:
    the run completes with micro-batch 2 and 4 accumulation steps (effective batch 8 kept)."""
    from qagent.agent import models

    original = models.QNet.forward

    def forward(self, obs, valid_mask=None):
        if torch.is_grad_enabled() and self.training and obs.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 158.00 MiB (injected)")
        return original(self, obs, valid_mask)

    cfg = build_config(None, steps=48, out=str(tmp_path), **TINY)
    with caplog.at_level(logging.WARNING):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(models.QNet, "forward", forward)
            summary = train(cfg, progress=False)
    assert summary["micro_batch"] == 2 and summary["updates"] > 0
    assert load_checkpoint(tmp_path / "final.pt")["micro_batch"] == 2
    assert any("out of memory" in r.getMessage().lower() for r in caplog.records)


def test_config_merging_and_errors(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "low"\nsteps = 1234\n[env]\ncells_per_step = 7\n[learning]\nprioritized = false\n')
    cfg = build_config(str(toml), cells_per_step=9)
    assert (cfg.preset, cfg.steps, cfg.cells_per_step, cfg.prioritized) == ("low", 1234, 9, False)
    assert (cfg.micro_batch, cfg.num_envs, cfg.buffer_capacity, cfg.model) == (16, 8, 50_000, "qnet")
    bad = tmp_path / "bad.toml"
    bad.write_text("[learning]\nlearnign_rate = 1\n")
    with pytest.raises(InputError, match="unknown setting learning.learnign_rate"):
        load_toml(bad)
    bad.write_text("steps = = 3")
    with pytest.raises(InputError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(InputError, match="preset: unknown name 'huge'"):
        build_config(None, preset="huge")
    with pytest.raises(InputError, match="budget_fraction: must lie in"):
        build_config(None, budget_fraction=2.0)
    with pytest.raises(InputError, match="reward: expected absolute or relative, got 'percent'"):
        build_config(None, reward="percent")
    assert build_config(None, reward="relative").reward == "relative"


def test_command_line(capsys):
    help_text = build_parser().format_help()
    for flag in ("--config", "--preset", "--model", "--landscapes", "--device", "--steps", "--out", "--resume",
                 "--seed", "--list-presets"):
        assert flag in help_text
    for group in ("run:", "episodes:", "learning:", "information:"):
        assert group in help_text
    assert main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("demo", "low", "medium", "high"))
    assert main(["--print-config", "--preset", "medium"]) == 0
    assert '"model": "enhanced_efficient"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:  # refused by argparse, before anything runs
        main(["--preset", "demo", "--budget-fraction", "3", "--quiet"])
    assert info.value.code == 2
    assert "argument --budget-fraction: must be a fraction in (0, 1], got 3" in capsys.readouterr().err


def test_domirank_warm_start_flags_demonstrations(tmp_path):
    cfg = build_config(None, steps=48, out=str(tmp_path), warm_start_episodes=4, **TINY)
    summary = train(cfg, progress=False)
    assert summary["updates"] > 0
    replay = load_checkpoint(tmp_path / "final.pt")["replay"]
    demo = replay["demo"].numpy()
    assert demo[:8].all() and not demo.all()  # demonstrations first, the agent's own steps later


def test_a_resumed_run_keeps_its_validation_references(tiny_run, tmp_path, monkeypatch):
    """Killed after its checkpoint at 48 of 96 steps and resumed from last.pt, a run reports
    the validation references (random placement, DomiRank) of the uninterrupted run: they are
    drawn once and kept in the counters, not drawn again from the restored RNG (which drew a
    different random placement, and moved the RNG the rest of the run samples from). The run
    then counts the same steps, updates and episodes; its networks differ slightly, since the
    episodes in flight at the checkpoint start afresh (docs/training.md)."""
    from qagent.train.checkpoint import RunCheckpoints

    out, summary = tiny_run
    write = RunCheckpoints.write

    def write_then_die(self, name, wall_s):
        path = write(self, name, wall_s)
        if name == "last" and self.counters["env_steps"] == 48:
            raise KeyboardInterrupt  # the kill, right after last.pt
        return path

    cfg = build_config(None, steps=96, out=str(tmp_path), **TINY)
    monkeypatch.setattr(RunCheckpoints, "write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False)
    monkeypatch.setattr(RunCheckpoints, "write", write)
    assert load_checkpoint(tmp_path / "last.pt")["counters"]["env_steps"] == 48
    resumed = train(cfg, resume=tmp_path / "last.pt", progress=False)
    assert resumed["random_return"] == summary["random_return"]
    assert resumed["domirank_return"] == summary["domirank_return"]
    a, b = load_checkpoint(out / "final.pt"), load_checkpoint(tmp_path / "final.pt")
    for name in ("env_steps", "updates", "random_return", "domirank_return"):
        assert a["counters"][name] == b["counters"][name], name
