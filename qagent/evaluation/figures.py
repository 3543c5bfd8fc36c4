"""PNG figures for evaluation and planning: the fuels (with a legend of fuel groups), each
method's breaks (its reduction of burned area in the panel's title), and burn probability per
fire before and after (a labelled colour bar). Cells without data in the source rasters
(``landscape.nodata_mask``) are drawn in their own colour, never as zero probability.

``evaluation_figure``, ``plan_figure`` and ``comparison_figure`` build and return a matplotlib
Figure (tests read titles, legend and colour-bar labels back from it); ``save_figure`` writes
one as PNG. ``plan_figure`` and ``comparison_figure`` size their resolution so that one cell of
the whole raster is at least one pixel, label its axes in map coordinates when the landscape is
georeferenced (row and column otherwise) and add a zoomed panel of the breaks.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from qagent import fuels
from qagent.landscape.core import Landscape



def _fuel_groups():
    """Fuel groups of Scott & Burgan 40 and Anderson 13 (codes from ``qagent.fuels``), in legend
    order: (label, RGB colour, codes)."""
    r, family, anderson = fuels.format_ranges, fuels.family_codes, fuels.ANDERSON_GROUPS
    non_burnable = tuple(c for c in fuels.non_burnable_codes() if c != fuels.WATER_CODE)
    named = [c for c in non_burnable if c in fuels.NON_BURNABLE_NAMES]
    return (
        (f"grass (GR {r(family('GR'))}, Anderson {r(anderson['grass'])})", (0.93, 0.85, 0.35),
         (*family("GR"), *anderson["grass"])),
        (f"grass-shrub (GS {r(family('GS'))})", (0.70, 0.70, 0.30), family("GS")),
        (f"shrub (SH {r(family('SH'))}, Anderson {r(anderson['shrub'])})", (0.85, 0.55, 0.25),
         (*family("SH"), *anderson["shrub"])),
        (f"timber (understory TU {r(family('TU'))}, litter TL {r(family('TL'))}, Anderson {r(anderson['timber'])})",
         (0.18, 0.45, 0.22), (*family("TU"), *family("TL"), *anderson["timber"])),
        (f"slash-blowdown (SB {r(family('SB'))}, Anderson {r(anderson['slash'])})", (0.50, 0.35, 0.20),
         (*family("SB"), *anderson["slash"])),
        (f"non-burnable (NB {r(named)}: urban, snow, agriculture, bare)", (0.45, 0.45, 0.45), non_burnable),
        (f"water (NB {fuels.WATER_CODE})", (0.30, 0.50, 0.85), (fuels.WATER_CODE,)),
    )


FUEL_GROUPS: tuple[tuple[str, tuple[float, float, float], tuple[int, ...]], ...] = _fuel_groups()
NODATA_COLOR = (0.88, 0.88, 0.88)
NODATA_LABEL = "no data in the source rasters"
BREAK_COLOR = (0.85, 0.05, 0.05)
BREAK_LABEL = "fuel break (treated cell)"
COLORBAR_LABEL = "burn probability per fire"

def _method_labels() -> dict[str, str]:
    from qagent.evaluation.methods import REGISTRY

    return {name: m.label for name, m in REGISTRY.items()}


METHOD_LABELS = _method_labels()  # from the registry of qagent.evaluation.methods


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _nodata(landscape: Landscape) -> np.ndarray:
    m = landscape.nodata_mask
    return _numpy(m).astype(bool) if m is not None else np.zeros(landscape.shape, dtype=bool)


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def reduction_text(reduction: float | None, measure: str = "burned area") -> str:
    """'-31.7 % burned area' for a relative reduction of 0.317 ('n/a' when undefined);
    ``measure`` names what was reduced ("value burned" with values at risk)."""
    if reduction is None or not math.isfinite(reduction):
        return f"{measure} n/a"
    return f"{-100.0 * reduction:+.1f} % {measure}"


def fuel_groups_present(landscape: Landscape) -> list[int]:
    """Indices into FUEL_GROUPS of the groups that occur on the landscape's data cells."""
    code = _numpy(landscape.fuel_model)[~_nodata(landscape)]
    return [i for i, (_, _, codes) in enumerate(FUEL_GROUPS) if np.isin(code, codes).any()]


def fuel_image(landscape: Landscape) -> np.ndarray:
    """RGB [H, W, 3] image of the fuel groups (FUEL_GROUPS' colours), nodata cells in
    NODATA_COLOR."""
    code = _numpy(landscape.fuel_model)
    rgb = np.full((*code.shape, 3), 0.0)
    for _, color, codes in FUEL_GROUPS:
        rgb[np.isin(code, codes)] = color
    rgb[_nodata(landscape)] = NODATA_COLOR
    return rgb


def breaks_image(landscape: Landscape, breaks) -> np.ndarray:
    """The fuels faded, breaks in BREAK_COLOR, nodata in NODATA_COLOR."""
    img = fuel_image(landscape) * 0.55 + 0.45
    img[_nodata(landscape)] = NODATA_COLOR
    img[_numpy(breaks).astype(bool)] = BREAK_COLOR
    return img


def _probability_cmap():
    import matplotlib

    return matplotlib.colormaps["inferno"].with_extremes(bad=NODATA_COLOR)


def _probability(ax, landscape: Landscape, p, vmax: float, extent=None):
    data = np.ma.masked_array(_numpy(p).astype(np.float32), mask=_nodata(landscape))
    return ax.imshow(data, cmap=_probability_cmap(), vmin=0.0, vmax=vmax, interpolation="nearest", extent=extent)


def _legend(fig, landscape: Landscape, with_breaks: bool, ncol: int):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=FUEL_GROUPS[i][1], edgecolor="none", label=FUEL_GROUPS[i][0])
               for i in fuel_groups_present(landscape)]
    if with_breaks:
        handles.append(Patch(facecolor=BREAK_COLOR, edgecolor="none", label=BREAK_LABEL))
    if _nodata(landscape).any():
        handles.append(Patch(facecolor=NODATA_COLOR, edgecolor="0.5", label=NODATA_LABEL))
    return fig.legend(handles=handles, loc="lower center", ncol=max(1, min(ncol, len(handles))), fontsize=7,
                      frameon=False)


def _vmax(burn_probability) -> float:
    return max((float(_numpy(p).max()) for p in burn_probability.values()), default=0.0) or 1.0


def evaluation_figure(landscape: Landscape, breaks: dict[str, torch.Tensor],
                      burn_probability: dict[str, torch.Tensor], reductions: dict[str, float] | None = None,
                      title: str = "", measure: str = "burned area"):
    """One row: the fuels, every method's breaks over the fuels (titled with its reduction of
    burned area, or of ``measure``, ``reductions[method]`` a relative reduction such as 0.317),
    and burn probability per fire with each method in ``burn_probability`` ("none": no
    treatment). Returns the matplotlib Figure."""
    plt = _plt()
    reductions = reductions or {}
    methods = [m for m in breaks if m != "none"]
    probs = list(burn_probability)
    n = 1 + len(methods) + len(probs)
    fig, axes = plt.subplots(1, n, figsize=(2.8 * n, 4.0), squeeze=False)
    axes = axes[0]
    axes[0].imshow(fuel_image(landscape), interpolation="nearest")
    axes[0].set_title("fuels", fontsize=9)
    for ax, m in zip(axes[1:], methods):
        ax.imshow(breaks_image(landscape, breaks[m]), interpolation="nearest")
        ax.set_title(f"{method_label(m)}: {reduction_text(reductions.get(m), measure)}", fontsize=9)
    vmax = _vmax(burn_probability)
    im = None
    for ax, name in zip(axes[1 + len(methods):], probs):
        im = _probability(ax, landscape, burn_probability[name], vmax)
        suffix = f" ({reduction_text(reductions[name], measure)})" if name in reductions and name != "none" else ""
        ax.set_title(f"burn probability,\n{method_label(name)}{suffix}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(bottom=0.24, top=0.78, left=0.02, right=0.92, wspace=0.12)
    if im is not None:
        cbar = fig.colorbar(im, ax=list(axes[1 + len(methods):]), fraction=0.046, pad=0.04)
        cbar.set_label(COLORBAR_LABEL)
    if title:
        fig.suptitle(title)
    _legend(fig, landscape, with_breaks=bool(methods), ncol=4)
    return fig


def _map_extent(landscape: Landscape):
    """(extent for imshow, x label, y label): map coordinates of a north-up georeferenced
    landscape, else columns and rows (cell centres at integers)."""
    h, w = landscape.shape
    t = landscape.transform
    if t is not None:
        a, b, c, d, e, f = (float(v) for v in tuple(t)[:6])
        if b == 0.0 and d == 0.0:
            unit = "m"
            crs = landscape.crs
            if crs is not None and not hasattr(crs, "to_epsg"):
                try:  # a CRS given as text ("EPSG:5070", WKT)
                    from rasterio.crs import CRS

                    crs = CRS.from_user_input(crs)
                except Exception:  # rasterio absent or the text not a CRS: leave the name out
                    crs = None
            units = getattr(crs, "linear_units", None) if crs is not None else None
            if units and str(units).lower() not in ("metre", "meter", "m"):
                unit = str(units)
            elif crs is not None and getattr(crs, "is_geographic", False):
                unit = "degrees"
            name = ""
            if crs is not None and hasattr(crs, "to_epsg") and crs.to_epsg():
                name = f"EPSG:{crs.to_epsg()}, "
            return (c, c + a * w, f + e * h, f), f"x ({name}{unit})", f"y ({name}{unit})"
    return (-0.5, w - 0.5, h - 0.5, -0.5), "column", "row"


def _map_axis(ax, xlabel: str, ylabel: str | None = None) -> None:
    """Map coordinates on an axis: plain tick labels (no offset), a few ticks, small type."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(xlabel, fontsize=7)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=7)
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=6)
    ax.tick_params(axis="x", labelrotation=30)


def _zoom_window(breaks: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1): the size x size window (clipped to the grid) holding most breaks."""
    h, w = breaks.shape
    sh, sw = min(size, h), min(size, w)
    if not breaks.any():
        r0, c0 = (h - sh) // 2, (w - sw) // 2
        return r0, r0 + sh, c0, c0 + sw
    s = np.pad(breaks.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = s[sh:, sw:] - s[:-sh, sw:] - s[sh:, :-sw] + s[:-sh, :-sw]
    r0, c0 = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return int(r0), int(r0) + sh, int(c0), int(c0) + sw


MAX_FIGURE_PIXELS = 12_000  # per side of the PNG (12,000 x 4,000 RGBA is about 200 MB to render)


def plan_figure(landscape: Landscape, breaks, p_before, p_after, *, reduction: float | None = None,
                title: str = "", zoom_cells: int = 60, measure: str = "burned area"):
    """qagent-plan's overview: fuels, the breaks on the whole raster, a zoom on the window of
    ``zoom_cells`` x ``zoom_cells`` cells with the most breaks, and burn probability per fire
    before and after (the latter titled with ``reduction``). The figure's dpi is set so that
    every whole-raster panel has at least one pixel per cell (up to MAX_FIGURE_PIXELS per
    side of the image); save it with ``save_figure``. Returns the matplotlib Figure."""
    plt = _plt()
    from matplotlib.patches import Rectangle

    h, w = landscape.shape
    extent, xlabel, ylabel = _map_extent(landscape)
    b = _numpy(breaks).astype(bool)
    panel_in = 3.6
    fig_h = panel_in * min(3.0, max(0.5, h / w)) + 2.3
    fig, axes = plt.subplots(1, 5, figsize=(5 * panel_in * 1.05, fig_h), squeeze=False)
    axes = axes[0]
    ax_fuel, ax_breaks, ax_zoom, ax_before, ax_after = axes
    ax_fuel.imshow(fuel_image(landscape), interpolation="nearest", extent=extent)
    ax_fuel.set_title("fuels", fontsize=9)
    ax_breaks.imshow(breaks_image(landscape, b), interpolation="nearest", extent=extent)
    ax_breaks.set_title(f"agent: {int(b.sum())} breaks, {reduction_text(reduction, measure)}", fontsize=9)
    r0, r1, c0, c1 = _zoom_window(b, zoom_cells)
    left, right, bottom, top = extent  # row 0 at top, row h at bottom (map or row/col units)
    cx, ry = (right - left) / w, (bottom - top) / h
    zext = (left + c0 * cx, left + c1 * cx, top + r1 * ry, top + r0 * ry)
    ax_zoom.imshow(breaks_image(landscape, b)[r0:r1, c0:c1], interpolation="nearest", extent=zext)
    ax_zoom.set_title(f"zoom: rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1}", fontsize=9)
    ax_breaks.add_patch(Rectangle((zext[0], min(zext[2], zext[3])), zext[1] - zext[0], abs(zext[3] - zext[2]),
                                  fill=False, edgecolor="cyan", linewidth=0.8))
    vmax = _vmax({"before": p_before, "after": p_after})
    _probability(ax_before, landscape, p_before, vmax, extent)
    ax_before.set_title("burn probability: before treatment", fontsize=9)
    im = _probability(ax_after, landscape, p_after, vmax, extent)
    ax_after.set_title(f"burn probability: after ({reduction_text(reduction, measure)})", fontsize=9)
    for ax in axes:
        _map_axis(ax, xlabel)
    ax_fuel.set_ylabel(ylabel, fontsize=7)
    fig.subplots_adjust(bottom=1.35 / fig_h, top=1.0 - 0.75 / fig_h, left=0.05, right=0.93, wspace=0.4)
    cbar = fig.colorbar(im, ax=[ax_before, ax_after], fraction=0.046, pad=0.04)
    cbar.set_label(COLORBAR_LABEL)
    if title:
        fig.suptitle(title)
    _legend(fig, landscape, with_breaks=True, ncol=5)
    fig.set_dpi(_dpi_for_cells(fig, [ax_fuel, ax_breaks, ax_before, ax_after], h, w))
    return fig


def comparison_figure(landscape: Landscape, breaks: dict, reductions: dict, *, intervals: dict | None = None,
                      placement_s: dict | None = None, title: str = "", columns: int = 3,
                      measure: str = "burned area"):
    """qagent-plan's ``comparison.png``: the fuels and each method's breaks on the whole raster,
    side by side (``breaks``: method -> bool [H, W], "none" not drawn), each panel titled
    "<label>: <change in burned area>" (``reductions[method]``, a relative reduction), then
    its 95 % interval (``intervals[method]``) and placement seconds, on a second line. Map
    coordinates as in ``plan_figure``, at least one pixel per cell (up to MAX_FIGURE_PIXELS a
    side). Returns the matplotlib Figure."""
    plt = _plt()
    intervals, placement_s = intervals or {}, placement_s or {}
    methods = [m for m in breaks if m != "none"]
    n = 1 + len(methods)
    ncol = max(1, min(columns, n))
    nrow = math.ceil(n / ncol)
    h, w = landscape.shape
    extent, xlabel, ylabel = _map_extent(landscape)
    # inches: each panel's axes box, the gaps between panels (titles of two lines above, the x
    # label and rotated ticks below), the margins (suptitle; legend)
    ax_w = 3.6
    ax_h = ax_w * min(3.0, max(0.5, h / w))
    gap_w, gap_h, top_in, bottom_in, left_in, right_in = 1.0, 1.2, 1.0, 1.3, 0.8, 0.3
    fig_w = left_in + ncol * ax_w + (ncol - 1) * gap_w + right_in
    fig_h = top_in + nrow * ax_h + (nrow - 1) * gap_h + bottom_in
    fig, axes = plt.subplots(nrow, ncol, figsize=(fig_w, fig_h), squeeze=False)
    flat = list(axes.reshape(-1))
    flat[0].imshow(fuel_image(landscape), interpolation="nearest", extent=extent)
    flat[0].set_title("fuels", fontsize=9)
    for ax, m in zip(flat[1:], methods):
        b = _numpy(breaks[m]).astype(bool)
        ax.imshow(breaks_image(landscape, b), interpolation="nearest", extent=extent)
        detail = [f"{int(b.sum())} breaks"]
        ci = intervals.get(m)
        if ci:
            detail.append(f"95 % CI {-100 * ci[1]:.1f} to {-100 * ci[0]:.1f} %")
        if placement_s.get(m) is not None:
            detail.append(f"placed in {placement_s[m]:.1f} s")
        ax.set_title(f"{method_label(m)}: {reduction_text(reductions.get(m), measure)}\n{', '.join(detail)}",
                     fontsize=9)
    for ax in flat[n:]:
        ax.set_axis_off()
    for ax in flat[:n]:
        _map_axis(ax, xlabel, ylabel)
    fig.subplots_adjust(bottom=bottom_in / fig_h, top=1.0 - top_in / fig_h, left=left_in / fig_w,
                        right=1.0 - right_in / fig_w, wspace=gap_w / ax_w, hspace=gap_h / ax_h)
    if title:
        fig.suptitle(title)
    _legend(fig, landscape, with_breaks=True, ncol=4)
    fig.set_dpi(_dpi_for_cells(fig, flat[:n], h, w))
    return fig


def _dpi_for_cells(fig, axes, h: int, w: int, minimum: float = 110.0) -> float:
    """The smallest dpi (at least ``minimum``) at which each of ``axes`` draws one pixel or
    more per cell of an h x w raster, capped so the image stays within MAX_FIGURE_PIXELS a side."""
    fig.draw_without_rendering()  # applies the aspect: the axes' drawn boxes
    need = minimum
    for ax in axes:
        box = ax.get_window_extent()
        inches_per_cell = min(box.width / w, box.height / h) / fig.dpi
        need = max(need, 1.0 / inches_per_cell)
    cap = MAX_FIGURE_PIXELS / max(fig.get_size_inches())
    return float(min(math.ceil(need * 1.01), cap))


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as PNG at its own dpi and close it."""
    plt = _plt()
    path = Path(path)
    fig.savefig(path, dpi=fig.get_dpi())
    plt.close(fig)
    return path


def landscape_figure(path: Path, landscape: Landscape, breaks: dict[str, torch.Tensor],
                     burn_probability: dict[str, torch.Tensor], title: str = "",
                     reductions: dict[str, float] | None = None, measure: str = "burned area") -> Path:
    """``evaluation_figure`` written to ``path`` (PNG)."""
    fig = evaluation_figure(landscape, breaks, burn_probability, reductions, title, measure)
    fig.set_dpi(110)
    return save_figure(fig, path)
