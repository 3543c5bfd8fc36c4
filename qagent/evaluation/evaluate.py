"""Compare fuel-break placement methods on held-out landscapes (``qagent-eval``).

For every landscape, every method places the same budget of breaks, and the expected burned
area is estimated from the same fires for every method (ignitions uniform over burnable
cells, weather and duration per ignition from the scenario; common random numbers, seeded per
landscape with ``methods.evaluation_rng``, a stream no placement draws from: see "Seeds" in
docs/evaluation.md). Per landscape, a method's relative reduction is 1 - burned(method) /
burned(none); the table gives its mean over landscapes with a 95 % confidence interval
(percentile bootstrap over landscapes, 10 000 resamples), the pooled reduction
(1 - sum burned(method) / sum burned(none)) and the agent's win rate against each other
method (the share of landscapes where it leaves less burned area; ties count half).
Landscapes where no fire burns anything without treatment are excluded from the ratios.

Values at risk: with the source's ``values`` (``qagent-eval --values FILE.tif`` or
``--synthetic-values``), "burned" is the value burned (the sum of the values of the burned
cells) for every method, as a fraction of the landscape's total value; without, every cell is
worth 1 and it is the burned area, as a fraction of the landscape's cells, exactly as before.
The summary's ``measure`` (``MEASURES``) names which.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qagent._validation import InputError
from qagent.env.fuel_break_env import budget_cells as episode_budget
from qagent.env.sources import LandscapeSource
from qagent.evaluation.methods import (DEFAULT_PLACEMENT_IGNITIONS, METHODS, AgentPolicy, burned_measure,
                                      evaluation_rng, place_breaks, placement_seed)
from qagent.fire.scenario import DEFAULT_SCENARIO, FireScenario
from qagent.fire.spread import simulate


# what "burned" means in a comparison, with and without values at risk
MEASURES = {False: "expected burned area", True: "expected value burned"}


def total_value(landscape, values=None) -> float:
    """The landscape's total value at risk (its number of cells without values)."""
    return float(landscape.num_cells) if values is None else float(np.asarray(values, dtype=np.float64).sum())


def check_budget_fraction(budget_fraction) -> float:
    """A budget as a fraction of the burnable cells, in (0, 1]; InputError otherwise."""
    if isinstance(budget_fraction, bool) or not isinstance(budget_fraction, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(budget_fraction) <= 1.0:
        raise InputError(f"budget_fraction: must be a fraction of the burnable cells in (0, 1], "
                         f"got {budget_fraction!r}")
    return float(budget_fraction)


def check_count(name: str, value, minimum: int = 1) -> int:
    """An integer >= minimum (a number of fires, landscapes, figures); InputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass
class LandscapeResult:
    landscape_id: int
    method: str
    budget_cells: int
    burned_fraction: float          # expected value burned / total value (without values: burned area / all cells)
    placement_s: float
    values: bool = False            # whether the landscape had values at risk


def evaluation_fires(landscape, ignitions: int, seed: int, landscape_id: int = 0,
                     scenario: FireScenario = DEFAULT_SCENARIO, *, ignition_density=None):
    """The fires every method of a comparison is scored on, ``scenario.draw`` from
    ``evaluation_rng(seed, landscape_id)`` (qagent-plan: landscape 0): ``ignitions`` flat cell
    indices (uniform over burnable cells, or proportional to ``ignition_density``), then
    per-fire weather and durations (minutes). A ``Fires``, which unpacks as
    ``ign, weather, duration``."""
    return scenario.draw(landscape, ignitions, evaluation_rng(seed, landscape_id), ignition_density=ignition_density)


def evaluate(source: LandscapeSource, methods: list[str], *, agent: AgentPolicy | None, budget_fraction: float,
             ignitions: int, seed: int, scenario: FireScenario = DEFAULT_SCENARIO, max_landscapes: int | None = None,
             keep_breaks: int = 0, progress: bool = False, distributed: bool = False,
             placement_ignitions: int = DEFAULT_PLACEMENT_IGNITIONS) -> tuple[list[LandscapeResult], dict]:
    """Run every method on the source's landscapes; returns per-landscape rows and the breaks
    of the first ``keep_breaks`` landscapes (for figures). With ``distributed`` (inside a
    torch.distributed group) each rank evaluates its share of the landscapes and every rank
    gets all rows: each landscape's fires are seeded by (seed, landscape), so the rows equal
    the single-process ones. ``placement_ignitions``: the fires burn_probability ranks cells
    with (its own, never the evaluation fires). Each landscape's values at risk are the
    source's ``values(id)`` (module docstring); kept entries are (breaks, burn counts, total
    of the burned measure over the fires)."""
    from qagent import distributed as dist_util

    budget_fraction = check_budget_fraction(budget_fraction)
    ignitions = check_count("ignitions", ignitions)
    seed = check_count("seed", seed, 0)
    keep_breaks = check_count("keep_breaks", keep_breaks, 0)
    placement_ignitions = check_count("placement_ignitions", placement_ignitions)
    if max_landscapes is not None:
        max_landscapes = check_count("max_landscapes", max_landscapes)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"methods: unknown {unknown}; choose from {METHODS}")
    if "agent" in methods and agent is None:
        raise InputError("methods: 'agent' needs --checkpoint")
    k = agent.cells_per_step if agent is not None else 1
    weather_ref = scenario.reference_weather()
    rows: list[LandscapeResult] = []
    kept: dict = {}
    ids = range(min(len(source), max_landscapes or len(source)))
    if distributed:
        ids = ids[dist_util.shard(len(ids))]
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc="qagent-eval", unit="landscape")
    for lid in iterator:
        ls = source.landscape(lid)
        burnable = ls.burnable_mask()
        budget = episode_budget(int(burnable.sum()), budget_fraction, k)
        density = source.ignition_density(lid)
        values = source.values(lid)
        total = total_value(ls, values)
        ign, weather, duration = evaluation_fires(ls, ignitions, seed, lid, scenario, ignition_density=density)
        for method in methods:
            t0 = time.perf_counter()
            breaks = place_breaks(method, ls, weather_ref, budget, seed=placement_seed(seed, lid), agent=agent,
                                  placement_ignitions=placement_ignitions, scenario=scenario,
                                  ignition_density=density, values=values)
            placement_s = time.perf_counter() - t0
            if method != "none" and (int(breaks.sum()) != min(budget, int(burnable.sum())) or
                                     bool((breaks & ~burnable).any())):
                raise AssertionError(f"{method} broke the budget rules on landscape {lid}")
            result = simulate(ls, ign, weather, torch.from_numpy(duration), fuel_breaks=breaks, values=values)
            burned = burned_measure(result, values)
            rows.append(LandscapeResult(lid, method, budget, burned.mean().item() / total, placement_s,
                                        values is not None))
            if lid < keep_breaks:
                kept.setdefault(lid, {"landscape": ls, "ignitions": ign, "weather": weather, "duration": duration,
                                      "measure": MEASURES[values is not None]})[method] = (
                    breaks, result.burn_count, float(burned.sum()))
    if distributed:
        rows = sorted((r for part in dist_util.gather_objects(rows) for r in part),
                      key=lambda r: (r.landscape_id, methods.index(r.method)))
    return rows, kept


def summarize(rows: list[LandscapeResult], methods: list[str], seed: int = 0) -> dict:
    """Per method: the mean relative reduction over landscapes (of the burned area, or of the
    value burned) with a 95 % bootstrap interval over landscapes, the pooled reduction, the mean
    burned fraction and the mean placement seconds per landscape; with an agent, its win rate
    against each method and ``agent_minus_method``, the mean of its reduction minus the
    method's (a fraction: 0.05 is 5 points), with a paired 95 % interval. One set of 10,000
    landscape resamples serves every method, so intervals of differences are paired."""
    by = {m: {r.landscape_id: r.burned_fraction for r in rows if r.method == m} for m in methods}
    seconds = {m: [r.placement_s for r in rows if r.method == m] for m in methods}
    if "none" not in by:
        raise InputError("methods: the comparison needs 'none' (no treatment) as the reference")
    ids = sorted(lid for lid, v in by["none"].items() if v > 0)
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, len(ids), size=(10_000, len(ids))) if ids else None
    base = np.array([by["none"][i] for i in ids])
    rel = {m: 1.0 - np.array([by[m][i] for i in ids]) / base for m in methods if m != "none"}

    def mean_and_ci(x: np.ndarray):
        if resamples is None:
            return float("nan"), [float("nan")] * 2
        boots = x[resamples].mean(axis=1)
        return float(x.mean()), [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]

    table = {}
    for m, r in rel.items():
        burned = np.array([by[m][i] for i in ids])
        mean, ci = mean_and_ci(r)
        table[m] = {"mean_relative_reduction": mean, "ci95": ci,
                    "pooled_reduction": float(1.0 - burned.sum() / base.sum()) if ids else float("nan"),
                    "mean_burned_fraction": float(burned.mean()) if ids else float("nan"),
                    "mean_placement_s": float(np.mean(seconds[m])) if seconds[m] else float("nan")}
    if "agent" in by:
        agent = np.array([by["agent"][i] for i in ids])
        for m in methods:
            if m == "agent":
                continue
            other = np.array([by[m][i] for i in ids])
            wins = (agent < other).sum() + 0.5 * (agent == other).sum()
            entry = table.setdefault(m, {})
            entry["agent_win_rate"] = float(wins / len(ids)) if len(ids) else float("nan")
            if m in rel:
                entry["agent_minus_method"], entry["agent_minus_method_ci95"] = mean_and_ci(rel["agent"] - rel[m])
    with_values = any(r.values for r in rows)
    return {"landscapes": len(ids), "excluded_no_fire": len(by["none"]) - len(ids),
            "measure": MEASURES[with_values],
            "landscapes_with_values": len({r.landscape_id for r in rows if r.values}),
            "no_treatment_mean_burned_fraction": float(base.mean()) if len(base) else float("nan"), "methods": table}


def write_outputs(out: Path, rows: list[LandscapeResult], summary: dict, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "per_landscape.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["landscape_id", "method", "budget_cells", "expected_burned_fraction", "placement_s", "measure"])
        for r in rows:
            w.writerow([r.landscape_id, r.method, r.budget_cells, f"{r.burned_fraction:.6f}", f"{r.placement_s:.3f}",
                        MEASURES[r.values]])
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "mean_relative_reduction", "ci95_low", "ci95_high", "pooled_reduction",
                    "mean_burned_fraction", "agent_win_rate", "agent_minus_method", "agent_minus_method_ci95_low",
                    "agent_minus_method_ci95_high", "mean_placement_s"])
        for m, v in summary["methods"].items():
            ci = v.get("ci95", [float("nan")] * 2)
            dci = v.get("agent_minus_method_ci95", [None, None])
            w.writerow([m, v.get("mean_relative_reduction"), ci[0], ci[1], v.get("pooled_reduction"),
                        v.get("mean_burned_fraction"), v.get("agent_win_rate"), v.get("agent_minus_method"),
                        dci[0], dci[1], v.get("mean_placement_s")])
    (out / "summary.json").write_text(json.dumps({**meta, **summary}, indent=2))


def format_table(summary: dict) -> str:
    """The printed summary: per method its mean reduction and interval, the pooled reduction,
    the agent's win rate and its advantage in points (agent - method, paired interval) and the
    mean placement time per landscape."""
    lines = [f"{'method':18s} {'mean reduction':>15s} {'95 % CI':>17s} {'pooled':>8s} {'agent wins':>10s} "
             f"{'agent - method (95 % CI)':>26s} {'placement':>10s}"]
    for m, v in summary["methods"].items():
        ci = v.get("ci95")
        diff, dci = v.get("agent_minus_method"), v.get("agent_minus_method_ci95")
        points = "-" if diff is None else f"{100 * diff:+.1f} ({100 * dci[0]:+.1f} .. {100 * dci[1]:+.1f})"
        placement = v.get("mean_placement_s")
        lines.append(f"{m:18s} {_pct(v.get('mean_relative_reduction')):>15s} "
                     f"{(_pct(ci[0]) + ' .. ' + _pct(ci[1])) if ci else '-':>17s} "
                     f"{_pct(v.get('pooled_reduction')):>8s} {_pct(v.get('agent_win_rate')):>10s} {points:>26s} "
                     f"{'-' if placement is None else f'{placement:.3f} s':>10s}")
    measure = summary.get("measure", MEASURES[False])
    what = "of a landscape's value" if measure == MEASURES[True] else "of a landscape"
    lines.append(f"{summary['landscapes']} landscapes; no treatment burns "
                 f"{_pct(summary['no_treatment_mean_burned_fraction'])} {what} on average; reductions of {measure}; "
                 "agent - method in points; placement: mean seconds per landscape")
    return "\n".join(lines)


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f} %"


def paired_bootstrap_reduction(burned_before, burned_after, *, seed: int = 0, resamples: int = 10_000,
                               target_half_width: float = 0.02) -> dict:
    """Uncertainty of the relative reduction of burned area, 1 - sum(after) / sum(before), from
    per-fire burned cells before and after treatment of the SAME fires (same ignitions,
    weather and durations): ``paired_bootstrap`` for one treatment (see there for the keys)."""
    return paired_bootstrap(burned_before, {"after": burned_after}, seed=seed, resamples=resamples,
                            target_half_width=target_half_width)["after"]


def paired_bootstrap(burned_before, burned_after: dict, *, seed: int = 0, resamples: int = 10_000,
                     target_half_width: float = 0.02, reference: str | None = None) -> dict[str, dict]:
    """The relative reduction of burned area, 1 - sum(after) / sum(before), of each treatment
    in ``burned_after`` (name -> per-fire burned cells) against ``burned_before``, all on the
    SAME fires (same ignitions, weather and durations), with a percentile bootstrap over fires:
    fires are resampled with replacement, each keeping its before and its afters together
    (pairing removes the fire-to-fire variation they share), and every treatment is scored on
    the same resamples.

    Per treatment: ``relative_reduction``, ``ci95`` [low, high], ``half_width`` (half the
    interval, as a fraction: 0.02 is 2 percentage points), ``fires``, ``fires_needed`` (for a
    half-width of ``target_half_width``: the half-width shrinks as 1/sqrt(fires), so N (hw /
    target)^2 rounded up) and ``warning`` (None, or a sentence when the interval is wider than
    the target or cannot be estimated). With ``reference`` (one of the treatments), every
    treatment also gets ``reference_minus`` (the reference's reduction minus its own, a
    fraction: 0.05 is 5 points in the reference's favour) and ``reference_minus_ci95``, the
    paired interval of that difference from the same resamples. Reductions and intervals are
    None when no fire burned anything before treatment. Burned cells may as well be burned
    value (values at risk): the reductions are then of value burned."""
    b = np.asarray(burned_before, dtype=np.float64).reshape(-1)
    afters = {name: np.asarray(a, dtype=np.float64).reshape(-1) for name, a in burned_after.items()}
    for name, a in afters.items():
        if b.shape != a.shape:
            raise InputError(f"burned_after[{name!r}]: {a.size} fires, but burned_before has {b.size}; the "
                             "before/after comparison needs the same fires")
    if reference is not None and reference not in afters:
        raise InputError(f"reference: {reference!r} is not one of the treatments {list(afters)}")
    n = b.size
    check_count("resamples", resamples)
    if not (isinstance(target_half_width, (int, float)) and 0.0 < target_half_width < 1.0):
        raise InputError(f"target_half_width: must be a fraction in (0, 1), got {target_half_width!r}")
    target = f"+-{100 * target_half_width:g} %"
    out = {name: {"fires": int(n), "relative_reduction": None, "ci95": None, "half_width": None,
                  "fires_needed": None, "target_half_width": float(target_half_width), "resamples": int(resamples),
                  "warning": None, **({"reference_minus": None, "reference_minus_ci95": None} if reference else {})}
           for name in afters}
    if n == 0 or b.sum() <= 0:
        for v in out.values():
            v["warning"] = "no fire burned anything before treatment: the reduction is undefined"
        return out
    for name, a in afters.items():
        out[name]["relative_reduction"] = float(1.0 - a.sum() / b.sum())
    if reference is not None:
        for name in afters:
            out[name]["reference_minus"] = out[reference]["relative_reduction"] - out[name]["relative_reduction"]
    if n < 2:
        for v in out.values():
            v["warning"] = (f"{n} fire cannot say how uncertain the reduction is; simulate more fires "
                            f"(--ignitions) for a {target} interval")
        return out
    rng = np.random.default_rng(seed)
    boots = {name: np.empty(resamples) for name in afters}
    chunk = max(1, 4_000_000 // n)  # resamples per batch: bounded memory whatever the fire count
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        sb = b[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            for name, a in afters.items():
                boots[name][start:start + len(idx)] = np.where(sb > 0, 1.0 - a[idx].sum(axis=1) / sb, np.nan)
    finite = np.logical_and.reduce([np.isfinite(v) for v in boots.values()])  # the same resamples (sb > 0) for all
    for name in afters:
        v = out[name]
        lo, hi = (float(q) for q in np.quantile(boots[name][finite], [0.025, 0.975]))
        hw = (hi - lo) / 2.0
        needed = int(math.ceil(n * (hw / target_half_width) ** 2)) if hw > 0 else int(n)
        v.update(ci95=[lo, hi], half_width=hw, fires_needed=needed)
        if hw > target_half_width:
            v["warning"] = (f"{n} fires give +-{100 * hw:.1f} %; about {needed} needed for {target} "
                            f"(--ignitions {needed})")
        if reference is not None:
            diff = boots[reference][finite] - boots[name][finite]
            v["reference_minus_ci95"] = [float(q) for q in np.quantile(diff, [0.025, 0.975])]
    return out


def _intervals_apart(a, b) -> bool | None:
    if not a or not b:
        return None
    return bool(a[0] > b[1] or a[1] < b[0])


def agent_verdict(agent: dict, other: dict, name: str, measure: str = "expected burned area") -> dict:
    """How the agent's plan compares with method ``name``'s on the same fires, from their
    ``paired_bootstrap`` entries (``other`` with ``reference_minus`` from reference="agent"):
    ``agent_minus_method`` (a fraction: 0.05 is 5 points of relative reduction in the agent's
    favour) and its paired 95 % interval, ``intervals_apart`` (the two methods' own 95 %
    intervals do not overlap: a conservative test), ``difference_significant`` (the paired
    interval of the difference excludes 0: the sharper test, since both plans meet the same
    fires), ``agent_better`` (True, False, or None for a tie or an undefined reduction),
    ``text`` for the table, and ``warning`` whenever the agent's plan reduces less."""
    ra, rm = agent.get("relative_reduction"), other.get("relative_reduction")
    diff, diff_ci = other.get("reference_minus"), other.get("reference_minus_ci95")
    apart = _intervals_apart(agent.get("ci95"), other.get("ci95"))
    significant = None if not diff_ci else bool(diff_ci[0] > 0 or diff_ci[1] < 0)
    out = {"agent_minus_method": diff, "agent_minus_method_ci95": diff_ci, "intervals_apart": apart,
           "difference_significant": significant, "agent_better": None, "text": "undefined", "warning": None}
    if ra is None or rm is None or diff is None:
        return out
    where = []
    if apart is not None:
        where.append("intervals apart" if apart else "intervals overlap")
    if significant is not None and not apart:
        where.append("paired CI excludes 0" if significant else "paired CI includes 0")
    where = "; " + "; ".join(where) if where else ""
    if diff == 0:
        out["text"] = "level" + where
        return out
    out["agent_better"] = diff > 0
    out["text"] = f"{'better' if diff > 0 else 'WORSE'} by {100 * abs(diff):.1f} points{where}"
    if diff < 0:
        detail = f"{100 * -diff:.1f} points less"
        if diff_ci:
            detail += (f" (agent - {name}, paired 95 % CI {100 * diff_ci[0]:+.1f} to {100 * diff_ci[1]:+.1f} points"
                       + ("" if significant else ": these fires cannot tell the two plans apart") + ")")
        if apart is not None:
            detail += ("; the two plans' 95 % intervals do not overlap" if apart else
                       "; the two plans' 95 % intervals overlap")
        out["warning"] = (f"the agent's plan ({100 * ra:.1f} %) is worse than {name} ({100 * rm:.1f} %) at reducing "
                          f"{measure}: {detail}")
    return out


def plan_comparison(burned: dict, *, placement_s: dict | None = None, breaks: dict | None = None,
                    agent: str = "agent", seed: int = 0, resamples: int = 10_000,
                    target_half_width: float = 0.02, burned_cells: dict | None = None) -> dict:
    """qagent-plan's comparison of the agent's plan with other methods' at the same budget:
    ``burned`` maps method -> per-fire burned cells on the same fires ("none", no treatment,
    the reference; ``agent`` the plan under test). Every method's relative reduction and 95 %
    interval come from one ``paired_bootstrap`` (the same resamples), each other method gets
    ``agent_verdict``. Returns {"methods": {name: entry}, "warnings": [sentences]} in the order
    of ``burned``; ``placement_s`` and ``breaks`` (counts) are copied into the entries.

    Values at risk: ``burned`` may be per-fire value burned instead, with ``burned_cells``
    the per-fire burned cells of the same fires: every reduction is then one of value burned,
    entries carry ``expected_burned_value`` beside ``expected_burned_cells``, and the result's
    ``measure`` says "expected value burned" (else "expected burned area")."""
    from qagent.evaluation.methods import REGISTRY

    if "none" not in burned or agent not in burned:
        raise InputError(f"burned: needs 'none' (no treatment) and {agent!r}, got {list(burned)}")
    stats = paired_bootstrap(burned["none"], burned, seed=seed, resamples=resamples,
                             target_half_width=target_half_width, reference=agent)
    methods, warnings = {}, []
    for name, st in stats.items():
        entry = {"label": REGISTRY[name].label if name in REGISTRY else name,
                 "breaks": None if breaks is None else int(breaks[name]),
                 "placement_s": None if placement_s is None else float(placement_s[name]),
                 "expected_burned_cells": _mean((burned if burned_cells is None else burned_cells)[name]),
                 **({} if burned_cells is None else {"expected_burned_value": _mean(burned[name])}),
                 "relative_reduction": st["relative_reduction"], "ci95": st["ci95"], "half_width": st["half_width"],
                 "fires": st["fires"], "fires_needed": st["fires_needed"], "target_half_width": st["target_half_width"],
                 "warning": st["warning"]}
        if name != agent:
            verdict = agent_verdict(stats[agent], st, name, MEASURES[burned_cells is not None])
            if verdict["warning"]:
                warnings.append(verdict["warning"])
            entry.update(agent_minus_method=verdict["agent_minus_method"],
                         agent_minus_method_ci95=verdict["agent_minus_method_ci95"],
                         intervals_apart=verdict["intervals_apart"],
                         difference_significant=verdict["difference_significant"], agent_better=verdict["agent_better"],
                         agent_verdict=verdict["text"])
        methods[name] = entry
    return {"measure": MEASURES[burned_cells is not None], "methods": methods, "warnings": warnings}


def _mean(x) -> float | None:
    return float(np.mean(x)) if len(x) else None


def format_plan_table(comparison: dict, agent: str = "agent") -> str:
    """The printed table of ``plan_comparison``: method, reduction (of its ``measure``), 95 %
    interval, placement seconds, agent minus method (points, paired 95 % interval) and the
    verdict, then a line naming the measure."""
    lines = [f"{'method':18s} {'reduction':>10s} {'95 % CI':>17s} {'placement s':>11s} "
             f"{'agent - method':>28s}  verdict"]
    for name, v in comparison["methods"].items():
        ci = v.get("ci95")
        d, dci = v.get("agent_minus_method"), v.get("agent_minus_method_ci95")
        diff = "-" if d is None else f"{100 * d:+.1f} pts" + (
            f" ({100 * dci[0]:+.1f} .. {100 * dci[1]:+.1f})" if dci else "")
        secs = "-" if v.get("placement_s") is None else f"{v['placement_s']:.1f}"
        verdict = "(the plan)" if name == agent else f"agent {v.get('agent_verdict', '-')}"
        lines.append(f"{name:18s} {_pct(v.get('relative_reduction')):>10s} "
                     f"{(_pct(ci[0]) + ' .. ' + _pct(ci[1])) if ci else '-':>17s} {secs:>11s} {diff:>28s}  {verdict}")
    lines.append(f"reductions of {comparison.get('measure', MEASURES[False])}")
    return "\n".join(lines)
