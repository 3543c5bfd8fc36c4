"""A values-at-risk GeoTIFF for a LANDFIRE folder that has none, for the evaluation with values.

The values are ``qagent.landscape.synthetic_values`` of the real landscape: houses clustered in
settlements along its developed land (LANDFIRE fuel NB1, 91: roads and built-up cells) and
scattered across it, zero where fire cannot burn (docs/synthetic_landscapes.md, "Values at
risk"). It is a stand-in for a planner's structures layer, with the shape such layers have
(value concentrated at the wildland-urban interface), drawn from its own seed.

``--kind habitat`` writes a dense layer instead: each burnable cell's canopy cover (a stand-in
for forest habitat), scaled to mean 1 over the burnable cells. A 5 % budget cannot treat it
all, so unlike sparse structures it cannot be protected by breaking the valued cells
themselves.

    python benchmarks/values_raster.py --landfire ../shared/landfire/worcester_vt --seed 2 \\
        --out runs/worcester_values.tif
    python benchmarks/values_raster.py --landfire ../shared/landfire/worcester_vt --kind habitat \\
        --out runs/worcester_habitat.tif
"""

from __future__ import annotations

import argparse

import torch

from qagent.landscape.landfire import load_landfire, save_geotiff
from qagent.landscape.synthetic import synthetic_values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landfire", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kind", choices=("houses", "habitat"), default="houses",
                   help="houses: synthetic structures (sparse, default); habitat: canopy cover (dense)")
    p.add_argument("--out", required=True, metavar="FILE.tif")
    a = p.parse_args()
    ls = load_landfire(a.landfire)
    burnable = ls.burnable_mask()
    if a.kind == "houses":
        values = synthetic_values(ls, a.seed)
        description = "values at risk (synthetic houses on the real landscape)"
    else:
        values = torch.where(burnable, ls.canopy_cover.float().nan_to_num(0.0).clamp(min=0.0), 0.0)
        mean = float(values[burnable].mean())
        if mean <= 0.0:
            raise SystemExit(f"{a.landfire}: no canopy cover on a burnable cell, so no habitat layer")
        values = values / mean
        description = "values at risk (habitat: canopy cover of the burnable cells)"
    save_geotiff(ls, a.out, values, description=description, units="relative value per cell, mean 1 over burnable cells")
    share = float((values[burnable] > 0).float().mean())
    print(f"wrote {a.out}: {ls.shape[0]} x {ls.shape[1]} cells, value on {100 * share:.1f} % of the burnable cells")


if __name__ == "__main__":
    main()
