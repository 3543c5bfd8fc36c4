"""Burned fraction per ignition on the default training landscapes: the default fire
scenario (qagent.fire.scenario.DEFAULT_SCENARIO) against the original project's settings
(no wind, live and foliar moisture 10 %, dead moisture as the default's middle, 24 h).

    python benchmarks/scenario_stats.py [--landscapes 100] [--ignitions 64] [--size 50] [--json PATH]

Each landscape is synthetic (training seeds 0, 1, ...); ignitions are uniform over burnable
cells; the default scenario draws weather and duration per ignition.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from qagent.fire import Weather, sample_ignitions, simulate
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape import synthetic

ORIGINAL = Weather(wind_speed_10m=0.0, upwind_direction=0.0, fuel_moisture_dead_1hr=0.06,
                   fuel_moisture_dead_10hr=0.07, fuel_moisture_dead_100hr=0.08, fuel_moisture_live_herbaceous=0.10,
                   fuel_moisture_live_woody=0.10, foliar_moisture=0.10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landscapes", type=int, default=100)
    p.add_argument("--ignitions", type=int, default=64)
    p.add_argument("--size", type=int, default=50)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    default, original, per_landscape = [], [], []
    for seed in range(a.landscapes):
        ls = synthetic(a.size, a.size, seed)
        ign = sample_ignitions(ls, a.ignitions, seed)
        weather, duration = DEFAULT_SCENARIO.sample(a.ignitions, np.random.default_rng(seed))
        f = simulate(ls, ign, weather, torch.from_numpy(duration)).burned_cells.double().numpy() / ls.num_cells
        default.append(f)
        per_landscape.append(f.mean())
        original.append(simulate(ls, ign, ORIGINAL, 1440.0).burned_cells.double().numpy() / ls.num_cells)
    out = {}
    for name, values in (("default scenario", np.concatenate(default)), ("original settings", np.concatenate(original))):
        q = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
        out[name] = {"mean": float(values.mean()), "q10": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q90": q[4],
                     "share_over_half": float((values > 0.5).mean())}
        print(f"{name:18s} burned fraction per ignition: mean {values.mean():.3f}, quantiles 10/25/50/75/90 % "
              f"{' / '.join(f'{x:.3f}' for x in q)}, fires burning over half the tile {(values > 0.5).mean():.1%}")
    pl = np.array(per_landscape)
    out["default per landscape"] = {"q10": float(np.quantile(pl, 0.1)), "median": float(np.median(pl)),
                                    "q90": float(np.quantile(pl, 0.9))}
    print(f"default scenario, mean per landscape: 10/50/90 % {np.quantile(pl, 0.1):.3f} / {np.median(pl):.3f} / "
          f"{np.quantile(pl, 0.9):.3f}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"args": vars(a) | {"json": str(a.json)}, "results": out}, indent=2, default=float))


if __name__ == "__main__":
    main()
