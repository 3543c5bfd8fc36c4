"""Footprint agreement of qagent's spread with pyretechnics' level set on the 60 reference
cases (benchmarks/data/spread_reference.npz), for both stencils: per-case Jaccard index and
burned-area error, and their distribution.

    python benchmarks/compare_spread.py [--json bench_out/compare_spread.json]
"""

import argparse
import json
from pathlib import Path

import numpy as np

from oracle import compare_spread, load_spread_reference

REFERENCE = Path(__file__).resolve().parent / "data" / "spread_reference.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases, meta = load_spread_reference(REFERENCE)
    out = {"reference": meta, "stencils": {}}
    for stencil in (16, 32):
        rows = [compare_spread(c, stencil=stencil) for c in cases]
        j = np.array([r["jaccard"] for r in rows])
        a = np.array([r["area_error"] for r in rows])
        q = lambda x, p: float(np.quantile(x, p))  # noqa: E731
        summary = {"cases": len(rows), "jaccard_median": float(np.median(j)), "jaccard_q10": q(j, 0.1),
                   "jaccard_min": float(j.min()), "area_error_median": float(np.median(a)),
                   "abs_area_error_median": float(np.median(np.abs(a))), "abs_area_error_q90": q(np.abs(a), 0.9),
                   "crown_cases_jaccard_median": float(np.median([r["jaccard"] for r in rows if r["crown_fire"]])),
                   "other_cases_jaccard_median": float(np.median([r["jaccard"] for r in rows if not r["crown_fire"]]))}
        out["stencils"][stencil] = {"summary": summary, "cases": rows}
        print(f"\n{stencil} directions: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items() if k != "cases"))
        if stencil == 32:
            print(f"{'case':16s} {'Jaccard':>8s} {'area err':>9s} {'ours':>6s} {'pyret':>6s} crown")
            for r in rows:
                print(f"{r['name']:16s} {r['jaccard']:8.3f} {r['area_error']:+9.3f} {r['burned_cells']:6d} "
                      f"{r['reference_burned_cells']:6d} {'yes' if r['crown_fire'] else ''}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
