"""Every numeric flag of qagent-eval, qagent-plan and qagent-tiles is checked when the command
line is parsed (argparse exits with status 2 naming the flag), and the library entry points
behind them refuse the same bad values with InputError."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from qagent import _cli
from qagent._validation import InputError
from qagent.env.fuel_break_env import budget_cells
from qagent.env.sources import SyntheticSource, make_source
from qagent.evaluation.cli import eval_main, eval_parser, plan_main, plan_parser
from qagent.evaluation.evaluate import evaluate
from qagent.landscape.tiles import main as tiles_main, tiles_parser

PLAN_REQUIRED = ["--checkpoint", "a.pt", "--landfire", "lf", "--out", "o"]
TILES_REQUIRED = ["src", "out"]

BAD_FRACTIONS = ["2.0", "1.0001", "0", "-0.1", "nan", "inf", "abc"]
BAD_COUNTS = ["0", "-1", "1.5", "nan", "x"]
BAD_SEEDS = ["-1", "1.5", "nan"]


def refused(capsys, main, argv, flag):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err, err
    return err


@pytest.mark.parametrize("value", BAD_FRACTIONS)
def test_budget_outside_0_1_is_refused_by_eval_and_plan(capsys, value):
    err = refused(capsys, eval_main, ["--budget", value], "--budget")
    assert "(0, 1]" in err or "number" in err
    refused(capsys, plan_main, PLAN_REQUIRED + ["--budget", value], "--budget")


@pytest.mark.parametrize("flag", ["--count", "--ignitions", "--grid-size", "--placement-ignitions"])
@pytest.mark.parametrize("value", BAD_COUNTS)
def test_eval_counts_must_be_integers_of_at_least_one(capsys, flag, value):
    refused(capsys, eval_main, [flag, value], flag)


@pytest.mark.parametrize("flag", ["--ignitions", "--cells-per-round", "--placement-ignitions"])
@pytest.mark.parametrize("value", BAD_COUNTS)
def test_plan_counts_must_be_integers_of_at_least_one(capsys, flag, value):
    refused(capsys, plan_main, PLAN_REQUIRED + [flag, value], flag)


@pytest.mark.parametrize("value", BAD_SEEDS)
def test_seeds_are_non_negative_integers(capsys, value):
    refused(capsys, eval_main, ["--seed", value], "--seed")
    refused(capsys, plan_main, PLAN_REQUIRED + ["--seed", value], "--seed")


def test_figures_may_be_zero_but_not_negative(capsys):
    refused(capsys, eval_main, ["--figures", "-1"], "--figures")
    assert eval_parser().parse_args(["--figures", "0"]).figures == 0


def test_device_fuel_and_methods_are_checked_at_parse_time(capsys):
    refused(capsys, eval_main, ["--device", "tpu"], "--device")
    refused(capsys, plan_main, PLAN_REQUIRED + ["--device", "nonsense:0"], "--device")
    refused(capsys, eval_main, ["--fuel", "F99"], "--fuel")
    refused(capsys, plan_main, PLAN_REQUIRED + ["--fuel", "F99"], "--fuel")
    refused(capsys, eval_main, ["--methods", "none", "oracle"], "--methods")


def test_compare_takes_heuristics_only_and_refuses_others_at_parse_time(capsys):
    from qagent.evaluation.methods import HEURISTICS

    for bad in (["oracle"], ["random", "betweenness"], ["agent"], []):
        refused(capsys, plan_main, PLAN_REQUIRED + ["--compare", *bad], "--compare")
    assert plan_parser().parse_args(PLAN_REQUIRED).compare == list(HEURISTICS)
    assert plan_parser().parse_args(PLAN_REQUIRED + ["--compare", "none"]).compare == ["none"]
    args = plan_parser().parse_args(PLAN_REQUIRED + ["--compare", "burn_probability", "domirank"])
    assert args.compare == ["burn_probability", "domirank"]
    args = eval_parser().parse_args(["--methods", "none", "burn_probability", "--placement-ignitions", "64"])
    assert (args.methods, args.placement_ignitions) == (["none", "burn_probability"], 64)
    assert eval_parser().parse_args([]).placement_ignitions == 500
    assert plan_parser().parse_args(PLAN_REQUIRED).placement_ignitions == 20_000  # whole rasters need more


def test_valid_values_parse(capsys):
    args = eval_parser().parse_args(["--budget", "1", "--count", "3", "--seed", "0", "--fuel", "f13"])
    assert (args.budget, args.count, args.seed, args.fuel) == (1.0, 3, 0, "F13")
    args = plan_parser().parse_args(PLAN_REQUIRED + ["--budget", "0.001", "--fuel", "F13"])
    assert (args.budget, args.fuel) == (0.001, "F13")


@pytest.mark.parametrize("flag,value", [("--size", "0"), ("--size", "-5"), ("--size", "2.5"), ("--stride", "0"),
                                        ("--max-nodata-fraction", "1.5"), ("--max-nodata-fraction", "-0.1"),
                                        ("--max-nodata-fraction", "nan"), ("--cell-size-m", "0"),
                                        ("--cell-size-m", "-30"), ("--cell-size-m", "nan"), ("--fuel", "F99")])
def test_tiles_flags_are_checked_at_parse_time(capsys, flag, value):
    refused(capsys, tiles_main, TILES_REQUIRED + [flag, value], flag)


def test_tiles_fuel_is_the_shared_case_insensitive_option(capsys, tmp_path):
    # parsed (not refused): the command goes on and fails on the missing folder, with status 2
    assert tiles_main([str(tmp_path / "nowhere"), str(tmp_path / "out"), "--fuel", "f13"]) == 2
    assert "does not exist" in capsys.readouterr().err


NUMERIC = (_cli.fraction, _cli.unit_interval, _cli.positive_int, _cli.non_negative_int, _cli.seed,
           _cli.positive_float)
UNIT_WORDS = ("cells", "fraction", "fires", "landscapes", "integer", " m ", "m (", "cpu", "F40", "folder", "seed",
              "PNG")


@pytest.mark.parametrize("name,parser", [("qagent-eval", eval_parser()), ("qagent-plan", plan_parser()),
                                         ("qagent-tiles", tiles_parser())])
def test_every_option_has_help_and_numbers_say_their_unit(name, parser):
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings}: no help"
        assert action.type not in (int, float), f"{name} {action.option_strings}: unchecked {action.type.__name__}"
        if action.type in NUMERIC:
            assert any(w in action.help for w in UNIT_WORDS), (name, action.option_strings, action.help)


# ------------------------------------------------------------------------- library entry points
@pytest.mark.parametrize("fraction", [2.0, 1.0001, 0.0, -0.1, float("nan"), float("inf"), True, "0.05", None])
def test_budget_cells_refuses_a_fraction_outside_0_1(fraction):
    with pytest.raises(InputError, match="budget_fraction"):
        budget_cells(1000, fraction, 5)


def test_budget_cells_refuses_k_below_one_and_keeps_valid_budgets():
    for k in (0, -1, 2.5):
        with pytest.raises(InputError, match="cells_per_step"):
            budget_cells(1000, 0.05, k)
    assert budget_cells(1000, 1.0, 5) == 1000 and budget_cells(1000, np.float64(0.05), np.int64(5)) == 50


@pytest.mark.parametrize("kwargs,field", [({"budget_fraction": 2.0}, "budget_fraction"),
                                          ({"budget_fraction": 0.0}, "budget_fraction"),
                                          ({"budget_fraction": float("nan")}, "budget_fraction"),
                                          ({"ignitions": 0}, "ignitions"), ({"ignitions": 2.5}, "ignitions"),
                                          ({"seed": -1}, "seed"), ({"max_landscapes": 0}, "max_landscapes"),
                                          ({"keep_breaks": -1}, "keep_breaks")])
def test_evaluate_refuses_bad_settings_before_simulating(kwargs, field):
    source = SyntheticSource((8, 8), "eval", count=1)
    settings = {"agent": None, "budget_fraction": 0.05, "ignitions": 4, "seed": 0, **kwargs}
    with pytest.raises(InputError, match=field):
        evaluate(source, ["none", "random"], **settings)


def test_make_source_takes_fuel_and_refuses_it_where_it_cannot_apply(tmp_path):
    assert len(make_source("synthetic", 8, "eval", count=2, fuel="F40")) == 2
    with pytest.raises(InputError, match="F13 only applies to a folder of LANDFIRE GeoTIFFs; synthetic"):
        make_source("synthetic", 8, "eval", count=2, fuel="F13")
    with pytest.raises(InputError, match="fuel: expected 'F40'"):
        make_source("synthetic", 8, "eval", fuel="F99")
