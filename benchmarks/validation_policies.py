"""Policies on the trainer's validation episodes: one-shot DomiRank and, given checkpoints,
each agent and their ensemble (Q-values averaged), on the same landscapes and fires as a
``qagent-train`` run's validation (``qagent.train.validation``: the trainer's own environment,
seed and policies, for the configuration the flags give), in the units of that run's reward.
Choices between configurations are made here, never on the evaluation landscapes.

    python benchmarks/validation_policies.py --landscapes ../shared/landfire/worcester_vt \\
        --grid-size 32 --reward relative --seed 0 [--checkpoint runs/a/best.pt runs/b/best.pt]

``--seed`` picks the validation set: a run's own seed gives the episodes its ``best.pt`` was
chosen on; another seed gives fresh validation episodes (still training landscapes), fair to
compare several runs and their ensemble.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from qagent.env.fuel_break_env import REWARD_UNITS, REWARDS, StaticObservationCache
from qagent.env.sources import make_source
from qagent.evaluation.methods import AgentPolicy
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.config import build_config
from qagent.train.validation import (DomiRankPolicy, DomiRankScores, GreedyPolicy, evaluate_policy,
                                     make_validation_env, validation_seed_of)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="TOML", help="the run's settings file, if any")
    p.add_argument("--landscapes", default="synthetic")
    p.add_argument("--grid-size", type=int)
    p.add_argument("--reward", choices=REWARDS)
    p.add_argument("--seed", type=int, help="which run's validation episodes (default 0)")
    p.add_argument("--ignitions", type=int)
    p.add_argument("--checkpoint", nargs="*", default=[], metavar="CKPT",
                   help="agents to score, each alone and, if several, as an ensemble")
    a = p.parse_args()
    cfg = build_config(a.config, landscapes=a.landscapes, grid_size=a.grid_size, reward=a.reward, seed=a.seed,
                       ignitions=a.ignitions, device="cpu")
    source = make_source(cfg.landscapes, (cfg.grid_size, cfg.grid_size), "train")
    env = make_validation_env(cfg, source, StaticObservationCache(source, DEFAULT_SCENARIO, "cpu"), "cpu")
    units = f"% of the {REWARD_UNITS[cfg.reward]} per episode"
    k = cfg.cells_per_step
    # the trainer's policies: DomiRank's reference, and its greedy step on an agent's (mean) Q-values
    policies = {"DomiRank (one-shot)": DomiRankPolicy(env, DomiRankScores(source, "cpu"), k)}
    if a.checkpoint:
        ensemble = AgentPolicy.load(a.checkpoint)  # loads each checkpoint once and checks they fit together
        for path, model in zip(ensemble.checkpoints, ensemble.models):
            policies[f"agent {path}"] = GreedyPolicy(replace(ensemble, models=[model], checkpoints=[path]).q_values, k)
        if len(a.checkpoint) > 1:
            policies[f"ensemble of {len(a.checkpoint)}"] = GreedyPolicy(ensemble.q_values, k)
    for name, policy in policies.items():
        value = evaluate_policy(env, policy, cfg.eval_landscapes, validation_seed_of(cfg))
        print(f"{name}, validation, seed {cfg.seed}: {value:.3f} {units}", flush=True)


if __name__ == "__main__":
    main()
