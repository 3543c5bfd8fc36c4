"""``qagent-bench`` measures QAgent alone; the pyretechnics comparison comes in as a peer
(benchmarks/oracle.py, passed by benchmarks/bench_*.py), never imported by the package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qagent.bench import main

TINY_SPREAD = ["spread", "--sizes", "16", "--sims", "8", "--repeat-seconds", "0.01", "--duration-min", "30"]


def test_the_installed_command_runs_without_a_peer_and_says_so(tmp_path):
    out = tmp_path / "spread.json"
    code = ("import sys; from qagent.bench import main; rc = main(sys.argv[1:]); "
            "assert 'pyretechnics' not in sys.modules and 'oracle' not in sys.modules; sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code, *TINY_SPREAD, "--json", str(out)], capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "pyretechnics: not compared" in run.stdout and "benchmarks/bench_spread.py" in run.stdout
    result = json.loads(out.read_text())
    assert result["command"].startswith("qagent-bench spread")
    assert {r["engine"] for r in result["rows"]} == {"qagent"}


class FakePeer:
    """The peer's interface (benchmarks/oracle.py): spread_level_set and behavior_head_fire."""

    def __init__(self):
        self.calls = []

    def spread_level_set(self, grids, cell_size_m, ignition_rc, duration_min, *, max_cells_per_timestep):
        self.calls.append((ignition_rc, duration_min, max_cells_per_timestep))
        shape = np.shape(grids["fuel_model"])
        return {"wall_time_s": 0.5, "burned": np.ones(shape, dtype=bool)}


def test_a_peer_passed_in_is_run_on_the_same_fires(tmp_path, capsys):
    peer = FakePeer()
    out = tmp_path / "spread.json"
    assert main([*TINY_SPREAD, "--pyretechnics-sims", "2", "--json", str(out)], peer=peer,
                command="python benchmarks/bench_spread.py") == 0
    assert len(peer.calls) == 2 and all(c[1] == 30.0 and c[2] == 0.4 for c in peer.calls)
    result = json.loads(out.read_text())
    assert result["command"] == "python benchmarks/bench_spread.py"
    ref = [r for r in result["rows"] if r["engine"] == "pyretechnics"]
    assert len(ref) == 1 and ref[0]["sims_per_s"] == 2.0 and ref[0]["mean_burned_fraction"] == 1.0
    assert all("vs_pyretechnics_per_core" in r for r in result["rows"] if r["engine"] == "qagent")
    assert "not compared" not in capsys.readouterr().out


def test_a_missing_landfire_folder_is_refused(tmp_path, capsys):
    assert main(["behavior", "--landfire", str(tmp_path / "nowhere")]) == 2
    assert "--landfire" in capsys.readouterr().err


def test_the_benchmark_scripts_pass_the_oracle_as_peer():
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    for what in ("behavior", "spread", "scale"):
        text = (root / f"bench_{what}.py").read_text()
        assert "import oracle" in text and f'main(["{what}", *sys.argv[1:]], peer=oracle' in text


def test_scale_on_a_landfire_folder_writes_the_burn_probability_geotiff(tmp_path):
    """The scale mode's LANDFIRE parts (tiled series, the window-against-raster experiment,
    the throughput run that writes burn probability) on a small folder."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin
    from test_evaluation import write_landfire_folder

    from qagent.landscape import synthetic

    write_landfire_folder(tmp_path / "lf", synthetic(70, 66, seed=3), from_origin(1_700_000.0, 2_600_000.0, 30, 30),
                          "EPSG:5070")
    out = tmp_path / "scale.json"
    assert main(["scale", "--sides", "64", "--fires", "3", "--repeat-seconds", "0.01", "--large-fires", "0",
                 "--eager-max-side", "64", "--eager-fires", "2", "--throughput-fires", "40", "--landfire",
                 str(tmp_path / "lf"), "--out-dir", str(tmp_path / "bench"), "--plot", str(tmp_path / "scale.png"),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["throughput"]["fires"] == 40 and result["worcester"] is not None
    with rasterio.open(result["throughput"]["geotiff"]) as src:
        assert src.shape == (70, 66)
        p = src.read(1)
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all() and p.max() > 0
    assert (tmp_path / "scale.png").stat().st_size > 0
