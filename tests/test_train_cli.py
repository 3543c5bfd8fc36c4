"""The qagent-train command line: an --out holding a run is refused unless --resume continues
it or --overwrite replaces it, every numeric flag is checked at parse time, every option is
explained, --fuel reaches the landscape source, and the run ends with a readable summary."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from qagent._validation import InputError
from qagent.train.checkpoint import load_checkpoint
from qagent.train.cli import build_parser, format_duration, format_summary, main
from qagent.train.config import build_config
from qagent.train.dqn import check_output

# the tiny configuration of tests/test_train.py, as a --config file
TINY_TOML = """\
preset = "demo"
grid_size = 12
num_envs = 2
ignitions = 4
cells_per_step = 2
micro_batch = 8
buffer_capacity = 500
learning_starts = 16
eval_every = 48
eval_landscapes = 2
checkpoint_every = 48
log_every = 24
device = "cpu"
steps = 48
"""


@pytest.fixture
def tiny_toml(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return str(path)


def fake_run(out):
    """A folder holding an earlier run's files (their contents do not matter here)."""
    out.mkdir()
    files = {"best.pt": b"old best", "final.pt": b"old final", "last.pt": b"old last",
             "training_log.csv": b"env_steps,wall_s\n900,12.5\n1000,13.0\n", "training_curve.png": b"old png"}
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events.out.tfevents.old").write_bytes(b"old events")
    return files


# ----------------------------------------------------------------------------- --out, --overwrite
def test_an_out_folder_holding_a_run_is_refused_and_overwrite_replaces_it(tmp_path, tiny_toml, capsys):
    out = tmp_path / "run"
    files = fake_run(out)
    assert main(["--config", tiny_toml, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} already holds a run (best.pt, final.pt, last.pt, training_log.csv)" in err
    assert f"--resume {out / 'last.pt'}" in err and "--overwrite" in err
    for name, data in files.items():  # nothing touched
        assert (out / name).read_bytes() == data, name
    assert (out / "tensorboard" / "events.out.tfevents.old").exists()

    # --overwrite: the old run's files go first, so nothing stale mixes in; with a progress bar
    assert main(["--config", tiny_toml, "--out", str(out), "--overwrite"]) == 0
    captured = capsys.readouterr()
    assert not (out / "tensorboard" / "events.out.tfevents.old").exists()
    assert any((out / "tensorboard").iterdir())
    rows = list(csv.DictReader(open(out / "training_log.csv")))
    assert [int(r["env_steps"]) for r in rows] == [24, 48]  # only the new run's rows
    assert load_checkpoint(out / "best.pt")["counters"]["env_steps"] <= 48
    assert load_checkpoint(out / "last.pt")["counters"]["env_steps"] == 48
    assert (out / "training_curve.png").read_bytes() != files["training_curve.png"]

    # the progress bar's return carries its unit
    assert "% of untreated loss per episode" in captured.err
    # the end: a few aligned lines, not a dict
    text = captured.out
    assert "{" not in text and "qagent-train: done" in text
    lines = text.strip().splitlines()[1:]
    heads = [line[:13] for line in lines]
    assert heads == ["steps        ", "wall time    ", "validation   ", "  agent      ", "  DomiRank   ",
                     "  random     ", "checkpoints  ", "curve        ", "log          "]
    assert lines[0].startswith("steps        48 environment steps")
    assert lines[2] == "validation   % of the untreated loss saved per episode, mean of 2 episodes:"
    for line in lines[3:6]:
        float(line[13:19])  # a number in the unit above
    assert str(out / "best.pt") in lines[6] and str(out / "last.pt") in lines[6]
    assert lines[7].endswith("training_curve.png")


@pytest.mark.parametrize("name", ["best.pt", "final.pt", "last.pt", "rank1.pt", "training_log.csv"])
def test_any_checkpoint_or_log_makes_a_run(tmp_path, name):
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(InputError, match=rf"already holds a run \({name}\)"):
        check_output(tmp_path, None, overwrite=False)


def test_folders_without_a_run_are_used_as_they_are(tmp_path):
    assert check_output(tmp_path / "new", None, overwrite=False) == []  # not there yet
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "model.pt.bak").write_text("mine")
    assert check_output(tmp_path, None, overwrite=False) == []
    assert check_output(tmp_path, None, overwrite=True) == []  # nothing of a run to delete


def test_overwrite_deletes_nothing_when_the_new_run_cannot_start(tmp_path, tiny_toml, capsys):
    out = tmp_path / "run"
    files = fake_run(out)
    assert main(["--config", tiny_toml, "--out", str(out), "--overwrite", "--quiet",
                 "--landscapes", str(tmp_path / "typo")]) == 2
    assert "typo is not a folder" in capsys.readouterr().err
    for name, data in files.items():
        assert (out / name).read_bytes() == data, name
    assert (out / "tensorboard" / "events.out.tfevents.old").exists()


def test_resume_in_its_own_folder_is_allowed_but_not_with_overwrite(tmp_path):
    fake_run(tmp_path / "run")
    check_output(tmp_path / "run", tmp_path / "run" / "last.pt", overwrite=False)
    with pytest.raises(InputError, match="--overwrite would delete the run that --resume .* continues"):
        check_output(tmp_path / "run", tmp_path / "run" / "last.pt", overwrite=True)
    # resuming another run's checkpoint into a folder holding a run would overwrite it
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="already holds a run"):
        check_output(tmp_path / "run", tmp_path / "other" / "last.pt", overwrite=False)
    assert (tmp_path / "run" / "best.pt").read_bytes() == b"old best"


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output(tmp_path / "file", None, overwrite=False)


# ----------------------------------------------------------------------------- flags
BAD_VALUES = {
    "--budget-fraction": ["0", "-0.1", "1.5", "nan", "inf", "x"],
    "--gamma": ["-0.1", "1.01", "nan", "inf"],
    "--learning-rate": ["0", "-1e-3", "nan", "inf", "-inf"],
    "--warm-start-episodes": ["-1", "1.5", "nan"],
    "--seed": ["-1", "1.5", "nan", "x"],
    **{flag: ["0", "-3", "1.5", "nan", "inf"]
       for flag in ("--cells-per-step", "--ignitions", "--steps", "--num-envs", "--micro-batch",
                    "--accumulation-steps", "--buffer-capacity", "--grid-size")},
}


@pytest.mark.parametrize("flag, value", [(f, v) for f, values in BAD_VALUES.items() for v in values])
def test_numeric_flags_are_refused_at_parse_time(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        main([flag, value, "--print-config"])
    assert info.value.code == 2
    assert f"argument {flag}: " in capsys.readouterr().err


def test_numeric_flags_accept_their_bounds():
    args = build_parser().parse_args(["--budget-fraction", "1", "--gamma", "0", "--learning-rate", "1e-6",
                                      "--warm-start-episodes", "0", "--seed", "0", "--steps", "1"])
    assert (args.budget_fraction, args.gamma, args.warm_start_episodes, args.seed, args.steps) == (1.0, 0.0, 0, 0, 1)
    assert build_parser().parse_args(["--gamma", "1"]).gamma == 1.0


def test_every_option_is_explained():
    parser = build_parser()
    for action in parser._actions:
        assert action.help and len(action.help) > 12, action.option_strings
    helps = {a.option_strings[-1]: a.help for a in parser._actions}
    for flag, unit in [("--grid-size", "cells"), ("--steps", "environment steps"), ("--budget-fraction", "burnable"),
                       ("--buffer-capacity", "transitions"), ("--micro-batch", "samples"), ("--ignitions", "fires"),
                       ("--gamma", "per step"), ("--warm-start-episodes", "episodes"), ("--fuel", "F13")]:
        assert unit in helps[flag], flag
    text = parser.format_help()
    assert "--overwrite" in text and "--resume OUT/last.pt" in text


# ----------------------------------------------------------------------------- --fuel
def test_fuel_flag_reaches_the_configuration(tmp_path, capsys):
    assert main(["--print-config"]) == 0
    assert '"fuel": "F40"' in capsys.readouterr().out
    assert main(["--print-config", "--fuel", "f13"]) == 0
    assert '"fuel": "F13"' in capsys.readouterr().out
    toml = tmp_path / "run.toml"
    toml.write_text('fuel = "F13"\n')
    assert main(["--print-config", "--config", str(toml)]) == 0  # no flag: the file's choice stands
    assert '"fuel": "F13"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--print-config", "--fuel", "F99"])
    with pytest.raises(InputError, match="fuel: expected F40 or F13, got 'F99'"):
        build_config(None, fuel="F99")


def test_train_reads_landscapes_with_the_configured_fuel(tmp_path, monkeypatch):
    import qagent.train.dqn as dqn

    seen = {}

    class Stop(Exception):
        pass

    def make_source(spec, grid, split, **kwargs):
        seen.update(spec=spec, split=split, **kwargs)
        raise Stop

    monkeypatch.setattr(dqn, "make_source", make_source)
    cfg = build_config(None, preset="demo", grid_size=12, device="cpu", out=str(tmp_path / "out"),
                       landscapes=str(tmp_path), fuel="F13")
    with pytest.raises(Stop):
        dqn.train(cfg, progress=False)
    assert seen == {"spec": str(tmp_path), "split": "train", "fuel": "F13", "ignition_density": None}
    # --ignition-density (TrainConfig.ignition_density) reaches the source, which crops it per tile
    cfg = build_config(None, preset="demo", grid_size=12, device="cpu", out=str(tmp_path / "out"),
                       landscapes=str(tmp_path), ignition_density="density.tif")
    with pytest.raises(Stop):
        dqn.train(cfg, progress=False)
    assert seen["ignition_density"] == "density.tif"


def test_make_source_reads_the_chosen_fuel_product_of_a_landfire_folder(tmp_path):
    rasterio = pytest.importorskip("rasterio", reason="reading GeoTIFFs needs rasterio")
    from affine import Affine

    from qagent.env.sources import make_source

    shape = (12, 30)
    layers = {"LC20_Elev_220.tif": np.full(shape, 300), "LC20_SlpP_220.tif": np.full(shape, 10),
              "LC20_Asp_220.tif": np.full(shape, 180), "LC22_F40_230.tif": np.full(shape, 102),
              "LC22_F13_230.tif": np.full(shape, 1), "LC22_CC_230.tif": np.zeros(shape),
              "LC22_CH_230.tif": np.zeros(shape), "LC22_CBH_230.tif": np.zeros(shape),
              "LC22_CBD_230.tif": np.zeros(shape)}
    for name, data in layers.items():
        with rasterio.open(tmp_path / name, "w", driver="GTiff", height=shape[0], width=shape[1], count=1,
                           dtype="int16", crs="EPSG:5070", nodata=32767,
                           transform=Affine(30.0, 0.0, 1_833_825.0, 0.0, -30.0, 2_617_605.0)) as dst:
            dst.write(data.astype(np.int16), 1)
    for fuel, code in (("F40", 102), ("F13", 1)):
        source = make_source(str(tmp_path), 12, "train", fuel=fuel)
        assert len(source) > 0
        assert set(np.unique(source.landscape(0).fuel_model.numpy())) == {code}, fuel


# ----------------------------------------------------------------------------- summary
def test_summary_of_a_run_without_validation_shows_dashes():
    summary = {"env_steps": 1000, "updates": 10, "episodes": 3, "wall_s": 3725.0, "session_wall_s": 65.0,
               "reward": "absolute", "validation_episodes": 32, "final_validation_return": None,
               "best_validation_return": -math.inf, "domirank_return": 0.5, "random_return": 0.25,
               "best_checkpoint": "o/best.pt", "final_checkpoint": "o/final.pt", "last_checkpoint": "o/last.pt",
               "plot": None, "log": "o/training_log.csv"}
    lines = format_summary(summary).splitlines()
    assert lines[1] == "wall time    1 h 02 min in all, 1 min 05 s in this session"
    assert lines[2] == "validation   % of the landscape's value saved per episode, mean of 32 episodes:"
    assert lines[3] == "  agent           -  greedy, at the end (best -: best.pt)"
    assert lines[4] == "  DomiRank     0.50" and lines[5] == "  random       0.25"
    assert lines[7] == "curve        -"
    assert [format_duration(s) for s in (0, 42.4, 61, 3600)] == ["0 s", "42 s", "1 min 01 s", "1 h 00 min"]


def test_resume_continues_with_the_runs_own_settings_and_refuses_other_landscapes(tmp_path, tiny_toml, capsys):
    """--resume takes the checkpoint's settings (a run on synthetic+DIR continues on both, with
    its grid), flags given override them (--steps), and a flag that changes the landscapes is
    refused naming the setting, not left to fail on a landscape id the new source lacks."""
    import json as json_

    from test_evaluation import write_landfire_folder
    from qagent.landscape.synthetic import synthetic
    from rasterio.transform import from_origin

    folder = tmp_path / "lf"
    write_landfire_folder(folder, synthetic(40, 40, seed=5), from_origin(1_700_000.0, 2_600_000.0, 30, 30),
                          "EPSG:5070")
    out = tmp_path / "run"
    spec = f"synthetic+{folder}"
    assert main(["--config", tiny_toml, "--landscapes", spec, "--grid-size", "12", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--resume", str(out / "last.pt"), "--out", str(out), "--steps", "96", "--print-config"]) == 0
    cfg = json_.loads(capsys.readouterr().out)
    assert (cfg["landscapes"], cfg["grid_size"], cfg["ignitions"], cfg["steps"]) == (spec, 12, 4, 96)
    assert main(["--resume", str(out / "last.pt"), "--out", str(out), "--steps", "96", "--quiet"]) == 0
    with open(out / "training_log.csv") as f:
        assert int(f.read().splitlines()[-1].split(",")[0]) == 96
    capsys.readouterr()
    assert main(["--resume", str(out / "last.pt"), "--out", str(out), "--steps", "144", "--landscapes", "synthetic",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"the run trained on landscapes = '{spec}'" in err and "landscapes = 'synthetic'" in err


def test_init_weights_starts_a_new_run_from_a_checkpoints_network(tmp_path, tiny_toml, capsys):
    """--init-weights: a new run's network and target start as a policy checkpoint's (what the
    default agent ships: fine-tuning); a run with no update before its end ends with them. A
    model that does not fit and a missing file are refused, naming what is wrong."""
    import torch

    from qagent.train.checkpoint import export_policy

    first = tmp_path / "first"
    assert main(["--config", tiny_toml, "--out", str(first), "--quiet"]) == 0
    policy = export_policy(first / "final.pt", tmp_path / "policy.pt")
    weights = load_checkpoint(policy)["model"]
    second = tmp_path / "second"
    # 8 steps, below learning_starts (16): no update, so the run ends with the weights it started from
    assert main(["--config", tiny_toml, "--out", str(second), "--init-weights", str(policy), "--steps", "8",
                 "--seed", "5", "--quiet"]) == 0
    state = load_checkpoint(second / "final.pt")
    assert state["config"]["init_weights"] == str(policy)
    for name, tensor in weights.items():
        assert torch.equal(state["model"][name], tensor) and torch.equal(state["target"][name], tensor), name
    fresh = tmp_path / "fresh"
    assert main(["--config", tiny_toml, "--out", str(fresh), "--steps", "8", "--seed", "5", "--quiet"]) == 0
    assert not all(torch.equal(load_checkpoint(fresh / "final.pt")["model"][n], t) for n, t in weights.items())
    capsys.readouterr()
    assert main(["--config", tiny_toml, "--out", str(tmp_path / "other"), "--init-weights", str(policy),
                 "--model", "dueling", "--quiet"]) == 2
    assert "its network is qnet" in capsys.readouterr().err
    assert main(["--config", tiny_toml, "--out", str(tmp_path / "missing"), "--init-weights",
                 str(tmp_path / "nope.pt"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err
