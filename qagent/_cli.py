"""Argument types shared by every command line (qagent-train, -eval, -plan, -tiles, -bench).

Each is an argparse ``type=``: it turns the text of a flag into a value or refuses it at parse
time with a message that names the accepted range (argparse prints "argument --budget: ..."
and exits with status 2). NaN and infinities are refused everywhere.
"""

from __future__ import annotations

import argparse
import math

FUEL_PRODUCTS = ("F40", "F13")
FUEL_HELP = ("LANDFIRE fuel product to read from a folder that holds both: F40 (Scott & Burgan 40, "
             "the default) or F13 (Anderson 13)")


def _number(text: str, kind=float) -> float:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A fraction in (0, 1] (budgets: the share of burnable cells to treat)."""
    value = _number(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text}")
    return value


def unit_interval(text: str) -> float:
    """A number in [0, 1] (a discount, a nodata share)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: steps, fires, landscapes, cells)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts that may be zero: warm-start episodes, figures)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate, a cell size in m, seconds)."""
    value = _number(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


IGNITION_DENSITY_HELP = ("single-band GeoTIFF on the LANDFIRE folder's grid (same shape and transform): fires "
                         "ignite with probability proportional to it (non-negative weights, 0 where no fire may "
                         "start; NaN and negative cells are refused); default: uniform over burnable cells")


def add_ignition_density_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, extra: str = "") -> None:
    """``--ignition-density FILE.tif`` for a command that draws fires on a LANDFIRE folder."""
    parser.add_argument("--ignition-density", metavar="FILE.tif", help=IGNITION_DENSITY_HELP + extra)


VALUES_HELP = ("single-band GeoTIFF of values at risk on the LANDFIRE folder's grid (same shape, transform and "
               "CRS): a non-negative value per cell (structures, habitat; any unit; nodata cells are worth 0; NaN "
               "and negative cells are refused); the objective becomes expected value burned instead of expected "
               "burned area; default: every cell is worth 1")
SYNTHETIC_VALUES_CHOICES = ("ones", "synthetic", "habitat", "mixed", "varied")
SYNTHETIC_VALUES_HELP = ("values at risk of synthetic landscapes: ones (every cell worth 1, the burned area), "
                         "synthetic (houses in settlements along roads and scattered, seeded per landscape: sparse), "
                         "habitat (a dense habitat value over most burnable cells), mixed (odd seeds synthetic, "
                         "even seeds ones) or varied (seed modulo 3: ones, synthetic, habitat)")


def add_values_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, extra: str = "") -> None:
    """``--values FILE.tif`` for a command that burns fires on a LANDFIRE folder."""
    parser.add_argument("--values", metavar="FILE.tif", help=VALUES_HELP + extra)


def add_synthetic_values_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str) -> None:
    """``--synthetic-values ones|synthetic|habitat|mixed|varied`` for a command that may use synthetic landscapes."""
    parser.add_argument("--synthetic-values", choices=SYNTHETIC_VALUES_CHOICES, metavar="MODE",
                        help=f"{SYNTHETIC_VALUES_HELP} (default: {default})")


def add_fuel_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--fuel F40|F13`` for a command that reads LANDFIRE folders."""
    parser.add_argument("--fuel", type=str.upper, choices=FUEL_PRODUCTS, default="F40", help=FUEL_HELP)
