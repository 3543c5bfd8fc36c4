"""Command lines of evaluation and planning.

qagent-eval: compare the agent with no treatment, random placement, a greedy intensity
heuristic, burn-probability ranking and DomiRank on held-out landscapes, from the same fires.

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

from qagent import _cli
from qagent._validation import InputError
from qagent.evaluation.methods import DEFAULT_PLACEMENT_IGNITIONS, METHODS

log = logging.getLogger("qagent.evaluation")


METHOD_CHOICES = METHODS  # the registry of qagent.evaluation.methods
PLACEMENT_IGNITIONS_HELP = ("fires the burn_probability method simulates to rank cells, drawn from the scenario with "
                            "a seed of its own, never the evaluation fires (default: %(default)s)")


def _device(text: str):
    """argparse type: a device the ops can run on here (cpu, cuda, cuda:N)."""
    from qagent._validation import resolve_device

    try:
        return str(resolve_device(text))
    except (InputError, RuntimeError) as e:
        raise argparse.ArgumentTypeError(str(e).splitlines()[0]) from None


def eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-eval", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", metavar="CKPT",
                   help="trained agent (best.pt / final.pt); several: an ensemble averaging their Q-values "
                        "(runs of one configuration with different seeds); without it only the baselines run")
    p.add_argument("--landscapes", default="synthetic", metavar="SRC",
                   help="'synthetic' (held-out seeds, default), a tile dataset folder (qagent-tiles) or a folder "
                        "of LANDFIRE GeoTIFFs (its held-out eastern region, cut into tiles)")
    p.add_argument("--grid-size", type=_cli.positive_int, metavar="CELLS",
                   help="tile side in cells (default: the checkpoint's, else 50)")
    p.add_argument("--split", default="eval", choices=["eval", "train", "all"],
                   help="which landscapes: eval (held out from training, default), train, all")
    p.add_argument("--count", type=_cli.positive_int, default=100, metavar="N",
                   help="at most this many landscapes (synthetic: how many seeds; default: 100)")
    p.add_argument("--budget", type=_cli.fraction, default=0.05, metavar="FRACTION",
                   help="fuel breaks as a fraction of each landscape's burnable cells, in (0, 1] (default: 0.05 = 5 %%)")
    p.add_argument("--ignitions", type=_cli.positive_int, default=1000, metavar="N",
                   help="fires simulated per landscape, the same for every method (default: 1000)")
    p.add_argument("--methods", nargs="+", choices=METHOD_CHOICES, default=None, metavar="METHOD",
                   help=f"methods to compare, from {', '.join(METHOD_CHOICES)}; 'none' (no treatment) is the "
                        "reference and is always run (default: all; 'agent' only with --checkpoint)")
    p.add_argument("--placement-ignitions", type=_cli.positive_int, default=DEFAULT_PLACEMENT_IGNITIONS, metavar="N",
                   help=PLACEMENT_IGNITIONS_HELP)
    p.add_argument("--seed", type=_cli.seed, default=0,
                   help="seed (integer >= 0) of the fires and, through a hash, of the placements (default: 0)")
    p.add_argument("--figures", type=_cli.non_negative_int, default=4, metavar="N",
                   help="landscapes to draw as PNG figures, 0 for none (default: 4)")
    p.add_argument("--device", type=_device, default="cpu",
                   help="where the agent's network runs: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", default="eval_out", metavar="DIR",
                   help="output folder: summary.csv/.json, per_landscape.csv, PNGs (default: eval_out)")
    p.add_argument("--distributed", action="store_true",
                   help="split the landscapes across the processes torchrun starts; rank 0 writes the outputs")
    lf = p.add_argument_group("LANDFIRE folders", "used when --landscapes is a folder of LANDFIRE GeoTIFFs")
    _cli.add_fuel_argument(lf)
    return p


def _methods(args, parser) -> list[str]:
    if args.methods is None:
        methods = list(METHOD_CHOICES) if args.checkpoint else [m for m in METHOD_CHOICES if m != "agent"]
    else:
        if "agent" in args.methods and not args.checkpoint:
            parser.error("argument --methods: 'agent' needs --checkpoint")
        methods = ["none"] + [m for m in dict.fromkeys(args.methods) if m != "none"]
    return methods


def eval_main(argv: list[str] | None = None) -> int:
    parser = eval_parser()
    args = parser.parse_args(argv)
    methods = _methods(args, parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent import distributed
        from qagent.env.sources import make_source
        from qagent.evaluation.evaluate import evaluate, format_table, summarize, write_outputs
        from qagent.evaluation.methods import AgentPolicy

        main_rank = True
        if args.distributed:
            main_rank = distributed.setup(args.device).is_main

        agent = AgentPolicy.load(args.checkpoint, args.device) if args.checkpoint else None
        grid = args.grid_size or (agent.grid_size if agent else 50)
        source = make_source(args.landscapes, grid, args.split, count=args.count, fuel=args.fuel)
        log.info("evaluating %s on %s", ", ".join(methods), source.describe())
        t0 = time.perf_counter()
        rows, kept = evaluate(source, methods, agent=agent, budget_fraction=args.budget, ignitions=args.ignitions,
                              seed=args.seed, max_landscapes=args.count, keep_breaks=args.figures,
                              progress=main_rank, distributed=args.distributed,
                              placement_ignitions=args.placement_ignitions)
        if not main_rank:
            return 0
        summary = summarize(rows, methods, args.seed)
        out = Path(args.out)
        meta = {"command": "qagent-eval " + " ".join(argv if argv is not None else sys.argv[1:]),
                "checkpoint": args.checkpoint, "landscapes": source.describe(), "budget_fraction": args.budget,
                "ignitions": args.ignitions, "placement_ignitions": args.placement_ignitions, "seed": args.seed,
                "fuel": args.fuel,
                "wall_s": time.perf_counter() - t0}
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
        results = {m: v for m, v in item.items() if isinstance(v, tuple)}
        breaks = {m: v[0] for m, v in results.items()}
        probs = {m: v[1].float() / n for m, v in results.items() if m in ("none", "agent", "domirank")}
        base = float(results["none"][1].double().sum()) if "none" in results else 0.0
        reductions = {m: 1.0 - float(v[1].double().sum()) / base for m, v in results.items() if base > 0}
        landscape_figure(out / f"landscape_{lid:04d}.png", ls, breaks, probs, title=f"held-out landscape {lid}",
                         reductions=reductions)


def plan_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-plan", description=__doc__.split("\n\n")[3],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, nargs="+", metavar="CKPT",
                   help="trained agent; several: an ensemble averaging their Q-values")
    p.add_argument("--landfire", required=True, metavar="DIR", help="folder of LANDFIRE GeoTIFFs (any size)")
    _cli.add_fuel_argument(p)
    p.add_argument("--budget", type=_cli.fraction, default=0.05, metavar="FRACTION",
                   help="fuel breaks as a fraction of the burnable cells, in (0, 1] (default: 0.05 = 5 %%)")
    p.add_argument("--ignitions", type=_cli.positive_int, default=2000, metavar="N",
                   help="fires simulated for burn probability, the same fires before and after (default: 2000)")
    p.add_argument("--cells-per-round", type=_cli.positive_int, metavar="CELLS",
                   help="cells placed per forward pass of the network (default: budget / 50, at least the agent's k)")
    p.add_argument("--seed", type=_cli.seed, default=0,
                   help="seed (integer >= 0) of the fires and of the bootstrap interval (default: 0)")
    p.add_argument("--device", type=_device, default="cpu",
                   help="where the network and the fires run: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: fuel_breaks.tif, burn_probability_before/after.tif, overview.png, plan.json")
    return p


GEOTIFF_BANDS = {
    "fuel_breaks.tif": ("fuel breaks (1 = treated cell)", "1 = treated cell, 0 = untreated"),
    "burn_probability_before.tif": ("burn probability per fire before treatment", "probability (0-1) per fire"),
    "burn_probability_after.tif": ("burn probability per fire after treatment", "probability (0-1) per fire"),
}


def plan_main(argv: list[str] | None = None) -> int:
    args = plan_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent.env.fuel_break_env import budget_cells
        from qagent.evaluation.evaluate import paired_bootstrap_reduction
        from qagent.evaluation.figures import plan_figure, reduction_text, save_figure
        from qagent.evaluation.methods import AgentPolicy
        from qagent.fire.scenario import DEFAULT_SCENARIO
        from qagent.fire.spread import simulate
        from qagent.landscape.landfire import load_landfire

        agent = AgentPolicy.load(args.checkpoint, args.device)
        ls = load_landfire(args.landfire, fuel=args.fuel)
        burnable = ls.burnable_mask()
        if not bool(burnable.any()):
            raise InputError(f"{args.landfire}: no burnable cell, so there is nothing to place breaks on")
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
        burned_b = before.burned_cells.double().cpu().numpy()
        burned_a = after.burned_cells.double().cpu().numpy()
        uncertainty = paired_bootstrap_reduction(burned_b, burned_a, seed=args.seed)
        reduction = uncertainty["relative_reduction"]
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, grid in (("fuel_breaks.tif", breaks), ("burn_probability_before.tif", p_before),
                           ("burn_probability_after.tif", p_after)):
            description, units = GEOTIFF_BANDS[name]
            ls.save_geotiff(out / name, grid, allow_ungeoreferenced=ls.transform is None, description=description,
                            units=units)
        ci = uncertainty["ci95"]
        effect = ""
        if reduction is not None:
            effect = f": {reduction_text(reduction)}"
            if ci:
                effect += f" (95 % CI {-100 * ci[1]:.1f} to {-100 * ci[0]:.1f} %)"
        save_figure(plan_figure(ls, breaks, p_before, p_after, reduction=reduction,
                                title=f"{Path(args.landfire).name}: {budget} breaks ({100 * args.budget:g} % of "
                                      f"burnable cells){effect}, {args.ignitions} fires"), out / "overview.png")
        burned_before, burned_after = float(burned_b.mean()), float(burned_a.mean())
        report = {"landfire": str(args.landfire), "fuel": args.fuel, "shape": list(ls.shape), "budget_fraction":
                  args.budget, "budget_cells": budget, "cells_per_round": per_round, "placement_s": placement_s,
                  "ignitions": args.ignitions, "seed": args.seed,
                  "expected_burned_cells_before": burned_before, "expected_burned_cells_after": burned_after,
                  "relative_reduction": reduction,
                  "relative_reduction_ci95": ci, "relative_reduction_ci95_half_width": uncertainty["half_width"],
                  "uncertainty": {"method": "percentile bootstrap over fires, paired (the same fires before and "
                                            "after), 10,000 resamples",
                                  "fires_needed_for_target": uncertainty["fires_needed"],
                                  "target_half_width": uncertainty["target_half_width"]},
                  "warning": uncertainty["warning"],
                  "geotiffs": {name: {"description": d, "units": u} for name, (d, u) in GEOTIFF_BANDS.items()},
                  "checkpoint": args.checkpoint}
        (out / "plan.json").write_text(json.dumps(report, indent=2))
    except InputError as e:
        print(f"qagent-plan: error: {e}", file=sys.stderr)
        return 2
    red = "reduction undefined" if reduction is None else f"{100 * reduction:.1f} % less"
    if ci:
        red += f", 95 % CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f} %"
    print(f"{budget} breaks placed in {placement_s:.1f} s; expected burned area {burned_before:.0f} -> "
          f"{burned_after:.0f} cells per fire ({red}; {args.ignitions} fires, bootstrap over fires)")
    if uncertainty["warning"]:
        print(f"qagent-plan: warning: {uncertainty['warning']}", file=sys.stderr)
    print(f"wrote {out}/fuel_breaks.tif, burn_probability_before.tif, burn_probability_after.tif, overview.png, "
          "plan.json")
    return 0
