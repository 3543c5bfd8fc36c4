"""One-shot DomiRank on the trainer's validation episodes: the same landscapes and fires as a
``qagent-train`` run's validation (``make_validation_env`` and ``validation_seed_of`` from
``qagent.train.dqn``, for the configuration the flags give), in the units of that run's
reward, so that its ``validation_return`` can be compared with DomiRank's without touching
the evaluation landscapes.

    python benchmarks/validation_domirank.py --landscapes ../shared/landfire/worcester_vt \\
        --grid-size 32 --reward relative --seed 0
"""

from __future__ import annotations

import argparse

import torch

from qagent.baselines import domirank
from qagent.env.fuel_break_env import REWARD_UNITS, REWARDS, StaticObservationCache
from qagent.env.sources import make_source
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.config import build_config
from qagent.train.dqn import evaluate_policy, make_validation_env, score_actions, validation_seed_of


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="TOML", help="the run's settings file, if any")
    p.add_argument("--landscapes", default="synthetic")
    p.add_argument("--grid-size", type=int)
    p.add_argument("--reward", choices=REWARDS)
    p.add_argument("--seed", type=int, help="the training run's seed")
    p.add_argument("--ignitions", type=int)
    a = p.parse_args()
    cfg = build_config(a.config, landscapes=a.landscapes, grid_size=a.grid_size, reward=a.reward, seed=a.seed,
                       ignitions=a.ignitions, device="cpu")
    source = make_source(cfg.landscapes, (cfg.grid_size, cfg.grid_size), "train")
    env = make_validation_env(cfg, source, StaticObservationCache(source, DEFAULT_SCENARIO, "cpu"), "cpu")
    reference = DEFAULT_SCENARIO.reference_weather()

    def policy(obs, valid):
        scores = torch.stack([domirank(source.landscape(int(i)), reference).reshape(-1) for i in env.landscape_id])
        return score_actions(scores, valid, cfg.cells_per_step)

    value = evaluate_policy(env, policy, cfg.eval_landscapes, validation_seed_of(cfg))
    print(f"DomiRank (one-shot), validation, seed {cfg.seed}: {value:.3f} % of the {REWARD_UNITS[cfg.reward]} "
          "per episode")


if __name__ == "__main__":
    main()
