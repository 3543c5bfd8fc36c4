"""One-shot DomiRank on the trainer's validation episodes: the same landscapes and fires as
``qagent.train.dqn``'s validation for a given seed (demo preset: 4 environments, 32 fires,
5 % budget, k = 5), in the units of the chosen reward, so that a run's ``validation_return``
can be compared with DomiRank's without touching the evaluation landscapes.

    python benchmarks/validation_domirank.py --landscapes ../shared/landfire/worcester_vt \\
        --grid-size 32 --reward relative --seed 0
"""

from __future__ import annotations

import argparse

import torch

from qagent.baselines import domirank
from qagent.env.fuel_break_env import BatchedFuelBreakEnv, EnvConfig, StaticObservationCache
from qagent.env.sources import make_source
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.dqn import evaluate_policy, score_actions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landscapes", default="synthetic")
    p.add_argument("--grid-size", type=int, default=32)
    p.add_argument("--reward", choices=["absolute", "relative"], default="absolute")
    p.add_argument("--seed", type=int, default=0, help="the training run's seed")
    p.add_argument("--episodes", type=int, default=32)
    p.add_argument("--ignitions", type=int, default=32)
    a = p.parse_args()
    source = make_source(a.landscapes, (a.grid_size, a.grid_size), "train")
    cache = StaticObservationCache(source, DEFAULT_SCENARIO, "cpu")
    env = BatchedFuelBreakEnv(source, 4, EnvConfig(0.05, 5, a.ignitions, reward=a.reward), DEFAULT_SCENARIO, "cpu",
                              autoreset=False, observation_cache=cache)
    reference = DEFAULT_SCENARIO.reference_weather()

    def policy(obs, valid):
        scores = torch.stack([domirank(source.landscape(int(i)), reference).reshape(-1) for i in env.landscape_id])
        return score_actions(scores, valid, 5)

    value = evaluate_policy(env, policy, a.episodes, 10_000 + a.seed)  # the trainer's validation seed
    unit = "% of the untreated burned area" if a.reward == "relative" else "% of the landscape"
    print(f"DomiRank (one-shot), validation, seed {a.seed}: {value:.3f} {unit} per episode")


if __name__ == "__main__":
    main()
