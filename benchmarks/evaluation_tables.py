"""Markdown tables of an evaluation folder written by benchmarks/evaluate_default_agent.sh:
one row per method, one column per evaluation set (``tiles_*``: qagent-eval's summary.json,
mean relative reduction over landscapes; ``plan_*``: qagent-plan's plan.json, reduction of the
expected loss over the fires), each cell "reduction (agent - method in points, paired 95 %
interval)", then the placement seconds of each method (per landscape for tiles, for the whole
raster for plans).

    python benchmarks/evaluation_tables.py runs/default_eval
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ORDER = ("agent", "agent_checked", "agent_network", "dpv", "dpv_rounds", "domirank", "burn_probability",
         "greedy_intensity", "random")


def _entries(folder: Path) -> tuple[dict, str]:
    """method -> (reduction, agent_minus, agent_minus_ci, placement_s), and the set's measure."""
    if (folder / "summary.json").is_file():
        s = json.loads((folder / "summary.json").read_text())
        out = {m: (v.get("mean_relative_reduction"), v.get("agent_minus_method"), v.get("agent_minus_method_ci95"),
                   v.get("mean_placement_s")) for m, v in s["methods"].items() if m != "none"}
        return out, f"{s['landscapes']} landscapes, {s['measure']}"
    p = json.loads((folder / "plan.json").read_text())
    out = {m: (v.get("relative_reduction"), v.get("agent_minus_method"), v.get("agent_minus_method_ci95"),
               v.get("placement_s")) for m, v in p["methods"].items() if m != "none"}
    return out, f"{p['shape'][0]} x {p['shape'][1]}, {p['ignitions']} fires, {p['measure']}"


def _cell(entry) -> str:
    reduction, diff, ci, _ = entry
    text = "-" if reduction is None else f"{100 * reduction:.1f} %"
    if diff is not None and ci:
        text += f" ({100 * diff:+.1f}, {100 * ci[0]:+.1f} .. {100 * ci[1]:+.1f})"
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    a = p.parse_args()
    sets = sorted(d for d in Path(a.folder).iterdir() if (d / "summary.json").is_file() or (d / "plan.json").is_file())
    data = {d.name: _entries(d) for d in sets}
    print("| method | " + " | ".join(f"{name} ({what})" for name, (_, what) in data.items()) + " |")
    print("| --- " * (len(data) + 1) + "|")
    for m in ORDER:
        print(f"| {m} | " + " | ".join(_cell(e[m]) if m in e else "-" for e, _ in data.values()) + " |")
    print()
    print("placement seconds (per landscape for tiles, per raster for plans):")
    print("| method | " + " | ".join(data) + " |")
    print("| --- " * (len(data) + 1) + "|")
    for m in ORDER:
        cells = [("-" if m not in e or e[m][3] is None else f"{e[m][3]:.3g}") for e, _ in data.values()]
        print(f"| {m} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
