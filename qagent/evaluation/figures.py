"""PNG figures for evaluation and planning: the landscape, each method's breaks, and burn
probability before and after."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qagent.landscape.core import Landscape


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fuel_image(landscape: Landscape) -> np.ndarray:
    """RGB image of fuel groups: grass yellow, grass-shrub olive, shrub orange, timber
    understory and litter greens, slash brown, non-burnable grey, water blue."""
    code = landscape.fuel_model.cpu().numpy()
    rgb = np.full((*code.shape, 3), 0.75)
    palette = [((101, 109), (0.93, 0.85, 0.35)), ((1, 3), (0.93, 0.85, 0.35)), ((121, 124), (0.70, 0.70, 0.30)),
               ((141, 149), (0.85, 0.55, 0.25)), ((4, 7), (0.85, 0.55, 0.25)), ((161, 165), (0.30, 0.55, 0.30)),
               ((181, 189), (0.15, 0.40, 0.20)), ((8, 10), (0.15, 0.40, 0.20)), ((201, 204), (0.50, 0.35, 0.20)),
               ((11, 13), (0.50, 0.35, 0.20)), ((98, 98), (0.30, 0.50, 0.85))]
    for (lo, hi), color in palette:
        rgb[(code >= lo) & (code <= hi)] = color
    return rgb


def landscape_figure(path: Path, landscape: Landscape, breaks: dict[str, torch.Tensor],
                     burn_probability: dict[str, torch.Tensor], title: str = "") -> Path:
    """One row: the fuels, every method's breaks over the fuels, and burn probability with no
    treatment and with each method that has one."""
    plt = _plt()
    methods = [m for m in breaks if m != "none"]
    probs = list(burn_probability)
    n = 1 + len(methods) + len(probs)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.0), squeeze=False)
    axes = axes[0]
    base = fuel_image(landscape)
    axes[0].imshow(base, interpolation="nearest")
    axes[0].set_title("fuels")
    for ax, m in zip(axes[1:], methods):
        img = base * 0.55 + 0.45
        img[breaks[m].cpu().numpy()] = (0.85, 0.05, 0.05)
        ax.imshow(img, interpolation="nearest")
        ax.set_title(f"{m} breaks")
    vmax = max(float(p.max()) for p in burn_probability.values()) or 1.0
    for ax, name in zip(axes[1 + len(methods):], probs):
        im = ax.imshow(burn_probability[name].cpu().numpy(), cmap="inferno", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"burn prob. ({name})")
    fig.colorbar(im, ax=axes[-1], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
