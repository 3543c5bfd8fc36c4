"""Figures of qagent-eval and qagent-plan, read back from the matplotlib objects (no
screenshots): the fuel legend, the colour bar's label, panel titles with each method's
reduction, nodata drawn apart from zero probability, and the plan figure's resolution and map
coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qagent.evaluation import figures
from qagent.landscape import Landscape

matplotlib = pytest.importorskip("matplotlib")

# one code of every group, in a row: grass, grass-shrub, shrub, timber understory, timber
# litter, slash, non-burnable, water, Anderson grass/shrub/timber/slash
CODES = [102, 122, 142, 165, 183, 201, 91, 98, 1, 5, 9, 12]


def landscape(h=12, w=12, nodata_rows=2, transform=None, crs=None, codes=CODES):
    z = np.zeros((h, w))
    fuel = np.resize(np.array(codes), h * w).reshape(h, w)
    mask = np.zeros((h, w), dtype=bool)
    mask[:nodata_rows] = True
    fuel[mask] = 99  # load_landfire makes nodata cells non-burnable
    return Landscape(slope=z, aspect=z, elevation=z, fuel_model=fuel, canopy_cover=z, canopy_height=z,
                     canopy_base_height=z, canopy_bulk_density=z, nodata_mask=mask, transform=transform, crs=crs)


def close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


def colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_fuel_groups_cover_both_fuel_model_sets():
    def group(code):
        ls = landscape(2, 2, 0, codes=[code])
        found = figures.fuel_groups_present(ls)
        assert len(found) == 1, code
        return figures.FUEL_GROUPS[found[0]][0].split(" (")[0]

    expected = {"grass": [*range(101, 110), 1, 2, 3], "grass-shrub": range(121, 125),
                "shrub": [*range(141, 150), 4, 5, 6, 7], "timber": [*range(161, 166), *range(181, 190), 8, 9, 10],
                "slash-blowdown": [*range(201, 205), 11, 12, 13], "non-burnable": [91, 92, 93, 99], "water": [98]}
    for name, codes in expected.items():
        for code in codes:
            assert group(code) == name, code


def test_evaluation_figure_has_a_legend_a_labelled_colour_bar_and_reductions_in_titles():
    ls = landscape()
    breaks = torch.zeros(ls.shape, dtype=torch.bool)
    breaks[5, 3:6] = True
    p = torch.linspace(0, 0.4, ls.num_cells).reshape(ls.shape)
    fig = figures.evaluation_figure(ls, {"none": breaks & False, "domirank": breaks, "agent": breaks},
                                    {"none": p, "agent": p / 2}, reductions={"domirank": 0.317, "agent": 0.5},
                                    title="held-out landscape 0")
    titles = [ax.get_title() for ax in fig.axes]
    assert "DomiRank: -31.7 % burned area" in titles and "agent: -50.0 % burned area" in titles
    assert any("no treatment" in t for t in titles) and any("agent (-50.0 % burned area)" in t for t in titles)
    assert colorbar_labels(fig) == ["burn probability per fire"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert [t.split(" (")[0] for t in legend] == ["grass", "grass-shrub", "shrub", "timber", "slash-blowdown",
                                                  "non-burnable", "water", "fuel break", "no data in the source rasters"]
    close(fig)


def test_nodata_cells_are_drawn_apart_from_zero_probability_and_from_non_burnable_cells():
    ls = landscape()
    nodata = ls.nodata_mask.numpy()
    p = torch.zeros(ls.shape)
    fig = figures.evaluation_figure(ls, {}, {"none": p})
    fuel_ax, prob_ax = fig.axes[0], fig.axes[1]
    prob = prob_ax.images[0]
    data = prob.get_array()
    assert np.array_equal(np.ma.getmaskarray(data), nodata)  # masked, not zero
    cmap = prob.get_cmap()
    assert not np.allclose(cmap.get_bad()[:3], cmap(0.0)[:3])
    rgb = fuel_ax.images[0].get_array()
    assert np.allclose(rgb[nodata], figures.NODATA_COLOR)
    non_burnable = (ls.fuel_model.numpy() == 91) & ~nodata
    assert non_burnable.any() and not np.allclose(rgb[non_burnable][0], figures.NODATA_COLOR)
    close(fig)


def test_plan_figure_draws_one_cell_per_pixel_or_more_in_map_coordinates():
    from affine import Affine

    h, w = 300, 420  # at the default 110 dpi a 3.6-inch panel would give under one pixel per cell
    transform = Affine(30.0, 0.0, 1_800_000.0, 0.0, -30.0, 2_600_000.0)
    ls = landscape(h, w, 20, transform=transform, crs="EPSG:5070")
    breaks = torch.zeros(ls.shape, dtype=torch.bool)
    breaks[150, 200] = True  # one isolated break cell
    p = torch.full(ls.shape, 0.1)
    fig = figures.plan_figure(ls, breaks, p, p * 0.5, reduction=0.5, title="plan")
    fig.draw_without_rendering()
    whole = [ax for ax in fig.axes if ax.get_title() and not ax.get_title().startswith("zoom")]
    assert len(whole) == 4
    for ax in whole:
        box = ax.get_window_extent()  # pixels at the figure's dpi, the one save_figure writes at
        assert box.width >= w and box.height >= h, (ax.get_title(), box, fig.dpi)
        assert ax.get_xlim() == pytest.approx((1_800_000.0, 1_800_000.0 + 30 * w))
        assert sorted(ax.get_ylim()) == pytest.approx([2_600_000.0 - 30 * h, 2_600_000.0])
        assert ax.get_xlabel() == "x (EPSG:5070, m)"
    zoom = next(ax for ax in fig.axes if ax.get_title().startswith("zoom"))
    import re

    r0, r1, c0, c1 = map(int, re.fullmatch(r"zoom: rows (\d+)-(\d+), columns (\d+)-(\d+)", zoom.get_title()).groups())
    assert r0 <= 150 <= r1 and c0 <= 200 <= c1 and (r1 - r0 + 1, c1 - c0 + 1) == (60, 60)
    zoom_img = zoom.images[0].get_array()
    assert zoom_img.shape[:2] == (60, 60) and np.isclose(zoom_img, figures.BREAK_COLOR).all(-1).sum() == 1
    titles = [ax.get_title() for ax in fig.axes]
    assert "agent: 1 breaks, -50.0 % burned area" in titles
    assert colorbar_labels(fig) == ["burn probability per fire"]
    close(fig)


def test_plan_figure_without_georeferencing_uses_rows_and_columns(tmp_path):
    ls = landscape(30, 40, 0)
    p = torch.zeros(ls.shape)
    fig = figures.plan_figure(ls, torch.zeros(ls.shape, dtype=torch.bool), p, p, reduction=None)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    assert ax.get_xlim() == pytest.approx((-0.5, 39.5)) and ax.get_ylim() == pytest.approx((29.5, -0.5))
    assert "burned area n/a" in fig.axes[1].get_title()
    path = figures.save_figure(fig, tmp_path / "plan.png")
    assert path.stat().st_size > 0


def test_comparison_figure_titles_each_method_and_keeps_one_pixel_per_cell():
    from affine import Affine

    h, w = 200, 260
    ls = landscape(h, w, 10, transform=Affine(30.0, 0.0, 1_800_000.0, 0.0, -30.0, 2_600_000.0), crs="EPSG:5070")
    b = torch.zeros(ls.shape, dtype=torch.bool)
    b[50, 60:70] = True
    breaks = {"agent": b, "none": b & False, "burn_probability": b, "domirank": b}
    fig = figures.comparison_figure(ls, breaks, {"agent": 0.25, "none": 0.0, "burn_probability": 0.317, "domirank": None},
                                    intervals={"agent": [0.2, 0.3], "burn_probability": [0.3, 0.33]},
                                    placement_s={"agent": 1.25, "burn_probability": 30.0, "domirank": 8.0})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["fuels", "agent: -25.0 % burned area\n10 breaks, 95 % CI -30.0 to -20.0 %, placed in 1.2 s",
                      "burn probability: -31.7 % burned area\n10 breaks, 95 % CI -33.0 to -30.0 %, placed in 30.0 s",
                      "DomiRank: burned area n/a\n10 breaks, placed in 8.0 s"]  # "none" has no breaks to draw
    legend = [t.get_text().split(" (")[0] for t in fig.legends[0].get_texts()]
    assert "fuel break" in legend and "no data in the source rasters" in legend
    fig.draw_without_rendering()
    for ax in (a for a in fig.axes if a.get_title()):
        box = ax.get_window_extent()
        assert box.width >= w and box.height >= h, (ax.get_title(), box)
        assert ax.get_xlabel() == "x (EPSG:5070, m)"
    close(fig)
