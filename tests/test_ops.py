"""qagent/_ops.py, the one binding of the compiled ops: its constants are the extension's (not
numbers written again in Python), its typed wrappers are the only callers of
``torch.ops.qagent.*`` in the package, and each op passes ``torch.library.opcheck`` through
them (schema, fake kernel, dispatch)."""

import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import qagent
from qagent import _C, _ops
from qagent.fire.weather import WEATHER_FIELDS, Weather
from qagent.landscape.synthetic import synthetic

PACKAGE = Path(qagent.__file__).resolve().parent
# the modules (qagent.fire's names behavior and simulate are functions)
behavior_module = importlib.import_module("qagent.fire.behavior")
spread_module = importlib.import_module("qagent.fire.spread")


def test_constants_are_the_extensions():
    c = _C.constants()
    assert (_ops.NUM_TERRAIN_CHANNELS, _ops.NUM_WEATHER_CHANNELS, _ops.NUM_SPREAD_PARAMS) == (
        c["num_terrain_channels"], c["num_weather_channels"], c["num_spread_params"])
    assert _ops.STENCIL_SIZES == tuple(c["stencil_sizes"])
    assert _ops.ALGORITHMS == c["algorithms"] and _ops.LENGTH_TO_BREADTH_MODELS == c["length_to_breadth_models"]
    assert _ops.FIRE_TYPES == c["fire_types"]
    # the fire layer's tables are these, not copies
    assert spread_module.ALGORITHMS is _ops.ALGORITHMS
    assert behavior_module.LENGTH_TO_BREADTH_MODELS is _ops.LENGTH_TO_BREADTH_MODELS
    assert behavior_module.FIRE_TYPE_NAMES == {code: name for name, code in c["fire_types"].items()}
    assert spread_module.DEFAULT_STENCIL in _ops.STENCIL_SIZES
    # the tensors Python builds have the extension's channel counts
    ls = synthetic(5, 4, 0)
    assert ls.terrain_tensor().shape == (_ops.NUM_TERRAIN_CHANNELS, 20)
    assert len(WEATHER_FIELDS) == _ops.NUM_WEATHER_CHANNELS
    assert Weather(10.0, 0.0, 0.06, 0.07, 0.08, 0.6, 0.9, 1.0).as_op_tensor((5, 4), "cpu").shape[0] == (
        _ops.NUM_WEATHER_CHANNELS)
    # the names cover what the package offers
    assert set(_ops.ALGORITHMS) == {"auto", "dijkstra", "relax", "dijkstra_uncached"}
    assert set(_ops.LENGTH_TO_BREADTH_MODELS) == {"behave", "rothermel"}


def test_codes_mean_to_the_op_what_their_names_say():
    ls = synthetic(12, 11, 3)
    w = Weather(25.0, 200.0, 0.05, 0.06, 0.07, 0.5, 0.8, 1.0)
    stack = spread_module.LandscapeStack([ls], "cpu")
    rows = w.as_op_tensor(ls.shape, "cpu").unsqueeze(0)
    index = torch.zeros(1, dtype=torch.int64)
    behave = stack.spread_params(rows, index, lw_ratio_model="behave")
    rothermel = stack.spread_params(rows, index, lw_ratio_model="rothermel")
    assert not torch.equal(behave, rothermel)
    assert torch.equal(behave, _ops.spread_params(stack.terrain, stack.fuel, rows, index,
                                                  _ops.LENGTH_TO_BREADTH_MODELS["behave"], True, 1e10)
                       .reshape(behave.shape))
    # the op's own messages name the codes the constants give
    bad_lw = max(_ops.LENGTH_TO_BREADTH_MODELS.values()) + 1
    expected = " or ".join(f"{code} \\({name}\\)" for name, code in _ops.LENGTH_TO_BREADTH_MODELS.items())
    with pytest.raises(RuntimeError, match=f"length_to_breadth_model must be {expected}, got {bad_lw}"):
        _ops.spread_params(stack.terrain, stack.fuel, rows, index, bad_lw, True, 1e10)
    args = _spread_args()
    bad_algorithm = max(_ops.ALGORITHMS.values()) + 1
    with pytest.raises(RuntimeError, match=f"algorithm must be .*got {bad_algorithm}"):
        _ops.spread(*args[:11], bad_algorithm, *args[12:])
    results = {name: _ops.spread(*args[:11], code, *args[12:]) for name, code in _ops.ALGORITHMS.items()}
    for name, out in results.items():  # Dijkstra and the relaxation burn the same cells
        assert torch.equal(out[1], results["dijkstra"][1]), name


def test_only_the_binding_module_calls_the_ops():
    callers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if re.search(r"torch\.ops\.qagent\.\w+(\.default)?\s*\(", p.read_text()))
    assert callers == ["_ops.py"]


def _behavior_args():
    g = torch.Generator().manual_seed(0)
    n = 29
    terrain = torch.rand(2, _ops.NUM_TERRAIN_CHANNELS, n, generator=g) * torch.tensor(
        [0.5, 360.0, 1.0, 30.0, 5.0, 0.3]).reshape(1, -1, 1)
    fuel = torch.tensor([101, 102, 165, 145, 181, 4, 98], dtype=torch.int32).repeat(2, 5)[:, :n].contiguous()
    weather = torch.tensor([20.0, 45.0, 0.06, 0.07, 0.08, 0.6, 0.9, 1.0]).reshape(1, -1, 1).repeat(3, 1, 1)
    return terrain, fuel, weather, torch.tensor([0, 1, 1])


def _spread_args():
    rng = np.random.default_rng(2)
    h, w = 9, 8
    terrain, fuel, weather, _ = _behavior_args()
    terrain, fuel = terrain[:1, :, :1].expand(1, -1, h * w).contiguous(), fuel[:1, :1].expand(1, h * w).contiguous()
    params = _ops.spread_params(terrain, fuel, weather[:1], torch.zeros(1, dtype=torch.int64), 0, True, 1e10)
    params = params.reshape(1, _ops.NUM_SPREAD_PARAMS, h, w)
    blocked = torch.from_numpy((rng.random((2, h, w)) < 0.15).astype(np.uint8))
    return (params, blocked, torch.tensor([3, 30, 50]), torch.tensor([0, 1, 2]), torch.tensor([-1, 0, 1]),
            torch.tensor([0, 1, 1]), torch.tensor([60.0, 120.0, 500.0]), 2, 30.0, max(_ops.STENCIL_SIZES), True,
            _ops.ALGORITHMS["auto"], terrain, fuel, weather[:2] * torch.tensor([1.0, 0.9]).reshape(2, 1, 1),
            torch.zeros(2, dtype=torch.int64))


@pytest.mark.parametrize("azimuth, model", [(float("nan"), "behave"), (30.0, "rothermel")])
def test_opcheck_fire_behavior(azimuth, model):
    args = (*_behavior_args(), azimuth, _ops.LENGTH_TO_BREADTH_MODELS[model], True, 5.0)
    torch.library.opcheck(torch.ops.qagent.fire_behavior.default, args)
    for a, b in zip(_ops.fire_behavior(*args), torch.ops.qagent.fire_behavior(*args)):
        assert torch.equal(a, b)


def test_opcheck_spread_params():
    args = (*_behavior_args(), _ops.LENGTH_TO_BREADTH_MODELS["rothermel"], False, 3.0)
    torch.library.opcheck(torch.ops.qagent.spread_params.default, args)
    assert torch.equal(_ops.spread_params(*args), torch.ops.qagent.spread_params(*args))


@pytest.mark.parametrize("algorithm", sorted(_ops.ALGORITHMS))
def test_opcheck_spread(algorithm):
    args = list(_spread_args())
    args[11] = _ops.ALGORITHMS[algorithm]
    values = torch.rand(2, *args[0].shape[2:])
    kwargs = dict(relax_window=3, values=values, value_index=torch.tensor([0, -1, 1]), return_dpv=True)
    torch.library.opcheck(torch.ops.qagent.spread.default, tuple(args), kwargs)
    eager = (*args[:3], torch.zeros(3, dtype=torch.int64), *args[4:12])  # the precomputed grid only
    torch.library.opcheck(torch.ops.qagent.spread.default, eager)
    for a, b in zip(_ops.spread(*args, **kwargs), torch.ops.qagent.spread(*args, **kwargs)):
        assert torch.equal(a, b)
