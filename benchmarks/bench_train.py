"""Training benchmark: environment steps and gradient updates per second, peak memory per
preset and model, replay bytes per transition, and the reward's noise with and without
common random numbers.

    python benchmarks/bench_train.py [--presets demo low medium high] [--device cpu|cuda]
                                     [--cap-gib 3.68] [--json bench_out/train.json]

Each (preset, model) is measured in a fresh subprocess so that peak memory is its own:
- CPU: peak resident set size of the process (ru_maxrss) minus the resident size after
  imports and landscape generation, i.e. what the environments, model, optimizer, replay and
  updates add;
- CUDA: torch.cuda.max_memory_allocated. With --cap-gib the process is limited by
  torch.cuda.set_per_process_memory_fraction to that many GiB (e.g. 3.68, a small laptop GPU)
  and must complete, by the preset fitting or by OOM-retry halving the micro-batch; the final
  micro-batch is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODELS = {"demo": ["qnet"], "low": ["qnet", "dueling"], "medium": ["enhanced_efficient"], "high": ["enhanced"]}


def measure(preset: str, model: str, device: str, cap_gib: float | None, steps: int, updates: int) -> dict:
    """Runs in the child process."""
    import resource

    import numpy as np
    import torch

    from qagent.agent.replay import PrioritizedReplay
    from qagent.env import BatchedFuelBreakEnv, EnvConfig, SyntheticSource
    from qagent.train.config import build_config
    from qagent.train.dqn import train

    if device.startswith("cuda") and cap_gib:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib * 2**30 / total))
    cfg = build_config(None, preset=preset, model=model, device=device, steps=steps, out=f"/tmp/bench_train_{preset}",
                       learning_starts=min(steps // 2, 256), eval_every=10**9, checkpoint_every=10**9,
                       eval_landscapes=4, log_every=10**9)
    grid = (cfg.grid_size, cfg.grid_size)
    # environment alone
    env = BatchedFuelBreakEnv(SyntheticSource(grid), cfg.num_envs, EnvConfig(ignitions=cfg.ignitions), device=device)
    _, info = env.reset()
    for lid in range(64):  # landscapes the run will see, generated before the baseline is read
        env.source.landscape(lid)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 5.0:
        mask = info["action_mask"].cpu().numpy()
        actions = np.stack([rng.choice(np.flatnonzero(m), cfg.cells_per_step, replace=False) for m in mask])
        _, _, _, _, info = env.step(actions)
        n += 1
    env_steps_per_s = n * cfg.num_envs / (time.perf_counter() - t0)
    sims_per_s = env.simulations / (time.perf_counter() - t0)
    # a short training run: updates per second from the run's own counters
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    summary = train(cfg, progress=False, overwrite=True)  # a scratch folder, rerun at will
    wall = time.perf_counter() - t0
    replay = PrioritizedReplay(cfg.buffer_capacity, grid, cfg.cells_per_step)
    out = {"preset": preset, "model": model, "device": device, "grid": f"{grid[0]}x{grid[1]}",
           "num_envs": cfg.num_envs, "effective_batch": cfg.micro_batch * cfg.accumulation_steps,
           "env_steps_per_s": env_steps_per_s, "simulations_per_s": sims_per_s,
           "train_steps_per_s": summary["env_steps"] / wall, "updates": summary["updates"],
           "updates_per_s": summary["updates"] / wall, "final_micro_batch": summary["micro_batch"],
           "replay_bytes_per_transition": replay.bytes_per_transition()}
    if device.startswith("cuda"):
        out["gpu_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["cap_gib"] = cap_gib
    else:
        out["cpu_peak_rss_growth_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    return out


def reward_noise(samples: int = 40) -> dict:
    """Std of one placement's reward estimate over repeated draws of S = 32 fires: common random
    numbers (the same fires before and after) against independent draws."""
    import numpy as np
    import torch

    from qagent.env import SyntheticSource
    from qagent.fire import simulate
    from qagent.fire.scenario import DEFAULT_SCENARIO

    src = SyntheticSource((50, 50))
    rows = []
    for lid in range(5):
        ls = src.landscape(lid)
        burnable = torch.nonzero(ls.burnable_mask().reshape(-1)).reshape(-1).numpy()
        rng = np.random.default_rng(lid)
        breaks = torch.zeros(ls.shape, dtype=torch.bool)
        breaks.view(-1)[torch.from_numpy(rng.choice(burnable, int(0.05 * len(burnable)), replace=False))] = True

        def draw(seed):
            r = np.random.default_rng(seed)
            w, d = DEFAULT_SCENARIO.sample(32, r)
            return burnable[r.integers(0, len(burnable), 32)], w, torch.from_numpy(d)

        def burned(ign, w, d, fb):
            return simulate(ls, ign, w, d, fuel_breaks=fb).burned_cells.double().mean().item() / ls.num_cells

        crn, independent = [], []
        for s in range(samples):
            a, b = draw(s), draw(100_000 + s)
            crn.append(burned(*a, None) - burned(*a, breaks))
            independent.append(burned(*a, None) - burned(*b, breaks))
        rows.append({"landscape": lid, "mean_reward": float(np.mean(crn)), "std_crn": float(np.std(crn)),
                     "std_independent": float(np.std(independent))})
    return {"rows": rows, "std_ratio_median": float(np.median([r["std_independent"] / r["std_crn"] for r in rows]))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["demo", "low", "medium", "high"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--cap-gib", type=float, default=None)
    p.add_argument("--steps", type=int, default=600, help="environment steps of each short training run")
    p.add_argument("--json", type=Path)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(measure(a.child[0], a.child[1], a.device, a.cap_gib, a.steps, 0)))
        return 0
    results = []
    for preset in a.presets:
        for model in MODELS[preset]:
            cmd = [sys.executable, __file__, "--device", a.device, "--steps", str(a.steps), "--child", preset, model]
            if a.cap_gib:
                cmd += ["--cap-gib", str(a.cap_gib)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            if proc.returncode != 0:
                results.append({"preset": preset, "model": model, "error": proc.stderr.strip().splitlines()[-1:]})
            else:
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
    noise = reward_noise()
    print(f"reward noise (std of one placement's reward, 32 fires): common random numbers "
          f"{np.median([r['std_crn'] for r in noise['rows']]):.5f}, independent draws "
          f"{np.median([r['std_independent'] for r in noise['rows']]):.5f}; median ratio {noise['std_ratio_median']:.1f}x")
    if a.json:
        from qagent.bench import machine_facts

        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"command": " ".join(sys.argv), "machine": machine_facts(), "presets": results,
                                      "reward_noise": noise}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    import numpy as np

    sys.exit(main())
