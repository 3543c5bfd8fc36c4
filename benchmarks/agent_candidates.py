"""Which candidate plans should the agent choose among? (BENCHMARKS.md, "The agent chooses
among candidate plans"). On validation landscapes (split train, seed 7), every candidate of
``agent_candidate_plans`` plus the networks alone, one-shot DPV and burn probability (with
values: burn probability x value, a candidate itself since 2026-12-03) is placed and scored on the
evaluation fires (400) and on the agent's selection fires; each set of candidates is then
judged by the evaluation-fire reduction of the plan its selection fires pick, beside the best
plan per landscape by its evaluation fires (which no planner can pick):

    OMP_NUM_THREADS=1 python benchmarks/agent_candidates.py --landscapes ../shared/landfire/worcester_vt
    OMP_NUM_THREADS=1 python benchmarks/agent_candidates.py --landscapes synthetic --synthetic-values habitat

(The table in BENCHMARKS.md came from an earlier form of this script whose selection fires were
drawn from ``default_rng([99, 7, landscape])`` instead of ``selection_fire_seed``.)"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from qagent.env.fuel_break_env import budget_cells
from qagent.env.sources import make_source
from qagent.evaluation import methods
from qagent.evaluation.evaluate import evaluation_fires
from qagent.evaluation.pretrained import load_default_agent
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.fire.spread import simulate

SETS = {
    "ensemble alone": ("ensemble",),
    "ensemble + DPV in rounds": ("ensemble", "dpv_rounds"),
    "the four ensemble plans": tuple(methods.ENSEMBLE_VARIANTS),
    "the four + each network": (*methods.ENSEMBLE_VARIANTS, "network_0", "network_1", "network_2"),
    "the agent's before (the four, each network, DPV in rounds)": ("*",),
    "the agent's (agent_candidate_plans)": None,
    "the agent's + DPV": ("*", "dpv"),
    "the agent's + burn probability": ("*", "burn_probability"),
    "the agent's + DPV + burn probability": ("*", "dpv", "burn_probability"),
    "all (also networks alone, DPV and burn probability)": (),  # every plan placed
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landscapes", default="synthetic")
    p.add_argument("--synthetic-values", default=None)
    p.add_argument("--values", default=None, help="values at risk GeoTIFF on a LANDFIRE folder's grid")
    p.add_argument("--grid-size", type=int, default=32)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    kwargs = {} if a.synthetic_values is None else {"synthetic_values": a.synthetic_values}
    if a.values is not None:
        kwargs["values"] = a.values
    source = make_source(a.landscapes, a.grid_size, "train", count=a.count, **kwargs)
    agent = load_default_agent()
    agent.valued_fraction = source.valued_fraction
    weather = DEFAULT_SCENARIO.reference_weather()
    rows = []
    for lid in range(min(len(source), a.count)):
        ls, values, density = source.landscape(lid), source.values(lid), source.ignition_density(lid)
        budget = budget_cells(int(ls.burnable_mask().sum()), 0.05, agent.cells_per_step)
        r = methods.placement_request(ls, weather, budget, methods.placement_seed(a.seed, lid), agent,
                                      ignition_density=density, values=values)
        plans = {name: breaks for name, (breaks, _) in methods.agent_candidate_plans(r).items()}
        agents_own = list(plans)
        plans["agent_network"] = methods.REGISTRY["agent_network"].place(r)
        plans["dpv"] = methods.REGISTRY["dpv"].place(r)
        if "burn_probability" not in plans:  # with values the agent's candidates have it already
            plans["burn_probability"] = methods.REGISTRY["burn_probability"].place(r)
        plans["none"] = torch.zeros(ls.shape, dtype=torch.bool)
        selection = DEFAULT_SCENARIO.draw(ls, r.placement_ignitions,
                                          np.random.default_rng(methods.selection_fire_seed(r.seed)),
                                          ignition_density=density)
        evaluation = evaluation_fires(ls, 400, a.seed, lid, DEFAULT_SCENARIO, ignition_density=density)
        row = {"agents_own": agents_own}
        for tag, fires in (("ev", evaluation), ("sel", selection)):
            row[tag] = {name: float(methods.burned_measure(simulate(
                ls, fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min), fuel_breaks=breaks,
                values=values, return_burn_count=False), values).mean()) for name, breaks in plans.items()}
        if row["ev"]["none"] > 0 and row["sel"]["none"] > 0:
            rows.append(row)

    def reduction(row, name):
        return 1.0 - row["ev"][name] / row["ev"]["none"]

    print(f"{len(rows)} landscapes; mean relative reduction on the evaluation fires")
    names = list(dict.fromkeys(n for row in rows for n in row["ev"] if n != "none"))
    for name in names:  # a value ensemble has two networks: network_2 only where the area ensemble placed
        having = [reduction(row, name) for row in rows if name in row["ev"]]
        print(f"  {name:34s} {100 * np.mean(having):6.2f} %" + ("" if len(having) == len(rows) else
                                                                f" ({len(having)} landscapes)"))
    for label, names in SETS.items():
        picked, best = [], []
        for row in rows:
            wanted = names
            if wanted and wanted[0] == "*":  # the agent's candidates before burn probability joined, and these
                before = [n for n in row["agents_own"] if n != "burn_probability"]
                wanted = (*before, *wanted[1:])
            pool = row["agents_own"] if wanted is None else [n for n in (wanted or row["ev"]) if n in row["ev"]]
            pool = [n for n in pool if n != "none"]
            picked.append(reduction(row, min(pool, key=lambda n: row["sel"][n])))
            best.append(reduction(row, min(pool, key=lambda n: row["ev"][n])))
        print(f"  choice of {label:52s} {100 * np.mean(picked):6.2f} %   (best per landscape "
              f"{100 * np.mean(best):6.2f} %)")


if __name__ == "__main__":
    main()
