"""Double DQN for fuel-break placement, in one loop you can read top to bottom (after
CleanRL's dqn.py).

- Actions: an action breaks k cells; its value is the mean of its cells' Q-values. The
  behaviour policy is epsilon-greedy: with probability epsilon k random valid cells, else the
  k valid cells of highest Q.
- Target (van Hasselt et al. 2016): y = r + gamma (1 - done) mean(Q_target(s', a*)), where a*
  are the top-k valid cells of s' by the ONLINE network. Huber loss, importance-weighted when
  replay is prioritized (Schaul et al. 2016), whose priorities are the TD errors.
- Discount: gamma = 0 by default, so the target is the step's own reward, the drop in expected
  burned area it caused, measured with common random numbers (the same fires before and
  after). A bootstrapped target (gamma = 0.99) adds the target network's error to rewards that
  are already noisy; and since the burned area a set of breaks saves is close to a
  submodular function of the set, placing by marginal gain is near optimal (Nemhauser et al.
  1978). BENCHMARKS.md has the runs that chose this default; set gamma > 0 to credit later
  steps.
- Replay stores compact states (landscape id and bit-packed break mask); observations are
  rebuilt from the landscape's cached static channels when a batch is sampled.
- Updates: an effective batch = micro-batch x accumulation steps; each micro-batch's loss is
  divided by the number of micro-batches and back-propagated, then the summed gradient is
  clipped and applied once, so the step equals a full-batch step for everything computed per
  sample. BatchNorm is the exception: each micro-batch normalises with its own statistics and
  updates the running averages once per micro-batch, so accumulation does NOT reproduce
  full-batch BatchNorm exactly (close at these grid sizes, where every sample alone has
  H x W values per channel). OOM-retry (qagent.oom) halves the micro-batch and doubles
  accumulation on "out of memory", keeping the effective batch.
- bf16 autocast on CUDA devices that support it; optional activation checkpointing for
  EnhancedQNet; learning rate: linear warm-up then cosine decay to 10 %; gradient clipping;
  soft target updates.
- Optional warm start: the first episodes follow DomiRank (Engsig et al. 2024) rankings, as
  the original project did, to fill replay with good demonstrations. Their transitions are
  flagged, and on them the loss adds DQfD's large-margin term (Hester et al. 2018),
  max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E) with l = ``demo_margin`` for every other action:
  for k-cell actions, the mean of the top k of Q plus the margin on cells the demonstrator did
  not choose, minus the mean Q of its cells. It keeps the greedy policy at least as good as
  the demonstrator while TD learning improves on it.
- Runs and outputs: ``cfg.out`` holds one run. A folder holding another run is refused
  unless ``overwrite`` (which deletes it first, once the new run is set up) or ``resume``
  from a checkpoint in it, which continues exactly from that checkpoint: log rows written
  after it (by a run killed later) are dropped, TensorBoard hides their events, temporaries
  of dead writers are removed and the run's wall time (in the counters) keeps adding up.
  Validation reports the greedy agent beside DomiRank and random placement on the same
  episodes, in the reward's unit (:func:`return_unit`).
- Distributed (``train(..., distributed=True)`` under torchrun): DistributedDataParallel.
  Every rank steps its own environments (seeded by rank) into its own replay shard and
  samples its own batch, so the global batch is world size x the preset's batch; gradients
  are averaged across ranks once per update (micro-batches before the last run under
  ``no_sync``); all ranks take the same number of steps and updates in lockstep. Rank 0
  validates, logs and writes the checkpoints; every rank also writes its replay shard and
  RNG state (``rank<r>.pt``) with each checkpoint, so ``--resume`` restores every rank. An
  out-of-memory retry is local to its rank; one striking inside the final, synchronising
  backward pass cannot be retried.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qagent import distributed as dist_util
from qagent._validation import InputError, resolve_device
from qagent.agent.models import build_model, count_parameters
from qagent.agent.policy import greedy_actions, greedy_topk, select_actions
from qagent.agent.replay import PrioritizedReplay, UniformReplay
from qagent.env.fuel_break_env import REWARD_UNITS, BatchedFuelBreakEnv, EnvConfig, StaticObservationCache
from qagent.env.sources import make_source
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape.observation import NUM_CHANNELS, OBSERVATION_CHANNELS
from qagent.train.checkpoint import (load_checkpoint, remove_stale_temporaries, restore_rng_state, rng_state,
                                     save_checkpoint)
from qagent.train.config import TrainConfig, q_value_settings
from qagent.oom import OOMRetry
from qagent.train.presets import configure_cuda_allocator, format_bytes

log = logging.getLogger("qagent.train")

_BURNABLE = OBSERVATION_CHANNELS.index("burnable")  # burnable, unbroken cells


score_actions = greedy_topk  # an earlier name of greedy_topk (which returns a tensor, not a numpy array)


# ----------------------------------------------------------------------------- schedules
def linear_epsilon(step: int, total: int, cfg: TrainConfig) -> float:
    span = max(1.0, cfg.exploration_fraction * total)
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * max(0.0, 1.0 - step / span)


def warmup_cosine(total_updates: int, warmup_fraction: float, floor: float = 0.1):
    warmup = max(1, int(warmup_fraction * total_updates))

    def factor(update: int) -> float:
        if update < warmup:
            return (update + 1) / warmup
        progress = min(1.0, (update - warmup) / max(1, total_updates - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


# ----------------------------------------------------------------------------- logging
LOG_FIELDS = ["env_steps", "updates", "episodes", "wall_s", "epsilon", "learning_rate", "loss", "episode_return",
              "random_return", "domirank_return", "validation_return", "sims_per_s", "micro_batch"]


@dataclass
class RunLog:
    """CSV, TensorBoard and the end-of-run plot. ``resume_at`` (the env_steps of the checkpoint a
    run resumes from) continues an existing log exactly there: rows written after that
    checkpoint (by a run that was then killed) are dropped from the CSV and hidden in
    TensorBoard, so no step appears twice."""

    out: Path
    resume_at: int | None = None
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self._csv_path = self.out / "training_log.csv"
        self._fields = list(LOG_FIELDS)
        resuming = self.resume_at is not None and self._csv_path.exists()
        if resuming:
            self._truncate_csv(self.resume_at)
        self._csv = open(self._csv_path, "a" if resuming else "w", newline="")
        self._writer = csv.DictWriter(self._csv, fieldnames=self._fields)
        if not resuming:
            self._writer.writeheader()
            self._csv.flush()
        try:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if self.resume_at is None else self.resume_at + 1  # hides events at steps >= purge
            self._tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=purge)
        except Exception as e:  # tensorboard is optional at run time
            log.warning("TensorBoard logging disabled: %s", e)
            self._tb = None

    def _truncate_csv(self, env_steps: int) -> None:
        """Rewrite the CSV (atomically) with the current columns, keeping the rows up to
        ``env_steps``."""
        rows = _read_csv(self._csv_path)
        kept = [r for r in rows if _float(r.get("env_steps")) <= env_steps]
        tmp = self._csv_path.with_name(f".{self._csv_path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._csv_path)
        if len(kept) < len(rows):
            log.info("%s: dropped %d rows logged after the checkpoint's %d environment steps", self._csv_path,
                     len(rows) - len(kept), env_steps)

    def write(self, row: dict) -> None:
        self.rows.append(row)
        self._writer.writerow({k: row.get(k) for k in self._fields})
        self._csv.flush()
        if self._tb is not None:
            for k, v in row.items():
                if k != "env_steps" and isinstance(v, (int, float)) and v is not None and math.isfinite(v):
                    self._tb.add_scalar(k, v, row["env_steps"])

    def close(self) -> None:
        self._csv.close()
        if self._tb is not None:
            self._tb.close()

    def plot(self, path: Path, reward: str = "absolute") -> Path | None:
        """Write the training curve (:func:`training_curve_figure`) of this log to ``path``."""
        rows = _read_csv(self._csv_path)
        if not rows:
            return None
        fig = training_curve_figure(rows, reward)
        fig.savefig(path, dpi=120)
        return path


# Legend entries of the training curve.
CURVE_LABELS = {"episode_return": "training episodes (epsilon-greedy, mean of the last 50)",
                "validation_return": "agent, greedy (validation episodes)",
                "domirank_return": "DomiRank (validation episodes)",
                "random_return": "random placement (validation episodes)"}


def return_unit(reward: str) -> str:
    """What an episode return (x100) measures, for a reward kind: the curve's y-axis label."""
    return f"% of the {REWARD_UNITS[reward]} saved per episode"


def training_curve_figure(rows: list[dict], reward: str, fig=None):
    """The training curve as a matplotlib Figure (drawn into ``fig`` if given): the training
    episodes' and the greedy agent's validation return against environment steps, with the
    validation returns of DomiRank and of random placement (on the same episodes) as horizontal
    references; y in the reward's unit (:func:`return_unit`) from 0. ``rows`` are
    training_log.csv rows (text or numbers)."""
    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    x = np.array([_float(r.get("env_steps")) for r in rows])
    for key, style in [("episode_return", "-"), ("validation_return", "o-")]:
        y = np.array([_float(r.get(key)) for r in rows])
        ok = np.isfinite(y) & np.isfinite(x)
        if ok.any():
            ax.plot(x[ok], y[ok], style, label=CURVE_LABELS[key])
    for key, color in [("domirank_return", "tab:red"), ("random_return", "gray")]:
        values = [v for v in (_float(r.get(key)) for r in rows) if math.isfinite(v)]
        if values:
            ax.axhline(values[-1], color=color, linestyle="--", label=CURVE_LABELS[key])
    ax.set_xlabel("environment steps")
    ax.set_ylabel(return_unit(reward))
    top = ax.get_ylim()[1]  # returns are never negative (breaks never add burned area): y from 0
    ax.set_ylim(0.0, 1.1 * top if top > 0 else 1.0)
    ax.set_title("QAgent training")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def _float(value) -> float:
    """A CSV cell as a float (NaN when empty)."""
    if value in ("", None):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def progress_postfix(row: dict, reward: str) -> str:
    """The progress bar's text after the counts: the training episodes' return in its unit,
    the loss, epsilon and simulations per second."""
    ret = row.get("episode_return")
    saved = f"saved {ret:.2f} % of {REWARD_UNITS[reward]}" if ret is not None else "no episode finished yet"
    loss = f"{row['loss']:.3g}" if row.get("loss") is not None else "-"
    return f"{saved} per episode, loss {loss}, eps {row.get('epsilon', 0):.2f}, {row.get('sims_per_s', 0):.0f} sims/s"


def memory_report(device: torch.device) -> str:
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return (f"GPU memory: {format_bytes(torch.cuda.memory_allocated(device))} allocated, "
                f"{format_bytes(torch.cuda.memory_reserved(device))} reserved, {format_bytes(free)} free of "
                f"{format_bytes(total)}")
    import resource

    return f"host memory: peak resident {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"


# ----------------------------------------------------------------------------- evaluation
def evaluate_policy(env: BatchedFuelBreakEnv, policy, episodes: int, seed: int) -> float:
    """Mean episode return (reduction of expected burned fraction, absolute or relative to the
    untreated one as the env's reward says, x100) of policy(obs, valid)
    -> actions over ``episodes`` complete episodes of a non-autoresetting env, reset with
    ``seed`` so that every call sees the same landscapes and fires."""
    returns: list[float] = []
    obs, info = env.reset(seed=seed)
    while True:
        done = np.zeros(env.num_envs, dtype=bool)
        while not done.all():
            obs, _, terminated, truncated, info = env.step(policy(obs, info["action_mask"]))
            done |= terminated | truncated
        returns.extend(env.episode_returns().tolist())
        if len(returns) >= episodes:
            return 100.0 * float(np.mean(returns[:episodes]))
        obs, info = env.reset()


def env_config(cfg: TrainConfig) -> EnvConfig:
    return EnvConfig(cfg.budget_fraction, cfg.cells_per_step, cfg.ignitions, reward=cfg.reward)


def make_validation_env(cfg: TrainConfig, source, cache: StaticObservationCache, device) -> BatchedFuelBreakEnv:
    """The environment the trainer validates on (training landscapes; with ``validation_seed_of``,
    the same landscapes and fires every round)."""
    return BatchedFuelBreakEnv(source, min(cfg.eval_landscapes, cfg.num_envs), env_config(cfg), DEFAULT_SCENARIO,
                               device, autoreset=False, observation_cache=cache)


def validation_seed_of(cfg: TrainConfig) -> int:
    return 10_000 + cfg.seed


class DomiRankScores:
    """DomiRank centrality (under the scenario's reference weather) of landscapes by id, as
    [N, H*W] scores on ``device`` for :func:`greedy_topk`; recent landscapes are cached."""

    def __init__(self, source, device, cache_size: int = 256):
        from qagent.baselines import domirank

        reference = DEFAULT_SCENARIO.reference_weather()
        self._one = functools.lru_cache(maxsize=cache_size)(
            lambda i: domirank(source.landscape(i), reference).reshape(-1).to(device))

    def __call__(self, landscape_ids) -> torch.Tensor:
        return torch.stack([self._one(int(i)) for i in landscape_ids])


def domirank_policy(env: BatchedFuelBreakEnv, scores: DomiRankScores, k: int):
    """policy(obs, valid) for :func:`evaluate_policy`: per environment, the k valid cells of
    highest DomiRank on its landscape (one-shot ranking, as the warm start follows)."""
    return lambda obs, valid: greedy_topk(scores(env.landscape_id), valid, k)


# ----------------------------------------------------------------------------- output folder
CHECKPOINT_NAMES = ("best.pt", "final.pt", "last.pt")
LOG_NAME, CURVE_NAME, TENSORBOARD_NAME = "training_log.csv", "training_curve.png", "tensorboard"


def run_files(out: Path) -> list[Path]:
    """The files of a run in ``out``: its checkpoints (rank shards included) and its log."""
    if not out.is_dir():
        return []
    found = [out / n for n in (*CHECKPOINT_NAMES, LOG_NAME) if (out / n).is_file()]
    return found + sorted(p for p in out.glob("rank*.pt") if p.name[4:-3].isdigit() and p.is_file())


def check_output(out: Path, resume: str | Path | None, overwrite: bool) -> list[Path]:
    """Make sure a run never overwrites another run's saved work; returns the old run's files
    that ``overwrite`` is to delete (with :func:`delete_run`, once the new run has been set
    up without error).

    A folder already holding a run (a checkpoint or training_log.csv) is refused unless the
    run continues there (``resume`` is a checkpoint in ``out``) or ``overwrite`` is set.
    Temporaries of checkpoint writers that died (``.NAME.tmp-PID``) are removed in any case."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder")
    same_folder = resume is not None and Path(resume).resolve().parent == out.resolve()
    if same_folder and overwrite:
        raise InputError(f"--overwrite would delete the run that --resume {resume} continues; drop one of the two")
    existing = [] if same_folder else run_files(out)
    if existing and not overwrite:
        raise InputError(
            f"--out {out} already holds a run ({', '.join(p.name for p in existing)}); continue it with --resume "
            f"{out / 'last.pt'}, start over with --overwrite (deletes its checkpoints, {LOG_NAME}, "
            f"{TENSORBOARD_NAME}/ and {CURVE_NAME}), or choose another --out")
    for path in remove_stale_temporaries(out):
        log.info("removed %s, left by a checkpoint write that was killed", path)
    return existing


def delete_run(out: Path, files: list[Path]) -> None:
    """Delete an old run's checkpoints and log (``files``), its tensorboard/ and its curve, so
    that nothing stale mixes with the new run."""
    for path in [*files, out / CURVE_NAME]:
        path.unlink(missing_ok=True)
    shutil.rmtree(out / TENSORBOARD_NAME, ignore_errors=True)
    log.info("--overwrite: deleted the earlier run in %s (%s, %s/, %s)", out, ", ".join(p.name for p in files),
             TENSORBOARD_NAME, CURVE_NAME)


# ----------------------------------------------------------------------------- training
def train(cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
          distributed: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train an agent; returns a summary (paths, returns, counts). See the module docstring.

    ``cfg.out`` must not hold another run (:func:`check_output`): ``resume`` from a
    checkpoint in it continues that run (its log is cut back to the checkpoint), ``overwrite``
    replaces it."""
    # -- setup ------------------------------------------------------------------------------
    clock = time.perf_counter()
    # before the process group exists: no rank writes anything until every rank has checked
    replaced = check_output(Path(cfg.out), resume, overwrite)
    if cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available()):
        configure_cuda_allocator()  # before CUDA initialises
    if distributed:
        ctx = dist_util.setup(cfg.device)
        device = ctx.device
    else:
        ctx = dist_util.Context()
        device = resolve_device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    main_rank = ctx.is_main
    progress = progress and main_rank
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rank_seed = cfg.seed + 1_000_003 * ctx.rank
    random.seed(rank_seed)
    np.random.seed(rank_seed % 2**32)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    sample_rng = np.random.default_rng(rank_seed + 1)
    grid = (cfg.grid_size, cfg.grid_size)
    source = make_source(cfg.landscapes, grid, "train", fuel=cfg.fuel)
    cache = StaticObservationCache(source, DEFAULT_SCENARIO, device)
    env = BatchedFuelBreakEnv(source, cfg.num_envs, env_config(cfg), DEFAULT_SCENARIO, device, seed=rank_seed,
                              observation_cache=cache)
    validation = make_validation_env(cfg, source, cache, device)
    model_kwargs = dict(cfg.extra.get("model_kwargs", {}))
    if cfg.checkpoint_activations:
        if not cfg.model.startswith("enhanced"):
            raise InputError("checkpoint_activations: only EnhancedQNet models support it")
        model_kwargs["checkpoint_activations"] = True
    model = build_model(cfg.model, NUM_CHANNELS, **model_kwargs).to(device)
    target = build_model(cfg.model, NUM_CHANNELS, **model_kwargs).to(device)
    target.load_state_dict(model.state_dict())
    target.eval()
    learner = model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        learner = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=1e-5)
    total_updates = max(1, int((cfg.steps - cfg.learning_starts) * cfg.updates_per_step))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total_updates, cfg.warmup_fraction))
    replay_cls = PrioritizedReplay if cfg.prioritized else UniformReplay
    replay = replay_cls(cfg.buffer_capacity, grid, cfg.cells_per_step)
    effective_batch = cfg.micro_batch * cfg.accumulation_steps
    oom = OOMRetry(effective_batch, cfg.micro_batch, optimizer=optimizer)
    amp = cfg.amp != "off" and device.type == "cuda" and torch.cuda.is_bf16_supported()
    # wall_s: seconds this run has taken, over all its sessions (resumes add to it)
    counters = {"env_steps": 0, "updates": 0, "episodes": 0, "best_validation": -math.inf, "wall_s": 0.0}
    if resume is not None:
        state = load_checkpoint(resume, map_location=device)
        lacking = [key for key in ("target", "optimizer", "scheduler") if key not in state]
        if lacking:
            raise InputError(f"--resume {resume}: holds no {', '.join(lacking)} state (best.pt keeps only the "
                             f"networks); resume from last.pt or final.pt")
        theirs, ours = q_value_settings(state.get("config", {})), q_value_settings(cfg.to_dict())
        differ = [name for name in ours if theirs[name] != ours[name]]
        if differ:  # its Q-values and replayed rewards would change meaning mid-run
            raise InputError(f"--resume {resume}: the run was trained with "
                             f"{', '.join(f'{n} = {theirs[n]!r}' for n in differ)}, this configuration says "
                             f"{', '.join(f'{n} = {ours[n]!r}' for n in differ)}; give the run's settings "
                             "(its --config or flags) to continue it")
        model.load_state_dict(state["model"])
        target.load_state_dict(state["target"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        counters.update(state["counters"])
        shard = state
        if ctx.enabled:  # this rank's replay shard and RNGs, written beside the checkpoint
            rank_file = Path(resume).with_name(f"rank{ctx.rank}.pt")
            shard = load_checkpoint(rank_file, map_location="cpu") if rank_file.is_file() else None
            if shard is None:
                log.warning("rank %d: no %s; its replay starts empty", ctx.rank, rank_file)
        if shard is not None:
            replay.load_state_dict(shard["replay"])
            env.load_rng_state(restore_rng_state(shard["rng"], sample_rng))
        # the landscape cycle continues; episodes in flight at the checkpoint start afresh
        oom.micro_batch = min(oom.micro_batch, int(state.get("micro_batch", oom.micro_batch)))
        log.info("resumed from %s at %d environment steps", resume, counters["env_steps"])
        # a best.pt written after this checkpoint (by a session that was then killed) is kept
        # unless a later validation beats it: it was chosen on the same validation episodes
        if (out / "best.pt").is_file() and Path(resume).resolve() != (out / "best.pt").resolve():
            try:
                best = load_checkpoint(out / "best.pt")["counters"].get("best_validation", -math.inf)
                counters["best_validation"] = max(counters["best_validation"], float(best))
            except InputError as e:
                log.warning("%s; a new best.pt will replace it", e)
    wall_before = float(counters["wall_s"])
    if replaced:  # --overwrite, now that the new run is set up: the old run goes before anything is written
        delete_run(out, replaced)
        dist_util.barrier()
    runlog = RunLog(out, resume_at=counters["env_steps"] if resume is not None else None) if main_rank else None
    log.info("training %s (%s parameters) on %s with preset %s; %s%s", cfg.model, f"{count_parameters(model):,}",
             device, cfg.preset, source.describe(),
             f"; rank {ctx.rank} of {ctx.world_size}" if ctx.enabled else "")
    log.info(memory_report(device))
    k = cfg.cells_per_step
    validation_seed = validation_seed_of(cfg)
    random_return = domirank_return = None
    domirank_scores = DomiRankScores(source, device)
    if main_rank:  # the references the agent is measured against, on its validation episodes
        random_return = evaluate_policy(validation, lambda obs, valid: select_actions(None, valid, k, 1.0, sample_rng),
                                        cfg.eval_landscapes, validation_seed)
        domirank_return = evaluate_policy(validation, domirank_policy(validation, domirank_scores, k),
                                          cfg.eval_landscapes, validation_seed)
        log.info("validation episodes: random placement %.3f, DomiRank %.3f %s", random_return, domirank_return,
                 return_unit(cfg.reward))

    def wall_s() -> float:
        return wall_before + time.perf_counter() - clock

    def sync_buffers() -> None:
        """BatchNorm statistics of rank 0 everywhere (DDP also does it at each forward)."""
        if ctx.enabled:
            for b in list(model.buffers()) + list(target.buffers()):
                torch.distributed.broadcast(b, 0)

    def checkpoint(name: str) -> Path:
        sync_buffers()
        path = out / f"{name}.pt"
        counters["wall_s"] = wall_s()
        shared = {"model": model.state_dict(), "target": target.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "counters": dict(counters), "config": cfg.to_dict(),
                  "micro_batch": oom.micro_batch, "model_name": cfg.model, "model_kwargs": model_kwargs,
                  "in_channels": NUM_CHANNELS, "grid_size": cfg.grid_size, "scenario": DEFAULT_SCENARIO.to_dict(),
                  "world_size": ctx.world_size}
        own = {"replay": replay.state_dict(), "rng": rng_state(env.rng_state(), sample_rng)}
        if ctx.enabled:
            save_checkpoint(out / f"rank{ctx.rank}.pt", {**own, "model": model.state_dict(), "config": cfg.to_dict(),
                                                         "counters": dict(counters), "rank": ctx.rank})
            if main_rank:
                save_checkpoint(path, shared)
            dist_util.barrier()
        else:
            save_checkpoint(path, {**shared, **own})
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if main_rank:
            log.info("saved %s; %s", path, memory_report(device))
        return path

    def update() -> float:
        """One gradient step on a sampled batch, accumulated over micro-batches."""
        batch = replay.sample(effective_batch, sample_rng)
        masks = torch.from_numpy(batch.mask_before()).to(device)
        actions = torch.from_numpy(batch.action_cells).to(device)
        masks_after = masks.clone().view(len(batch), -1)
        masks_after.scatter_(1, actions, True)
        masks_after = masks_after.view_as(masks)
        obs = cache.observations(batch.landscape_id, masks)
        next_obs = cache.observations(batch.landscape_id, masks_after)
        reward = torch.from_numpy(batch.reward).to(device, torch.float32) * cfg.reward_scale
        done = torch.from_numpy(batch.done).to(device, torch.float32)
        weights = torch.from_numpy(batch.weights).to(device, torch.float32)
        demo = torch.from_numpy(batch.demo).to(device) if batch.demo is not None else torch.zeros_like(done, dtype=torch.bool)
        td = torch.zeros(len(batch), device=device)

        def step(micro: int, accumulation: int) -> float:
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            starts = list(range(0, len(batch), micro))
            for start in starts:
                sl = slice(start, start + micro)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    next_valid = next_obs[sl, _BURNABLE] > 0.5
                    with torch.no_grad():
                        # online network picks a*, target network values it (Double DQN); the
                        # online forward runs in eval mode so next states do not move BatchNorm
                        model.eval()
                        q_next = model(next_obs[sl], next_valid).flatten(1).float()
                        model.train()
                        best = greedy_topk(q_next, next_valid.flatten(1), k)
                        q_target = target(next_obs[sl], next_valid).flatten(1).float().gather(1, best).mean(1)
                        y = reward[sl] + cfg.gamma * (1.0 - done[sl]) * torch.nan_to_num(q_target, neginf=0.0)
                    valid = obs[sl, _BURNABLE] > 0.5
                    last = start == starts[-1]
                    with (learner.no_sync() if ctx.enabled and not last else contextlib.nullcontext()):
                        q_all = learner(obs[sl], valid).flatten(1).float()
                        q = q_all.gather(1, actions[sl]).mean(1)
                        per_sample = weights[sl] * F.smooth_l1_loss(q, y, reduction="none")
                        if bool(demo[sl].any()):
                            scored = q_all + torch.full_like(q_all, cfg.demo_margin).scatter_(1, actions[sl], 0.0)
                            best = scored.masked_fill(~valid.flatten(1), -torch.inf).gather(
                                1, greedy_topk(scored, valid.flatten(1), k))
                            per_sample = per_sample + cfg.demo_loss_weight * demo[sl] * (best.mean(1) - q).clamp(min=0)
                        loss = per_sample.sum() / len(batch)
                        loss.backward()
                td[sl] = (q - y).detach()
                total += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            return total

        loss = oom.run(step)
        scheduler.step()
        with torch.no_grad():
            for p, tp in zip(model.parameters(), target.parameters()):
                tp.lerp_(p, cfg.tau)
            for b, tb in zip(model.buffers(), target.buffers()):
                tb.copy_(b)
        if isinstance(replay, PrioritizedReplay):
            replay.update_priorities(batch.indices, td.abs().cpu().numpy())
            replay.anneal_beta(counters["env_steps"] / cfg.steps)
        return loss

    # -- warm start: DomiRank demonstrations ---------------------------------------------------
    warm_start = cfg.warm_start_episodes > 0 and counters["env_steps"] == 0

    # -- the loop -----------------------------------------------------------------------------
    obs, info = env.reset()
    demo_scores = domirank_scores(env.landscape_id) if warm_start else None
    demo_episodes_left = cfg.warm_start_episodes
    episode_returns: list[float] = []
    losses: list[float] = []
    start_time, sims_at_start, steps_at_start = time.perf_counter(), env.simulations, counters["env_steps"]
    last_log = counters["env_steps"]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=counters["env_steps"], unit="step", dynamic_ncols=True,
                   desc=f"qagent-train {cfg.preset}")
    best_path = out / "best.pt"
    try:
        while counters["env_steps"] < cfg.steps:
            epsilon = linear_epsilon(counters["env_steps"], cfg.steps, cfg)
            valid = info["action_mask"]
            demonstrating = demo_scores is not None and demo_episodes_left > 0
            if demonstrating:
                actions = greedy_topk(demo_scores, valid, k).cpu().numpy()
            else:
                with torch.no_grad():
                    q = model.eval()(obs, valid.view(-1, *grid)).flatten(1).float() if epsilon < 1.0 else None
                model.train()
                actions = select_actions(q, valid, k, epsilon, sample_rng)
            masks_before = env.breaks.cpu().numpy()
            landscape_ids = env.landscape_id.copy()
            obs, rewards, terminated, truncated, info = env.step(actions)
            replay.add_batch(landscape_ids, masks_before, actions, rewards, terminated, demo=demonstrating)
            counters["env_steps"] += env.num_envs * ctx.world_size  # all ranks step in lockstep
            finished = info["final_info"]["episode_return"][info["_final_info"]] if "final_info" in info else []
            for episode_return in finished:
                counters["episodes"] += 1
                episode_returns.append(100.0 * float(episode_return))
                demo_episodes_left -= 1
            if demo_scores is not None and len(finished):
                demo_scores = domirank_scores(env.landscape_id) if demo_episodes_left > 0 else None
            if counters["env_steps"] >= cfg.learning_starts and len(replay) >= effective_batch:
                due = int(counters["env_steps"] * cfg.updates_per_step / ctx.world_size) - counters["updates"]
                due = min(due, max(1, int(env.num_envs * cfg.updates_per_step * 4)))
                for _ in range(max(0, due)):
                    losses.append(update())
                    counters["updates"] += 1
            if bar is not None:
                bar.update(env.num_envs * ctx.world_size)
            if main_rank and (counters["env_steps"] - last_log >= cfg.log_every or counters["env_steps"] >= cfg.steps):
                last_log = counters["env_steps"]
                elapsed = time.perf_counter() - start_time
                row = {"env_steps": counters["env_steps"], "updates": counters["updates"],
                       "episodes": counters["episodes"], "wall_s": round(wall_s(), 2), "epsilon": round(epsilon, 4),
                       "learning_rate": scheduler.get_last_lr()[0],
                       "loss": float(np.mean(losses[-50:])) if losses else None,
                       "episode_return": float(np.mean(episode_returns[-50:])) if episode_returns else None,
                       "random_return": random_return, "domirank_return": domirank_return,
                       "sims_per_s": (env.simulations - sims_at_start) / max(elapsed, 1e-9),
                       "micro_batch": oom.micro_batch}
                if (counters["env_steps"] // cfg.eval_every > (counters["env_steps"] - cfg.log_every) // cfg.eval_every
                        or counters["env_steps"] >= cfg.steps):
                    model.eval()
                    row["validation_return"] = evaluate_policy(
                        validation, lambda o, v: greedy_actions(model, o, v, k), cfg.eval_landscapes, validation_seed)
                    model.train()
                    if row["validation_return"] > counters["best_validation"]:
                        counters["best_validation"] = row["validation_return"]
                        counters["wall_s"] = wall_s()
                        best_path = out / "best.pt"
                        save_checkpoint(best_path, {
                            "model": model.state_dict(), "target": target.state_dict(), "counters": dict(counters),
                            "config": cfg.to_dict(), "model_name": cfg.model, "model_kwargs": model_kwargs,
                            "in_channels": NUM_CHANNELS, "grid_size": cfg.grid_size,
                            "scenario": DEFAULT_SCENARIO.to_dict()})
                runlog.write(row)
                if bar is not None:
                    bar.set_postfix_str(progress_postfix(row, cfg.reward), refresh=False)
            stepped = env.num_envs * ctx.world_size
            if counters["env_steps"] // cfg.checkpoint_every > (counters["env_steps"] - stepped) // cfg.checkpoint_every:
                checkpoint("last")
    finally:
        if bar is not None:
            bar.close()
    final_path = checkpoint("final")
    last_path = checkpoint("last")
    plot, rows = None, []
    if main_rank:
        runlog.close()
        plot = runlog.plot(out / CURVE_NAME, cfg.reward)
        rows = [r for r in runlog.rows if r.get("validation_return") is not None]
    summary = {"out": str(out), "final_checkpoint": str(final_path), "best_checkpoint": str(best_path),
               "last_checkpoint": str(last_path), "log": str(out / LOG_NAME),
               "plot": str(plot) if plot else None, "env_steps": counters["env_steps"], "updates": counters["updates"],
               "episodes": counters["episodes"], "random_return": random_return, "domirank_return": domirank_return,
               "final_validation_return": rows[-1]["validation_return"] if rows else None,
               "best_validation_return": counters["best_validation"], "validation_episodes": cfg.eval_landscapes,
               "wall_s": counters["wall_s"], "session_wall_s": time.perf_counter() - clock,
               "micro_batch": oom.micro_batch,
               "steps_per_s": (counters["env_steps"] - steps_at_start) / max(1e-9, time.perf_counter() - start_time),
               "rank": ctx.rank, "world_size": ctx.world_size, "reward": cfg.reward}
    if main_rank:
        log.debug("done: %s", summary)
    return summary
