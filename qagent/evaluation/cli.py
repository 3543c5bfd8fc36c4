"""Command lines of evaluation and planning.

qagent-eval: compare the agent with no treatment, random placement, DomiRank and a greedy
intensity heuristic on held-out landscapes, from the same fires.

  qagent-eval --checkpoint runs/qagent/best.pt --landscapes synthetic --budget 0.05 --ignitions 1000

qagent-plan: place breaks with the agent on a whole LANDFIRE landscape and write GeoTIFFs of
the breaks and of burn probability before and after, georeferenced like the input.

  qagent-plan --checkpoint runs/qagent/best.pt --landfire DIR --budget 0.05 --out plan/
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from qagent._validation import InputError

log = logging.getLogger("qagent.evaluation")


def eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-eval", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", metavar="CKPT",
                   help="trained agent (best.pt / final.pt); several: an ensemble averaging their Q-values "
                        "(runs of one configuration with different seeds); without it only the baselines run")
    p.add_argument("--landscapes", default="synthetic",
                   help="'synthetic' (held-out seeds) or a tile dataset / LANDFIRE folder (held-out region)")
    p.add_argument("--grid-size", type=int, help="tile side in cells (default: the checkpoint's, else 50)")
    p.add_argument("--split", default="eval", choices=["eval", "train", "all"],
                   help="which landscapes: eval (held out from training, default), train, all")
    p.add_argument("--count", type=int, default=100, help="landscapes to evaluate (synthetic: how many seeds)")
    p.add_argument("--budget", type=float, default=0.05, help="fraction of burnable cells to break (0.05)")
    p.add_argument("--ignitions", type=int, default=1000, help="fires per landscape (1000)")
    p.add_argument("--methods", nargs="+", default=["none", "random", "domirank", "greedy_intensity", "agent"])
    p.add_argument("--seed", type=int, default=0, help="seed of the fires and of random placement")
    p.add_argument("--figures", type=int, default=4, help="landscapes to draw (PNG)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="eval_out", help="output folder: summary.csv/.json, per_landscape.csv, PNGs")
    p.add_argument("--distributed", action="store_true",
                   help="split the landscapes across the processes torchrun starts; rank 0 writes the outputs")
    return p


def eval_main(argv: list[str] | None = None) -> int:
    args = eval_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent import distributed
        from qagent.env.sources import make_source
        from qagent.evaluation.evaluate import evaluate, format_table, summarize, write_outputs
        from qagent.evaluation.methods import AgentPolicy

        main_rank = True
        if args.distributed:
            main_rank = distributed.setup(args.device).is_main

        methods = list(args.methods)
        agent = AgentPolicy.load(args.checkpoint, args.device) if args.checkpoint else None
        if agent is None and "agent" in methods:
            methods.remove("agent")
        grid = args.grid_size or (agent.grid_size if agent else 50)
        source = make_source(args.landscapes, grid, args.split, count=args.count)
        log.info("evaluating %s on %s", ", ".join(methods), source.describe())
        t0 = time.perf_counter()
        rows, kept = evaluate(source, methods, agent=agent, budget_fraction=args.budget, ignitions=args.ignitions,
                              seed=args.seed, max_landscapes=args.count, keep_breaks=args.figures,
                              progress=main_rank, distributed=args.distributed)
        if not main_rank:
            return 0
        summary = summarize(rows, methods, args.seed)
        out = Path(args.out)
        meta = {"command": "qagent-eval " + " ".join(argv if argv is not None else sys.argv[1:]),
                "checkpoint": args.checkpoint, "landscapes": source.describe(), "budget_fraction": args.budget,
                "ignitions": args.ignitions, "seed": args.seed, "wall_s": time.perf_counter() - t0}
        write_outputs(out, rows, summary, meta)
        _eval_figures(out, kept)
    except InputError as e:
        print(f"qagent-eval: error: {e}", file=sys.stderr)
        return 2
    print(format_table(summary))
    print(f"wrote {out}/summary.csv, summary.json, per_landscape.csv and figures")
    return 0


def _eval_figures(out: Path, kept: dict) -> None:
    from qagent.evaluation.figures import landscape_figure

    for lid, item in kept.items():
        ls = item["landscape"]
        n = len(item["ignitions"])
        breaks = {m: v[0] for m, v in item.items() if isinstance(v, tuple)}
        probs = {m: v[1].float() / n for m, v in item.items() if isinstance(v, tuple) and m in ("none", "agent",
                                                                                                "domirank")}
        landscape_figure(out / f"landscape_{lid:04d}.png", ls, breaks, probs, title=f"held-out landscape {lid}")


def plan_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-plan", description=__doc__.split("\n\n")[3],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, nargs="+", metavar="CKPT",
                   help="trained agent; several: an ensemble averaging their Q-values")
    p.add_argument("--landfire", required=True, help="folder of LANDFIRE GeoTIFFs (any size)")
    p.add_argument("--budget", type=float, default=0.05, help="fraction of burnable cells to break (0.05)")
    p.add_argument("--ignitions", type=int, default=2000, help="fires for burn probability (2000)")
    p.add_argument("--cells-per-round", type=int,
                   help="cells placed per forward pass (default: budget / 50, at least the agent's k)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output folder")
    return p


def plan_main(argv: list[str] | None = None) -> int:
    args = plan_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent.env.fuel_break_env import budget_cells
        from qagent.evaluation.figures import landscape_figure
        from qagent.evaluation.methods import AgentPolicy
        from qagent.fire.scenario import DEFAULT_SCENARIO
        from qagent.fire.spread import simulate
        from qagent.landscape.landfire import load_landfire

        agent = AgentPolicy.load(args.checkpoint, args.device)
        ls = load_landfire(args.landfire)
        burnable = ls.burnable_mask()
        budget = budget_cells(int(burnable.sum()), args.budget, agent.cells_per_step)
        per_round = args.cells_per_round or max(agent.cells_per_step, budget // 50)
        log.info("%s: %d x %d cells, %d burnable; placing %d breaks, %d per round", args.landfire, *ls.shape,
                 int(burnable.sum()), budget, per_round)
        t0 = time.perf_counter()
        breaks = agent.place(ls, DEFAULT_SCENARIO.reference_weather(), budget, per_round).cpu()
        placement_s = time.perf_counter() - t0
        rng = np.random.default_rng(args.seed)
        cells = torch.nonzero(burnable.reshape(-1)).reshape(-1)
        ign = cells[torch.from_numpy(rng.integers(0, len(cells), args.ignitions))]
        weather, duration = DEFAULT_SCENARIO.sample(args.ignitions, rng)
        before = simulate(ls, ign, weather, torch.from_numpy(duration), device=args.device)
        after = simulate(ls, ign, weather, torch.from_numpy(duration), fuel_breaks=breaks, device=args.device)
        p_before = before.burn_count.float().cpu() / args.ignitions
        p_after = after.burn_count.float().cpu() / args.ignitions
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        ls.save_geotiff(out / "fuel_breaks.tif", breaks, allow_ungeoreferenced=ls.transform is None)
        ls.save_geotiff(out / "burn_probability_before.tif", p_before, allow_ungeoreferenced=ls.transform is None)
        ls.save_geotiff(out / "burn_probability_after.tif", p_after, allow_ungeoreferenced=ls.transform is None)
        landscape_figure(out / "overview.png", ls, {"agent": breaks}, {"before": p_before, "after": p_after},
                         title=f"{Path(args.landfire).name}: {budget} breaks ({100 * args.budget:g} %)")
        burned_before = before.burned_cells.double().mean().item()
        burned_after = after.burned_cells.double().mean().item()
        report = {"landfire": str(args.landfire), "shape": list(ls.shape), "budget_cells": budget,
                  "cells_per_round": per_round, "placement_s": placement_s, "ignitions": args.ignitions,
                  "expected_burned_cells_before": burned_before, "expected_burned_cells_after": burned_after,
                  "relative_reduction": 1.0 - burned_after / burned_before if burned_before else None,
                  "checkpoint": args.checkpoint}
        (out / "plan.json").write_text(json.dumps(report, indent=2))
    except InputError as e:
        print(f"qagent-plan: error: {e}", file=sys.stderr)
        return 2
    print(f"{budget} breaks placed in {placement_s:.1f} s; expected burned area {burned_before:.0f} -> "
          f"{burned_after:.0f} cells per fire ({100 * report['relative_reduction']:.1f} % less)")
    print(f"wrote {out}/fuel_breaks.tif, burn_probability_before.tif, burn_probability_after.tif, overview.png")
    return 0
