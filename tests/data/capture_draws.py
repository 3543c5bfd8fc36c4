"""Outputs of the fire-drawing paths captured from the code BEFORE FireScenario.draw (commit 06776d5):
run `python tests/data/capture_draws.py tests/data/draws_before.npz`; tests/test_draws.py compares today's
outputs with them."""
import sys
import numpy as np, torch
from qagent.env import BatchedFuelBreakEnv, EnvConfig, SyntheticSource
from qagent.evaluation.evaluate import evaluation_fires, evaluate
from qagent.fire import burn_probability, sample_ignitions
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape.synthetic import synthetic
from qagent.evaluation import baselines

out = {}
ls = synthetic(24, 24, seed=7)
ign, w, d = evaluation_fires(ls, 50, 3, 2, DEFAULT_SCENARIO)
out["eval_ign"] = ign.numpy(); out["eval_weather"] = w.as_op_tensor("cpu").numpy(); out["eval_dur"] = d
out["sample_ign"] = sample_ignitions(ls, 40, 11).numpy()
out["bp"] = burn_probability(ls, 60, w if False else DEFAULT_SCENARIO.reference_weather(), 180.0, 5).numpy()
out["bpb"] = baselines.burn_probability_breaks(ls, DEFAULT_SCENARIO, 10, n_ignitions=40, seed=9, rounds=2).numpy()
env = BatchedFuelBreakEnv(SyntheticSource((20, 20)), 3, EnvConfig(0.05, 3, 12, reward="absolute"), seed=5, autoreset=True)
env.reset()
rng = np.random.default_rng(0)
rews = [env.baseline_fraction.copy()]
ign_env = [env._ignition.cpu().numpy().copy()]
for _ in range(8):
    mask = env.action_mask().cpu().numpy()
    a = np.stack([rng.choice(np.flatnonzero(m), 3, replace=False) for m in mask])
    o, r, te, tr, info = env.step(a)
    rews.append(np.asarray(r, dtype=np.float64).copy())
    ign_env.append(env._ignition.cpu().numpy().copy())
out["env_rewards"] = np.stack(rews); out["env_ign"] = np.stack(ign_env)
rows, _ = evaluate(SyntheticSource((20, 20), "eval", count=3), ["none", "random", "burn_probability"], agent=None,
                   budget_fraction=0.05, ignitions=30, seed=4, placement_ignitions=30)
out["evaluate"] = np.array([r.burned_fraction for r in rows])
np.savez(sys.argv[1], **out)
print({k: v.shape for k, v in out.items()})
