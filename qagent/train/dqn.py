"""Double DQN for fuel-break placement: :func:`train`, one loop you can read top to bottom
(after CleanRL's dqn.py): act epsilon-greedily with k-cell actions, step the environments,
store compact transitions in replay, update (``qagent.train.learner``), and now and then
validate, log and write a checkpoint.

The algorithm (actions, the Double DQN target, why gamma = 0 by default, replay of compact
states, micro-batched updates and their out-of-memory retry, bf16, the DomiRank warm start
with DQfD's margin, runs and resume, distributed training): docs/training.md.

The names other modules import from here (``select_actions``, ``greedy_actions``,
``evaluate_policy``, ``make_validation_env``, ``validation_seed_of``, ``training_curve_figure``,
``return_unit``, ``check_output``, ...) live in the modules above and are re-exported.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qagent import distributed as dist_util
from qagent._validation import resolve_device
from qagent.agent.models import count_parameters
from qagent.agent.policy import greedy_actions, greedy_topk, select_actions
from qagent.agent.replay import PrioritizedReplay, UniformReplay
from qagent.env.fuel_break_env import BatchedFuelBreakEnv, StaticObservationCache
from qagent.env.sources import make_source
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.checkpoint import RunCheckpoints, initial_weights
from qagent.train.config import TrainConfig
from qagent.train.learner import Learner, double_dqn_target, dqfd_margin, warmup_cosine
from qagent.train.presets import configure_cuda_allocator
from qagent.train.runlog import (CHECKPOINT_NAMES, CURVE_LABELS, CURVE_NAME, LOG_FIELDS, LOG_NAME, TENSORBOARD_NAME,
                                 RunLog, WallClock, check_output, delete_run, memory_report, progress_bar,
                                 progress_postfix, return_unit, run_files, training_curve_figure)
from qagent.train.validation import (DomiRankPolicy, DomiRankScores, GreedyPolicy, RandomPolicy, domirank_policy,
                                     env_config, evaluate_policy, make_validation_env, validation_seed_of)

__all__ = [  # train, and the names other modules have imported from here
    "train", "linear_epsilon", "act", "select_actions", "greedy_actions", "greedy_topk", "score_actions",
    "double_dqn_target", "dqfd_margin", "warmup_cosine", "Learner", "RunCheckpoints", "evaluate_policy", "env_config",
    "make_validation_env", "validation_seed_of", "DomiRankScores", "domirank_policy", "DomiRankPolicy",
    "GreedyPolicy", "RandomPolicy", "RunLog", "LOG_FIELDS", "CURVE_LABELS", "return_unit", "training_curve_figure",
    "progress_postfix", "memory_report", "CHECKPOINT_NAMES", "LOG_NAME", "CURVE_NAME", "TENSORBOARD_NAME",
    "run_files", "check_output", "delete_run",
]

log = logging.getLogger("qagent.train")

score_actions = greedy_topk  # an earlier name of greedy_topk (which returns a tensor, not a numpy array)


# ----------------------------------------------------------------------------- acting
def linear_epsilon(step: int, total: int, cfg: TrainConfig) -> float:
    """Epsilon after ``step`` of ``total`` environment steps: linear from ``eps_start`` to
    ``eps_end`` over ``exploration_fraction`` of the run, then constant."""
    span = max(1.0, cfg.exploration_fraction * total)
    return cfg.eps_end + (cfg.eps_start - cfg.eps_end) * max(0.0, 1.0 - step / span)


def act(model: torch.nn.Module, obs: torch.Tensor, valid: torch.Tensor, k: int, epsilon: float,
        rng: np.random.Generator, demo_scores: torch.Tensor | None = None) -> np.ndarray:
    """The behaviour policy, int64 [N, k] cells: while demonstrating (``demo_scores`` [N, H*W],
    DomiRank's), their top k valid cells; else epsilon-greedy on the online network's Q-values,
    computed in eval mode so acting never moves BatchNorm statistics."""
    if demo_scores is not None:
        return greedy_topk(demo_scores, valid, k).cpu().numpy()
    q = None
    if epsilon < 1.0:
        with torch.no_grad():
            q = model.eval()(obs, valid.view(obs.shape[0], *obs.shape[2:])).flatten(1).float()
    model.train()
    return select_actions(q, valid, k, epsilon, rng)


def finished_returns(info: dict) -> list[float]:
    """The returns (x100) of the episodes that ended in a step, in environment order (from
    gymnasium's same-step autoreset keys)."""
    if "final_info" not in info:
        return []
    return [100.0 * float(r) for r in info["final_info"]["episode_return"][info["_final_info"]]]


# ----------------------------------------------------------------------------- pacing
def updates_due(counters: dict, cfg: TrainConfig, num_envs: int, world_size: int) -> int:
    """Gradient updates to run now: ``updates_per_step`` per environment transition of this
    rank, at most 4 environment steps' worth at once (so the updates due when learning starts
    are caught up gradually)."""
    due = int(counters["env_steps"] * cfg.updates_per_step / world_size) - counters["updates"]
    return max(0, min(due, max(1, int(num_envs * cfg.updates_per_step * 4))))


def crossed(value: int, stepped: int, every: int) -> bool:
    """Whether going from ``value - stepped`` to ``value`` passed a multiple of ``every``."""
    return value // every > (value - stepped) // every


def log_row(counters: dict, clock: WallClock, epsilon: float, learner: Learner, losses: list[float],
            episode_returns: list[float], references: dict, sims_per_s: float) -> dict:
    """One training_log.csv row (``LOG_FIELDS``; ``validation_return`` is added when due)."""
    return {"env_steps": counters["env_steps"], "updates": counters["updates"], "episodes": counters["episodes"],
            "wall_s": round(clock.wall_s(), 2), "epsilon": round(epsilon, 4),
            "learning_rate": learner.scheduler.get_last_lr()[0],
            "loss": float(np.mean(losses[-50:])) if losses else None,
            "episode_return": float(np.mean(episode_returns[-50:])) if episode_returns else None,
            **references, "sims_per_s": sims_per_s, "micro_batch": learner.oom.micro_batch}


# ----------------------------------------------------------------------------- setup
def start_processes(cfg: TrainConfig, distributed: bool) -> tuple[dist_util.Context, torch.device]:
    """The process group (``distributed``, under torchrun) or a single process, and the device."""
    if cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available()):
        configure_cuda_allocator()  # before CUDA initialises
    if distributed:
        ctx = dist_util.setup(cfg.device)
        return ctx, ctx.device
    device = resolve_device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    return dist_util.Context(), device


def seed_everything(seed: int, rank_seed: int) -> np.random.Generator:
    """Seed Python's and numpy's RNGs with the rank's seed and torch's with the run's (the same
    initial weights on every rank); returns the rank's generator for replay sampling and
    exploration."""
    random.seed(rank_seed)
    np.random.seed(rank_seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(rank_seed + 1)


REFERENCE_COUNTERS = ("random_return", "domirank_return")  # reference_returns' keys, kept in the counters


def reference_returns(cfg: TrainConfig, validation: BatchedFuelBreakEnv, domirank: DomiRankScores,
                      rng: np.random.Generator) -> dict:
    """What the agent is measured against on its validation episodes: random placement and
    DomiRank, in the log's columns."""
    k, seed = cfg.cells_per_step, validation_seed_of(cfg)
    random_return = evaluate_policy(validation, RandomPolicy(k, rng), cfg.eval_landscapes, seed)
    domirank_return = evaluate_policy(validation, DomiRankPolicy(validation, domirank, k), cfg.eval_landscapes, seed)
    log.info("validation episodes: random placement %.3f, DomiRank %.3f %s", random_return, domirank_return,
             return_unit(cfg.reward))
    return {"random_return": random_return, "domirank_return": domirank_return}


# ----------------------------------------------------------------------------- training
def train(cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
          distributed: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train an agent; returns a summary (paths, returns, counts); the algorithm: docs/training.md.

    ``cfg.out`` must not hold another run (:func:`check_output`): ``resume`` from a
    checkpoint in it continues that run (its log is cut back to the checkpoint), ``overwrite``
    replaces it."""
    # -- setup ------------------------------------------------------------------------------
    started = time.perf_counter()
    # before the process group exists: no rank writes anything until every rank has checked
    replaced = check_output(Path(cfg.out), resume, overwrite)
    ctx, device = start_processes(cfg, distributed)
    main_rank, out, k = ctx.is_main, Path(cfg.out), cfg.cells_per_step
    out.mkdir(parents=True, exist_ok=True)
    rank_seed = cfg.seed + 1_000_003 * ctx.rank  # each rank its own environments and samples
    sample_rng = seed_everything(cfg.seed, rank_seed)
    grid = (cfg.grid_size, cfg.grid_size)
    values = {name: getattr(cfg, name) for name in ("values", "synthetic_values") if getattr(cfg, name) is not None}
    source = make_source(cfg.landscapes, grid, "train", fuel=cfg.fuel, ignition_density=cfg.ignition_density,
                         **values)
    cache = StaticObservationCache(source, DEFAULT_SCENARIO, device)
    env = BatchedFuelBreakEnv(source, cfg.num_envs, env_config(cfg), DEFAULT_SCENARIO, device, seed=rank_seed,
                              observation_cache=cache)
    validation = make_validation_env(cfg, source, cache, device)
    learner = Learner(cfg, device, cache, distributed=ctx.enabled)
    replay = (PrioritizedReplay if cfg.prioritized else UniformReplay)(cfg.buffer_capacity, grid, k)
    # wall_s: seconds this run has taken, over all its sessions (resumes add to it)
    counters = {"env_steps": 0, "updates": 0, "episodes": 0, "best_validation": -math.inf, "wall_s": 0.0}
    checkpoints = RunCheckpoints(out, cfg, learner, replay, env, sample_rng, counters, ctx)
    if resume is not None:
        checkpoints.restore(resume)
    elif cfg.init_weights is not None:  # fine-tuning: a resumed run keeps its own weights
        learner.start_from(initial_weights(cfg.init_weights, cfg, learner.model_kwargs))
        log.info("network and target start from %s", cfg.init_weights)
    clock = WallClock(counters["wall_s"], started)
    if replaced:  # --overwrite, now that the new run is set up: the old run goes before anything is written
        delete_run(out, replaced)
        dist_util.barrier()
    runlog = RunLog(out, resume_at=counters["env_steps"] if resume is not None else None) if main_rank else None
    log.info("training %s (%s parameters) on %s with preset %s; %s%s", cfg.model,
             f"{count_parameters(learner.model):,}", device, cfg.preset, source.describe(),
             f"; rank {ctx.rank} of {ctx.world_size}" if ctx.enabled else "")
    log.info(memory_report(device))
    domirank = DomiRankScores(source, device)
    references = {}
    if main_rank:
        # Drawn once per run with the run's sample RNG and kept in its counters: a resumed run
        # reads them back instead of drawing again, so its RNG continues where it stopped.
        references = {name: counters[name] for name in REFERENCE_COUNTERS if name in counters}
        if len(references) < len(REFERENCE_COUNTERS):
            references = reference_returns(cfg, validation, domirank, sample_rng)
            counters.update(references)

    # -- warm start: the first episodes follow DomiRank (when the run starts); loop state ----
    obs, info = env.reset()
    demo_episodes_left = cfg.warm_start_episodes if counters["env_steps"] == 0 else 0
    demo_scores = domirank(env.landscape_id) if demo_episodes_left > 0 else None
    episode_returns: list[float] = []
    losses: list[float] = []
    loop_started, sims_at_start, steps_at_start = time.perf_counter(), env.simulations, counters["env_steps"]
    bar = progress_bar(cfg, counters["env_steps"]) if progress and main_rank else None
    last_log, stepped = counters["env_steps"], env.num_envs * ctx.world_size  # all ranks step in lockstep
    try:
        while counters["env_steps"] < cfg.steps:
            # -- act, step, store ---------------------------------------------------------------
            epsilon = linear_epsilon(counters["env_steps"], cfg.steps, cfg)
            demonstrating = demo_scores is not None
            actions = act(learner.model, obs, info["action_mask"], k, epsilon, sample_rng, demo_scores)
            masks_before, landscape_ids = env.breaks.cpu().numpy(), env.landscape_id.copy()
            obs, rewards, terminated, truncated, info = env.step(actions)
            replay.add_batch(landscape_ids, masks_before, actions, rewards, terminated, demo=demonstrating)
            counters["env_steps"] += stepped
            ended = finished_returns(info)
            counters["episodes"] += len(ended)
            episode_returns += ended
            if demonstrating and ended:  # new episodes: DomiRank's scores of their landscapes, while it leads
                demo_episodes_left -= len(ended)
                demo_scores = domirank(env.landscape_id) if demo_episodes_left > 0 else None

            # -- update ---------------------------------------------------------------------------
            if counters["env_steps"] >= cfg.learning_starts and len(replay) >= learner.batch_size:
                for _ in range(updates_due(counters, cfg, env.num_envs, ctx.world_size)):
                    batch = replay.sample(learner.batch_size, sample_rng)
                    loss, td = learner.update(batch)
                    if isinstance(replay, PrioritizedReplay):
                        replay.update_priorities(batch.indices, td.abs().cpu().numpy())
                        replay.anneal_beta(counters["env_steps"] / cfg.steps)
                    losses.append(loss)
                    counters["updates"] += 1

            # -- validate, log, checkpoint ------------------------------------------------------
            if bar is not None:
                bar.update(stepped)
            at_end = counters["env_steps"] >= cfg.steps
            if main_rank and (counters["env_steps"] - last_log >= cfg.log_every or at_end):
                last_log = counters["env_steps"]
                sims_per_s = (env.simulations - sims_at_start) / max(time.perf_counter() - loop_started, 1e-9)
                row = log_row(counters, clock, epsilon, learner, losses, episode_returns, references, sims_per_s)
                if crossed(counters["env_steps"], cfg.log_every, cfg.eval_every) or at_end:
                    learner.model.eval()
                    row["validation_return"] = evaluate_policy(validation, GreedyPolicy(learner.model, k),
                                                               cfg.eval_landscapes, validation_seed_of(cfg))
                    learner.model.train()
                    if row["validation_return"] > counters["best_validation"]:
                        counters["best_validation"] = row["validation_return"]
                        checkpoints.write("best", clock.wall_s())
                runlog.write(row)
                if bar is not None:
                    bar.set_postfix_str(progress_postfix(row, cfg.reward), refresh=False)
            if crossed(counters["env_steps"], stepped, cfg.checkpoint_every):
                checkpoints.write("last", clock.wall_s())
    finally:
        if bar is not None:
            bar.close()

    # -- finish -----------------------------------------------------------------------------
    final_path = checkpoints.write("final", clock.wall_s())
    last_path = checkpoints.write("last", clock.wall_s())
    plot, validated = None, []
    if main_rank:
        runlog.close()
        plot = runlog.plot(out / CURVE_NAME, cfg.reward)
        validated = [r["validation_return"] for r in runlog.rows if r.get("validation_return") is not None]
    steps_per_s = (counters["env_steps"] - steps_at_start) / max(1e-9, time.perf_counter() - loop_started)
    summary = run_summary(cfg, ctx, counters, references, learner, clock, final_path, last_path, plot, validated,
                          steps_per_s)
    if main_rank:
        log.debug("done: %s", summary)
    return summary


def run_summary(cfg: TrainConfig, ctx: dist_util.Context, counters: dict, references: dict, learner: Learner,
                clock: WallClock, final_path: Path, last_path: Path, plot: Path | None, validated: list[float],
                steps_per_s: float) -> dict[str, Any]:
    """What :func:`train` returns (``qagent-train`` prints it with ``format_summary``)."""
    out = Path(cfg.out)
    return {"out": str(out), "final_checkpoint": str(final_path), "best_checkpoint": str(out / "best.pt"),
            "last_checkpoint": str(last_path), "log": str(out / LOG_NAME), "plot": str(plot) if plot else None,
            "env_steps": counters["env_steps"], "updates": counters["updates"], "episodes": counters["episodes"],
            "random_return": references.get("random_return"), "domirank_return": references.get("domirank_return"),
            "final_validation_return": validated[-1] if validated else None,
            "best_validation_return": counters["best_validation"], "validation_episodes": cfg.eval_landscapes,
            "wall_s": counters["wall_s"], "session_wall_s": clock.session_s(), "micro_batch": learner.oom.micro_batch,
            "steps_per_s": steps_per_s, "rank": ctx.rank, "world_size": ctx.world_size, "reward": cfg.reward}
