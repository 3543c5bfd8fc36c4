"""Checkpoints: the file format (written atomically, read with a clear error when damaged) and
:class:`RunCheckpoints`, the one writer and reader of a training run's checkpoint files.

A checkpoint is a dict saved with ``torch.save`` holding only tensors and plain Python values
(so it loads with ``weights_only=True``): model, target model, optimizer and scheduler
states, the replay buffer, RNG states, counters and the configuration. It is written to a
temporary file in the same folder, flushed to disk, then renamed over the destination, so a
crash or a full disk never leaves a half-written checkpoint in place of a good one; the
folder is synced after the rename so the new name survives a power cut. A temporary left by a
process killed mid-write (``.NAME.tmp-PID``) is removed by :func:`remove_stale_temporaries`
once that process is gone.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qagent import distributed as dist_util
from qagent._validation import InputError
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.env.observation import NUM_CHANNELS, OBSERVATION_CHANNELS
from qagent.train.config import LEGACY_OBSERVATION_CHANNELS, SOURCE_SETTINGS, TrainConfig, q_value_settings
from qagent.train.presets import memory_report

log = logging.getLogger("qagent.train")

FORMAT = "qagent-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries ``.NAME.tmp-PID`` that :func:`save_checkpoint` leaves when its
    process is killed mid-write, for processes that are no longer alive (never a live
    process's, which may still be writing); returns the removed paths."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = _TEMPORARY.match(entry.name)
        if m and entry.is_file() and not _process_alive(int(m["pid"])):
            try:
                entry.unlink()
            except FileNotFoundError:  # another process removed it first
                continue
            removed.append(entry)
    return sorted(removed)


def load_checkpoint(path: str | Path, map_location="cpu", mmap: bool = False) -> dict[str, Any]:
    """Load and check a checkpoint; a missing, truncated or foreign file raises InputError.
    ``mmap``: map its tensors from the file instead of reading them (for a caller that reads
    only the settings of a checkpoint that may hold a large replay)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path}: no such file")
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except OSError as e:
        raise InputError(f"checkpoint {path}: cannot be read ({e.strerror or type(e).__name__})") from None
    if empty:
        raise InputError(f"checkpoint {path}: damaged or not a checkpoint (empty file)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:
        # torch's own messages are no help here (and one of them advises loading untrusted
        # files with weights_only=False, which can run arbitrary code): name the type only
        raise InputError(f"checkpoint {path}: damaged or not a checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"checkpoint {path}: not a QAgent checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise InputError(f"checkpoint {path}: format version {state.get('format_version')!r}, this QAgent reads "
                         f"{FORMAT_VERSION}")
    missing = [k for k in ("model", "config", "counters") if k not in state]
    if missing:
        raise InputError(f"checkpoint {path}: missing {', '.join(missing)}")
    return state


def resumed_settings(checkpoint: str | Path) -> dict[str, Any]:
    """The settings a run's checkpoint was written with (its ``config``, less ``out``), the base
    of a resumed run's configuration (``qagent-train --resume``): a run continues as it was set
    up unless a flag or --config says otherwise."""
    config = load_checkpoint(checkpoint, map_location="cpu", mmap=True).get("config") or {}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in config.items() if k in known and k != "out"}


def check_observation_channels(state: dict[str, Any], path: str | Path) -> None:
    """Refuse (InputError) a checkpoint whose network reads another set of observation
    channels than this QAgent builds (``qagent.env.observation.OBSERVATION_CHANNELS``): its
    first convolution would not fit, and its Q-values were learnt from other inputs."""
    names = state.get("observation_channels")
    count = int(state.get("in_channels", len(names) if names else len(LEGACY_OBSERVATION_CHANNELS)))
    if names is None and count == len(LEGACY_OBSERVATION_CHANNELS):
        names = LEGACY_OBSERVATION_CHANNELS
    if count == NUM_CHANNELS and (names is None or tuple(names) == OBSERVATION_CHANNELS):
        return
    detail = ""
    if names is not None:
        added = [c for c in OBSERVATION_CHANNELS if c not in names]
        dropped = [c for c in names if c not in OBSERVATION_CHANNELS]
        detail = "".join([f"; this QAgent adds {', '.join(added)}" if added else "",
                          f"; it had {', '.join(dropped)}" if dropped else ""])
    raise InputError(f"checkpoint {path}: observation channel mismatch: its network was trained on {count} "
                     f"observation channels, this QAgent builds {NUM_CHANNELS}{detail}; train a new agent "
                     "(qagent-train) with this version")


def rng_state(env_state: dict, sample_rng: np.random.Generator) -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state(), "env": env_state,
             "sample": sample_rng.bit_generator.state}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], sample_rng: np.random.Generator) -> dict:
    """Restore Python's, torch's and the sampler's RNGs; returns the environment's RNG state."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    torch.set_rng_state(state["torch"])
    sample_rng.bit_generator.state = state["sample"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    return state["env"]


def _refuse_changed(resume, verb: str, theirs: dict, ours: dict, advice: str) -> None:
    """InputError naming the settings whose value differs between a checkpoint's run
    (``theirs``) and the configuration resuming it (``ours``), if any."""
    differ = [n for n in ours if theirs[n] != ours[n]]
    if differ:
        raise InputError(f"--resume {resume}: the run {verb} {', '.join(f'{n} = {theirs[n]!r}' for n in differ)}, "
                         f"this configuration says {', '.join(f'{n} = {ours[n]!r}' for n in differ)}; {advice}")


class RunCheckpoints:
    """The checkpoint files of a training run in ``out``, written and read here only:

    - ``best.pt`` (:meth:`write` ``("best")``, rank 0, after a validation that beat the best
      so far): the networks, counters and configuration, enough to place breaks
      (``qagent-eval``) but not to resume;
    - ``last.pt`` (every ``checkpoint_every`` environment steps and at the end) and
      ``final.pt`` (at the end): everything a run needs to continue exactly (``--resume``):
      the learner (networks, optimizer, scheduler, micro-batch), counters, configuration,
      replay and RNG states;
    - ``rank<r>.pt`` beside them in a distributed run: each rank's replay shard, RNG states
      and copy of the networks, written with last/final (the main file then holds the shared
      part only). Every rank must call ``write("last")`` / ``write("final")`` together.

    ``counters`` is the run's counters dict, updated in place by :meth:`restore` and given its
    ``wall_s`` by :meth:`write`."""

    def __init__(self, out: Path, cfg: TrainConfig, learner, replay, env, sample_rng: np.random.Generator,
                 counters: dict, ctx: dist_util.Context):
        self.out, self.cfg, self.learner, self.replay, self.env = Path(out), cfg, learner, replay, env
        self.sample_rng, self.counters, self.ctx = sample_rng, counters, ctx

    def _networks(self) -> dict[str, Any]:
        """What every checkpoint holds: the networks and what rebuilds them, counters, config."""
        return {"model": self.learner.model.state_dict(), "target": self.learner.target.state_dict(),
                "counters": dict(self.counters), "config": self.cfg.to_dict(), "model_name": self.cfg.model,
                "model_kwargs": self.learner.model_kwargs, "in_channels": NUM_CHANNELS,
                "observation_channels": list(OBSERVATION_CHANNELS),
                "grid_size": self.cfg.grid_size, "scenario": DEFAULT_SCENARIO.to_dict()}

    def write(self, name: str, wall_s: float) -> Path:
        """Write ``OUT/<name>.pt`` (``best``, ``last`` or ``final``, see the class docstring),
        with the run's wall time so far ``wall_s``; returns its path."""
        path = self.out / f"{name}.pt"
        if name == "best":
            self.counters["wall_s"] = wall_s
            return save_checkpoint(path, self._networks())
        self.learner.sync_buffers()
        self.counters["wall_s"] = wall_s
        learner = self.learner.state_dict()
        shared = {**self._networks(), "optimizer": learner["optimizer"], "scheduler": learner["scheduler"],
                  "micro_batch": learner["micro_batch"], "world_size": self.ctx.world_size}
        own = {"replay": self.replay.state_dict(), "rng": rng_state(self.env.rng_state(), self.sample_rng)}
        if self.ctx.enabled:
            save_checkpoint(self.out / f"rank{self.ctx.rank}.pt",
                            {**own, "model": learner["model"], "config": self.cfg.to_dict(),
                             "counters": dict(self.counters), "rank": self.ctx.rank})
            if self.ctx.is_main:
                save_checkpoint(path, shared)
            dist_util.barrier()
        else:
            save_checkpoint(path, {**shared, **own})
        device = next(self.learner.model.parameters()).device
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if self.ctx.is_main:
            log.info("saved %s; %s", path, memory_report(device))
        return path

    def restore(self, resume: str | Path) -> None:
        """Continue the run of checkpoint ``resume`` (last.pt or final.pt; best.pt is refused):
        the learner, counters, this rank's replay and RNG states. Refused when this
        configuration changes what the run's Q-values mean (reward, scale, discount, k), or
        when its network reads other observation channels."""
        device = next(self.learner.model.parameters()).device
        state = load_checkpoint(resume, map_location=device)
        lacking = [key for key in ("target", "optimizer", "scheduler") if key not in state]
        if lacking:
            raise InputError(f"--resume {resume}: holds no {', '.join(lacking)} state (best.pt keeps only the "
                             f"networks); resume from last.pt or final.pt")
        check_observation_channels(state, resume)
        config, ours = state.get("config", {}), self.cfg.to_dict()
        # its Q-values and replayed rewards would change meaning mid-run
        _refuse_changed(resume, "was trained with", q_value_settings(config), q_value_settings(ours),
                        "give the run's settings (its --config or flags) to continue it")
        # the restored environment holds landscape ids of the run's own source
        source = [n for n in SOURCE_SETTINGS if n in config]
        _refuse_changed(resume, "trained on", {n: config[n] for n in source}, {n: ours[n] for n in source},
                        "continue it on its own landscapes (leave those flags out) or start a new run")
        self.learner.load_state_dict(state)
        self.counters.update(state["counters"])
        shard = state
        if self.ctx.enabled:  # this rank's replay shard and RNGs, written beside the checkpoint
            rank_file = Path(resume).with_name(f"rank{self.ctx.rank}.pt")
            shard = load_checkpoint(rank_file, map_location="cpu") if rank_file.is_file() else None
            if shard is None:
                log.warning("rank %d: no %s; its replay starts empty", self.ctx.rank, rank_file)
        if shard is not None:
            self.replay.load_state_dict(shard["replay"])
            self.env.load_rng_state(restore_rng_state(shard["rng"], self.sample_rng))
        # the landscape cycle continues; episodes in flight at the checkpoint start afresh
        log.info("resumed from %s at %d environment steps", resume, self.counters["env_steps"])
        # a best.pt written after this checkpoint (by a session that was then killed) is kept
        # unless a later validation beats it: it was chosen on the same validation episodes
        best = self.out / "best.pt"
        if best.is_file() and Path(resume).resolve() != best.resolve():
            try:
                value = load_checkpoint(best)["counters"].get("best_validation", -math.inf)
                self.counters["best_validation"] = max(self.counters["best_validation"], float(value))
            except InputError as e:
                log.warning("%s; a new best.pt will replace it", e)


# What a policy checkpoint keeps of a training checkpoint: the network and what rebuilds it
# and gives its Q-values their meaning (AgentPolicy.load reads these), nothing to resume with.
POLICY_KEYS = ("format", "format_version", "model", "model_name", "model_kwargs", "in_channels", "grid_size",
               "config", "counters", "scenario")


def export_policy(source: str | Path, destination: str | Path) -> Path:
    """Write the network of checkpoint ``source`` (a run's ``best.pt``, say) to ``destination``
    as a small policy checkpoint (no target network, optimizer, replay or RNG states): what
    ``qagent-plan`` and ``qagent-eval`` load, and what QAgent ships as its default agent."""
    state = load_checkpoint(source)
    slim = {k: state[k] for k in POLICY_KEYS if k in state}
    slim["model"] = {k: v.detach().clone().contiguous() for k, v in state["model"].items()}
    slim["counters"] = {k: v for k, v in dict(state["counters"]).items() if isinstance(v, (int, float, str))}
    slim["exported_from"] = str(source)
    return save_checkpoint(destination, slim)


def initial_weights(path: str | Path, cfg: TrainConfig, model_kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The network weights of checkpoint ``path`` (a run's best.pt, or a policy checkpoint such
    as the default agent's ``qagent/pretrained/default_agent_0.pt``) for a new run of ``cfg``
    that builds its model with ``model_kwargs`` and starts from them (``init_weights``:
    fine-tuning).
    InputError names what does not fit: the file, its observation channels, its model or the
    model's settings. Settings that give Q-values their meaning (Q_VALUE_SETTINGS) may differ
    (a run may fine-tune to another reward); they are logged when they do."""
    state = load_checkpoint(path)
    check_observation_channels(state, path)
    theirs_name, theirs_kwargs = state.get("model_name"), dict(state.get("model_kwargs", {}))
    ours_kwargs = {k: v for k, v in model_kwargs.items() if k != "checkpoint_activations"}
    theirs_kwargs.pop("checkpoint_activations", None)
    if theirs_name != cfg.model or theirs_kwargs != ours_kwargs:
        raise InputError(f"init_weights {path}: its network is {theirs_name} {theirs_kwargs}, this run builds "
                         f"{cfg.model} {ours_kwargs}; choose the same model and preset (the default agent's: "
                         "--preset demo, model qnet)")
    theirs_q, ours_q = q_value_settings(dict(state.get("config", {}))), q_value_settings(cfg.to_dict())
    if theirs_q != ours_q:
        log.warning("init_weights %s: trained with %s, this run uses %s; its Q-values start in other units",
                    path, theirs_q, ours_q)
    return state["model"]
