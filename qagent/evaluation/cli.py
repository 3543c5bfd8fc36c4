"""Command lines of evaluation and planning.

qagent-eval: compare the agent with no treatment, random placement, a greedy intensity
heuristic, burn-probability ranking, DomiRank and DPV (one-shot and re-simulated) on held-out
landscapes, from the same fires.

  qagent-eval --landscapes synthetic --budget 0.05 --ignitions 1000
  qagent-eval --checkpoint runs/qagent/best.pt --landscapes DIR --methods agent dpv domirank

qagent-plan: place breaks with the agent on a whole LANDFIRE landscape, compare its plan with
every heuristic's at the same budget on the same fires (--compare), and write GeoTIFFs of the
breaks and of burn probability before and after, georeferenced like the input.

  qagent-plan --landfire DIR --budget 0.05 --out plan/

Without --checkpoint both use the default agent shipped with QAgent (qagent/pretrained/,
README "The default agent"). Both take --values FILE.tif (values at risk on the LANDFIRE
grid): every method is then scored on the expected value burned instead of the expected
burned area, DPV ranks by the value a cell protects, and the agent sees the values in its
observation; tables, plan.json and comparison.csv name the measure.
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
from qagent._host_memory import retain_freed_blocks
from qagent._validation import InputError
from qagent.evaluation.methods import DEFAULT_PLACEMENT_IGNITIONS, HEURISTICS, METHODS

log = logging.getLogger("qagent.evaluation")


METHOD_CHOICES = METHODS  # the registry of qagent.evaluation.methods
PLACEMENT_IGNITIONS_HELP = ("fires the burn_probability and DPV methods simulate to rank cells, drawn from the "
                            "scenario with a seed of its own, never the evaluation fires (default: %(default)s)")


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
                        "(runs of one configuration with different seeds); default: the default agent shipped "
                        "with QAgent (README 'The default agent')")
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
                   help="fuel breaks as a fraction of each landscape's burnable cells, in (0, 1] "
                        "(default: 0.05 = 5 %%)")
    p.add_argument("--ignitions", type=_cli.positive_int, default=1000, metavar="N",
                   help="fires simulated per landscape, the same for every method (default: 1000)")
    p.add_argument("--methods", nargs="+", choices=METHOD_CHOICES, default=None, metavar="METHOD",
                   help=f"methods to compare, from {', '.join(METHOD_CHOICES)}; 'none' (no treatment) is the "
                        "reference and is always run (default: all)")
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
    _cli.add_ignition_density_argument(lf, "; cropped to each tile's window (tiles where it is zero on every "
                                           "burnable cell are left out)")
    _cli.add_values_argument(lf, "; cut into the same tiles (tiles whose burnable cells hold no value are left out)")
    sy = p.add_argument_group("synthetic landscapes", "used when --landscapes is synthetic")
    _cli.add_synthetic_values_argument(sy, "ones, the expected burned area as before values existed")
    return p


def _methods(args) -> list[str]:
    if args.methods is None:
        return list(METHOD_CHOICES)
    return ["none"] + [m for m in dict.fromkeys(args.methods) if m != "none"]


def _load_agent(args):
    """--checkpoint's policy (an ``AgentPolicy``: one network or an ensemble), or without it the
    default agent (``qagent.evaluation.pretrained.DefaultAgent``), whose objective chooses its
    ensemble for each landscape."""
    from qagent.evaluation.methods import AgentPolicy
    from qagent.evaluation.pretrained import load_default_agent

    if args.checkpoint:
        return AgentPolicy.load(list(args.checkpoint), args.device)
    return load_default_agent(args.device)


def eval_main(argv: list[str] | None = None) -> int:
    parser = eval_parser()
    args = parser.parse_args(argv)
    methods = _methods(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent import distributed
        from qagent.env.sources import make_source
        from qagent.evaluation.evaluate import evaluate, format_table, summarize, write_outputs
        from qagent.evaluation.methods import REGISTRY
        from qagent.evaluation.pretrained import DefaultAgent

        main_rank = True
        if args.distributed:
            main_rank = distributed.setup(args.device).is_main

        agent = _load_agent(args) if any(REGISTRY[m].needs_agent for m in methods) else None
        grid = args.grid_size or (agent.grid_size if agent else 50)
        source = make_source(args.landscapes, grid, args.split, count=args.count, fuel=args.fuel,
                             ignition_density=args.ignition_density, values=args.values,
                             synthetic_values=args.synthetic_values)
        if isinstance(agent, DefaultAgent):  # tiles of one values raster: the default agent chooses by all of it
            agent.valued_fraction = source.valued_fraction
        checkpoints = agent.checkpoints if agent is not None else None
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
                "checkpoint": checkpoints, "landscapes": source.describe(), "budget_fraction": args.budget,
                "ignitions": args.ignitions, "placement_ignitions": args.placement_ignitions, "seed": args.seed,
                "fuel": args.fuel, "ignition_density": args.ignition_density, "values": args.values,
                "synthetic_values": args.synthetic_values, "wall_s": time.perf_counter() - t0}
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
        base = results["none"][2] if "none" in results else 0.0  # the burned measure summed over the fires
        reductions = {m: 1.0 - v[2] / base for m, v in results.items() if base > 0}
        measure = "value burned" if item.get("measure") == "expected value burned" else "burned area"
        landscape_figure(out / f"landscape_{lid:04d}.png", ls, breaks, probs, title=f"held-out landscape {lid}",
                         reductions=reductions, measure=measure)


SEED_DERIVATION = ("evaluation fires: numpy default_rng([seed, 0]) (FireScenario.draw: ignitions uniform over "
                   "burnable cells or proportional to --ignition-density, then the scenario's weather and durations), "
                   "the same fires for every method; placements: "
                   "placement_seed(seed, 0), a 64-bit SeedSequence hash (spawn key 1) whose high word is >= 2^31, so "
                   "no placement generator starts from the evaluation fires' state; burn_probability's and DPV's "
                   "own fires: "
                   "placement_fire_seed of that (spawn key 2); bootstrap resamples: bootstrap_seed(seed) (spawn key 3) "
                   "(docs/evaluation.md)")


# The placement fires of burn_probability, dpv and dpv_rounds in qagent-plan: a whole raster needs
# many to reach the cells a budget treats. On whole Worcester (613 x 549, a 5 % budget of 11,118
# cells) 500 fires reach 12,886 burnable cells, 2000 reach 39,532. Chosen on validation (the
# western 80 % of Worcester as one raster, 20,000 evaluation fires, seed 7): with 20,000 placement
# fires dpv_rounds cut burned area by 56.1 % against 47.0 % with 2000 (on 2000 evaluation fires; its rounds spent
# the budget on the few thousand ignition cells of its own fires), dpv 56.7 % against 56.8 %,
# burn_probability 51.4 % against 52.5 %; they cost 1-2 s each (BENCHMARKS.md)
PLAN_PLACEMENT_IGNITIONS = 20_000


# The agent's reference-fire channels refreshed every this many rounds when the objective is
# value burned (--values): on the validation raster (western Worcester, values, seed 7) the
# value ensemble saved 94.2 % refreshed every 10 rounds, 93.8 % every 5, 90.2 % never; without
# values refreshing lost (60.4 % against 61.2 %), so it stays off there (BENCHMARKS.md).
VALUE_REFRESH_ROUNDS = 10


def plan_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-plan", description=__doc__.split("\n\n")[3],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", metavar="CKPT",
                   help="trained agent; several: an ensemble averaging their Q-values (default: the default agent "
                        "shipped with QAgent, README 'The default agent')")
    p.add_argument("--landfire", required=True, metavar="DIR", help="folder of LANDFIRE GeoTIFFs (any size)")
    _cli.add_fuel_argument(p)
    _cli.add_ignition_density_argument(p, "; both the evaluation fires and burn_probability's placement fires")
    _cli.add_values_argument(p, "; every plan is scored on the expected value burned, DPV and burn probability rank "
                                "by it and the agent observes it")
    p.add_argument("--budget", type=_cli.fraction, default=0.05, metavar="FRACTION",
                   help="fuel breaks as a fraction of the burnable cells, in (0, 1] (default: 0.05 = 5 %%)")
    p.add_argument("--ignitions", type=_cli.positive_int, default=2000, metavar="N",
                   help="fires simulated for burn probability, the same fires for every plan and before "
                        "(default: 2000)")
    p.add_argument("--compare", nargs="+", choices=HEURISTICS, default=list(HEURISTICS), metavar="METHOD",
                   help=f"methods whose plans at the same budget the agent's is compared with, on the same fires: "
                        f"any of {', '.join(HEURISTICS)} (default: all; 'none' alone: only no treatment, which is "
                        f"always the reference)")
    p.add_argument("--placement-ignitions", type=_cli.positive_int, default=PLAN_PLACEMENT_IGNITIONS, metavar="N",
                   help=PLACEMENT_IGNITIONS_HELP + "; more than qagent-eval's 500 because a whole raster needs more "
                        "fires to reach the cells a budget treats")
    p.add_argument("--cells-per-round", type=_cli.positive_int, metavar="CELLS",
                   help="cells placed per forward pass of the network (default: budget / 50, at least the agent's k)")
    p.add_argument("--refresh-rounds", type=_cli.non_negative_int, metavar="R",
                   help=f"recompute the agent's burn_probability and downstream_protection channels every R rounds "
                        f"from the same reference fires with the breaks placed so far (0: never, computed once "
                        f"before any break; default: {VALUE_REFRESH_ROUNDS} with --values other than all ones, 0 "
                        f"without, as chosen on validation, BENCHMARKS.md)")
    p.add_argument("--one-plan", action="store_true",
                   help="place only the ensemble's DPV-checked plan instead of choosing the best of the agent's "
                        "eight candidate plans (nine with --values) on its own fires: about 5-6 times faster, on "
                        "whole rasters about as good (BENCHMARKS.md, 'The agent chooses among candidate plans')")
    p.add_argument("--seed", type=_cli.seed, default=0,
                   help="seed (integer >= 0) of the fires and, through hashes, of the placements and the bootstrap "
                        "(default: 0)")
    p.add_argument("--device", type=_device, default="cpu",
                   help="where the network and the fires run: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: fuel_breaks.tif, burn_probability_before/after.tif, overview.png, "
                        "comparison.png, comparison.csv, plan.json")
    return p


GEOTIFF_BANDS = {
    "fuel_breaks.tif": ("fuel breaks (1 = treated cell)", "1 = treated cell, 0 = untreated"),
    "burn_probability_before.tif": ("burn probability per fire before treatment", "probability (0-1) per fire"),
    "burn_probability_after.tif": ("burn probability per fire after treatment", "probability (0-1) per fire"),
}
COMPARISON_COLUMNS = ("method", "relative_reduction", "ci95_low", "ci95_high", "expected_burned_cells", "breaks",
                      "placement_s", "agent_minus_method", "agent_minus_method_ci95_low",
                      "agent_minus_method_ci95_high", "intervals_apart", "difference_significant", "agent_verdict",
                      "measure", "expected_burned_value")


def write_comparison_csv(path: Path, comparison: dict) -> None:
    """comparison.csv: one row per method of ``plan_comparison`` (the agent's first), fractions
    as fractions (0.317 = 31.7 %), empty where undefined. ``measure`` says what the reductions
    are of ("expected burned area", or "expected value burned" with values at risk, when
    ``expected_burned_value`` holds the value burned per fire)."""
    import csv

    def cell(x):
        return "" if x is None else x

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COMPARISON_COLUMNS)
        for name, v in comparison["methods"].items():
            ci = v.get("ci95") or [None, None]
            dci = v.get("agent_minus_method_ci95") or [None, None]
            w.writerow([name, cell(v["relative_reduction"]), cell(ci[0]), cell(ci[1]), cell(v["expected_burned_cells"]),
                        cell(v["breaks"]), cell(v["placement_s"]), cell(v.get("agent_minus_method")), cell(dci[0]),
                        cell(dci[1]), cell(v.get("intervals_apart")), cell(v.get("difference_significant")),
                        v.get("agent_verdict", "the plan"), comparison.get("measure", "expected burned area"),
                        cell(v.get("expected_burned_value"))])


def plan_main(argv: list[str] | None = None) -> int:
    args = plan_parser().parse_args(argv)
    retain_freed_blocks()  # the network's whole-raster activations: reused, not mapped anew per pass
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        from qagent.env.fuel_break_env import budget_cells
        from qagent.evaluation.evaluate import (MEASURES, burned_measure, evaluation_fires, format_plan_table,
                                                plan_comparison)
        from qagent.evaluation.figures import comparison_figure, plan_figure, reduction_text, save_figure
        from qagent.evaluation.methods import (bootstrap_seed, choose_agent_plan, place_breaks, placement_request,
                                              placement_seed)
        from qagent.fire.scenario import DEFAULT_SCENARIO
        from qagent.fire.spread import simulate
        from qagent.landscape.landfire import load_ignition_density, load_landfire, load_values, save_geotiff

        ls = load_landfire(args.landfire, fuel=args.fuel)
        burnable = ls.burnable_mask()
        if not bool(burnable.any()):
            raise InputError(f"{args.landfire}: no burnable cell, so there is nothing to place breaks on")
        density = load_ignition_density(args.ignition_density, ls) if args.ignition_density else None
        values = load_values(args.values, ls) if args.values else None
        agent = _load_agent(args)
        measure = MEASURES[values is not None]
        budget = budget_cells(int(burnable.sum()), args.budget, agent.cells_per_step)
        per_round = args.cells_per_round or max(agent.cells_per_step, budget // 50)
        valued = values is not None and not bool((torch.as_tensor(values) == 1).all())  # all ones: the area
        refresh = args.refresh_rounds if args.refresh_rounds is not None else (VALUE_REFRESH_ROUNDS if valued else 0)
        methods = ["agent"] + [m for m in HEURISTICS if m == "none" or m in args.compare]
        log.info("%s: %d x %d cells, %d burnable; placing %d breaks with %s", args.landfire, *ls.shape,
                 int(burnable.sum()), budget, ", ".join(methods))
        weather_ref = DEFAULT_SCENARIO.reference_weather()
        plans, placement_times = {}, {}
        options = dict(placement_ignitions=args.placement_ignitions, scenario=DEFAULT_SCENARIO, device=args.device,
                       ignition_density=density, values=values, refresh_rounds=refresh or None)
        choice = None  # the agent's choice among its candidate plans (None with --one-plan)
        for method in methods:
            t0 = time.perf_counter()
            if method == "agent" and not args.one_plan:  # its choice among candidate plans, in plan.json
                choice = choose_agent_plan(placement_request(ls, weather_ref, budget, placement_seed(args.seed, 0),
                                                             agent, per_round, **options))
                plans[method] = choice.breaks.cpu()
                log.info("agent: chose %s of its candidate plans (mean loss on %d selection fires: %s)",
                         choice.chosen, choice.selection_fires,
                         ", ".join(f"{n} {v:.4g}" for n, v in choice.selection_loss.items()))
            else:  # --one-plan: the agent's plan is its ensemble's checked plan
                placed_as = "agent_checked" if method == "agent" else method
                plans[method] = place_breaks(placed_as, ls, weather_ref, budget, placement_seed(args.seed, 0),
                                             agent, per_round, **options).cpu()
            placement_times[method] = time.perf_counter() - t0
            placed = int(plans[method].sum())
            if method != "none" and (placed != min(budget, int(burnable.sum())) or
                                     bool((plans[method] & ~burnable).any())):
                raise InputError(f"{method}: placed {placed} breaks, not the {budget} of the budget on burnable cells")
            log.info("%s: %d breaks in %.1f s", method, placed, placement_times[method])
        breaks, placement_s = plans["agent"], placement_times["agent"]
        # the networks that placed the plan (none: a heuristic's plan chosen)
        checkpoints = choice.checkpoints if choice is not None else agent.policy_for(ls, budget, values).checkpoints
        ign, weather, duration = evaluation_fires(ls, args.ignitions, args.seed, 0, DEFAULT_SCENARIO,
                                                  ignition_density=density)
        burned, burned_cells, probability = {}, {}, {}
        for method in methods:
            t0 = time.perf_counter()
            result = simulate(ls, ign, weather, torch.from_numpy(duration),
                              fuel_breaks=None if method == "none" else plans[method], device=args.device,
                              values=values)
            burned[method] = burned_measure(result, values).cpu().numpy()  # value burned with values, else cells
            burned_cells[method] = result.burned_cells.double().cpu().numpy()
            probability[method] = result.burn_count.float().cpu() / args.ignitions
            log.info("%s: %d fires simulated in %.1f s", method, args.ignitions, time.perf_counter() - t0)
        order = ["agent"] + [m for m in methods if m != "agent"]
        comparison = plan_comparison({m: burned[m] for m in order}, placement_s=placement_times,
                                     breaks={m: int(plans[m].sum()) for m in order}, seed=bootstrap_seed(args.seed),
                                     burned_cells=None if values is None else {m: burned_cells[m] for m in order})
        uncertainty = comparison["methods"]["agent"]
        reduction = uncertainty["relative_reduction"]
        p_before, p_after = probability["none"], probability["agent"]
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, grid in (("fuel_breaks.tif", breaks), ("burn_probability_before.tif", p_before),
                           ("burn_probability_after.tif", p_after)):
            description, units = GEOTIFF_BANDS[name]
            save_geotiff(ls, out / name, grid, allow_ungeoreferenced=ls.transform is None, description=description,
                         units=units)
        ci = uncertainty["ci95"]
        effect = ""
        if reduction is not None:
            effect = f": {reduction_text(reduction, 'value burned' if values is not None else 'burned area')}"
            if ci:
                effect += f" (95 % CI {-100 * ci[1]:.1f} to {-100 * ci[0]:.1f} %)"
        where = f"{Path(args.landfire).name}: {budget} breaks ({100 * args.budget:g} % of burnable cells)"
        short = "value burned" if values is not None else "burned area"
        save_figure(plan_figure(ls, breaks, p_before, p_after, reduction=reduction,
                                title=f"{where}{effect}, {args.ignitions} fires", measure=short),
                    out / "overview.png")
        entries = comparison["methods"]
        save_figure(comparison_figure(ls, plans, {m: v["relative_reduction"] for m, v in entries.items()},
                                      intervals={m: v["ci95"] for m, v in entries.items()},
                                      placement_s=placement_times,
                                      title=f"{where}, each method's plan on the same {args.ignitions} fires",
                                      measure=short),
                    out / "comparison.png")
        write_comparison_csv(out / "comparison.csv", comparison)
        burned_before, burned_after = float(burned_cells["none"].mean()), float(burned_cells["agent"].mean())
        warnings = ([uncertainty["warning"]] if uncertainty["warning"] else []) + comparison["warnings"]
        report = {"landfire": str(args.landfire), "fuel": args.fuel, "shape": list(ls.shape), "budget_fraction":
                  args.budget, "budget_cells": budget, "cells_per_round": per_round, "refresh_rounds": refresh,
                  "placement_s": placement_s,
                  "ignitions": args.ignitions, "seed": args.seed, "ignition_density": args.ignition_density,
                  "values": args.values, "measure": measure,
                  "expected_burned_cells_before": burned_before, "expected_burned_cells_after": burned_after,
                  **({} if values is None else {
                      "total_value": float(values.astype(np.float64).sum()),
                      "expected_value_burned_before": float(burned["none"].mean()),
                      "expected_value_burned_after": float(burned["agent"].mean())}),
                  "relative_reduction": reduction,
                  "relative_reduction_ci95": ci, "relative_reduction_ci95_half_width": uncertainty["half_width"],
                  "uncertainty": {"method": "percentile bootstrap over fires, paired (the same fires before and "
                                            "after, and for every method), 10,000 resamples shared by all methods",
                                  "fires_needed_for_target": uncertainty["fires_needed"],
                                  "target_half_width": uncertainty["target_half_width"]},
                  "warning": uncertainty["warning"],
                  "compared": [m for m in methods if m != "agent"], "placement_ignitions": args.placement_ignitions,
                  "seeds": SEED_DERIVATION, "methods": entries,
                  "agent_loses_to": [m for m, v in entries.items() if v.get("agent_better") is False],
                  "warnings": warnings,
                  "geotiffs": {name: {"description": d, "units": u} for name, (d, u) in GEOTIFF_BANDS.items()},
                  "checkpoint": checkpoints,
                  "agent_choice": None if choice is None else {  # None: --one-plan
                      "chosen": choice.chosen, "ensemble": choice.ensemble, "selection_fires": choice.selection_fires,
                      "candidates_mean_loss_on_selection_fires": choice.selection_loss,
                      "loss": "value burned per fire" if values is not None else "burned cells per fire"}}
        (out / "plan.json").write_text(json.dumps(report, indent=2))
    except InputError as e:
        print(f"qagent-plan: error: {e}", file=sys.stderr)
        return 2
    red = "reduction undefined" if reduction is None else f"{100 * reduction:.1f} % less"
    if ci:
        red += f", 95 % CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f} %"
    if values is None:
        change = f"expected burned area {burned_before:.0f} -> {burned_after:.0f} cells per fire"
    else:
        change = (f"expected value burned {report['expected_value_burned_before']:.4g} -> "
                  f"{report['expected_value_burned_after']:.4g} per fire (of {report['total_value']:.4g} in all; "
                  f"burned area {burned_before:.0f} -> {burned_after:.0f} cells)")
    print(f"{budget} breaks placed in {placement_s:.1f} s; {change} ({red}; {args.ignitions} fires, bootstrap over "
          "fires)")
    print(f"each plan at the same budget on the same {args.ignitions} fires (reduction of {measure}, "
          "paired bootstrap 95 % intervals):")
    print(format_plan_table(comparison))
    for warning in warnings:
        print(f"qagent-plan: warning: {warning}", file=sys.stderr)
    print(f"wrote {out}/fuel_breaks.tif, burn_probability_before.tif, burn_probability_after.tif, overview.png, "
          "comparison.png, comparison.csv, plan.json")
    return 0
