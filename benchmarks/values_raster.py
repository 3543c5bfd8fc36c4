"""A values-at-risk GeoTIFF for a LANDFIRE folder that has none, for the evaluation with values.

The values are ``qagent.landscape.synthetic_values`` of the real landscape: houses clustered in
settlements along its developed land (LANDFIRE fuel NB1, 91: roads and built-up cells) and
scattered across it, zero where fire cannot burn (docs/synthetic_landscapes.md, "Values at
risk"). It is a stand-in for a planner's structures layer, with the shape such layers have
(value concentrated at the wildland-urban interface), drawn from its own seed.

    python benchmarks/values_raster.py --landfire ../shared/landfire/worcester_vt --seed 2 \\
        --out runs/worcester_values.tif
"""

from __future__ import annotations

import argparse

from qagent.landscape.landfire import load_landfire, save_geotiff
from qagent.landscape.synthetic import synthetic_values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landfire", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="FILE.tif")
    a = p.parse_args()
    ls = load_landfire(a.landfire)
    values = synthetic_values(ls, a.seed)
    save_geotiff(ls, a.out, values, description="values at risk (synthetic houses on the real landscape)",
                 units="relative value per cell, mean 1 over burnable cells")
    burnable = ls.burnable_mask()
    share = float((values[burnable] > 0).float().mean())
    print(f"wrote {a.out}: {ls.shape[0]} x {ls.shape[1]} cells, value on {100 * share:.1f} % of the burnable cells")


if __name__ == "__main__":
    main()
