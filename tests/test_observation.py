"""observation_channels: channel list, scaling, fuel breaks, directional intensities."""

import math

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.fire import Weather, behavior
from qagent.env.observation import NUM_CHANNELS, OBSERVATION_CHANNELS, observation_channels
from qagent.landscape import synthetic
from qagent.env.observation import static_channels, with_fuel_breaks

WEATHER = Weather(25.0, 270.0, 0.05, 0.06, 0.07, 0.5, 0.8, 1.0)  # wind from the west


def test_channels_scaled_and_named():
    ls = synthetic(30, 40, seed=4)
    obs = observation_channels(ls, WEATHER)
    assert obs.shape == (NUM_CHANNELS, 30, 40) == (len(OBSERVATION_CHANNELS), 30, 40)
    assert obs.dtype == torch.float32 and float(obs.min()) >= 0.0 and float(obs.max()) <= 1.0
    assert torch.isfinite(obs).all()
    idx = {n: i for i, n in enumerate(OBSERVATION_CHANNELS)}
    torch.testing.assert_close(obs[idx["canopy_cover"]], ls.canopy_cover)
    torch.testing.assert_close(obs[idx["burnable"]], ls.burnable_mask().float())
    assert float(obs[idx["fuel_break"]].max()) == 0.0


def test_directional_intensity_follows_the_wind_and_our_physics():
    ls = synthetic(30, 30, seed=11)
    obs = observation_channels(ls, WEATHER)
    idx = {n: i for i, n in enumerate(OBSERVATION_CHANNELS)}
    east = behavior(ls, WEATHER, azimuth=90.0).fireline_intensity
    torch.testing.assert_close(obs[idx["intensity_east"]], torch.log1p(east) / math.log1p(1e5))
    burnable = ls.burnable_mask()
    # fire heading downwind (east) is more intense than fire backing into the wind (west)
    assert float(obs[idx["intensity_east"]][burnable].mean()) > float(obs[idx["intensity_west"]][burnable].mean())


def test_fuel_breaks_update_two_channels_only():
    ls = synthetic(20, 20, seed=2)
    breaks = np.zeros((20, 20), dtype=bool)
    breaks[5, :] = True
    obs = observation_channels(ls, WEATHER, breaks)
    base = observation_channels(ls, WEATHER)
    idx = {n: i for i, n in enumerate(OBSERVATION_CHANNELS)}
    assert torch.equal(obs[idx["fuel_break"]], torch.from_numpy(breaks).float())
    assert float(obs[idx["burnable"]][5].max()) == 0.0
    changed = (obs != base).flatten(1).any(dim=1)
    assert set(torch.nonzero(changed).flatten().tolist()) <= {idx["burnable"], idx["fuel_break"]}
    batch = with_fuel_breaks(static_channels(ls, WEATHER).expand(3, -1, -1, -1), torch.from_numpy(breaks).expand(3, -1, -1))
    assert torch.equal(batch[1], obs)


def test_bad_breaks():
    ls = synthetic(10, 10, seed=0)
    with pytest.raises(InputError, match=r"fuel_breaks: shape \(9, 10\) does not match"):
        observation_channels(ls, WEATHER, np.zeros((9, 10), dtype=bool))


def test_reference_burn_probability_looks_alike_on_a_tile_and_a_whole_landscape():
    """The channel's fires scale with the burnable cells (one per 16, at least 64), so a large
    landscape is not a blank channel with a few hot spots (a fixed 64 fires on the whole
    Worcester raster reached 0.5 % of its burnable cells, against 47 % on its tiles)."""
    from qagent.env.observation import reference_fire_count, static_channels
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.landscape import Landscape
    from qagent.landscape.synthetic import synthetic

    assert reference_fire_count(0) == 64 and reference_fire_count(1024) == 64
    assert reference_fire_count(16 * 1000 + 1) == 1001
    weather = DEFAULT_SCENARIO.reference_weather()
    big = synthetic(192, 192, seed=4)
    channel = 11
    whole = static_channels(big, weather)[channel][big.burnable_mask()]
    covered_whole = float((whole > 0).float().mean())
    tile_cover = []
    for r in range(0, 192, 64):
        for c in range(0, 192, 64):
            t = Landscape(**{n: getattr(big, n)[r:r + 32, c:c + 32].clone() for n in (
                "slope", "aspect", "elevation", "fuel_model", "canopy_cover", "canopy_height",
                "canopy_base_height", "canopy_bulk_density")}, cell_size_m=big.cell_size_m)
            b = t.burnable_mask()
            if b.sum() > 100:
                tile_cover.append(float((static_channels(t, weather)[channel][b] > 0).float().mean()))
    covered_tiles = sum(tile_cover) / len(tile_cover)
    assert covered_whole > 0.5 * covered_tiles, (covered_whole, covered_tiles)
    assert float(whole.mean()) > 0.02  # not dimmed by one hot spot (95th-percentile scale)


def test_downstream_protection_channel_is_the_reference_fires_dpv_on_a_log_scale():
    """Channel downstream_protection is log(1 + D) over its 95th percentile on the burnable
    cells, clipped to 1, where D is the DPV per fire of the burn-probability channel's own fires
    (qagent.fire.downstream_protection_value with the same count, seed, weather and 4 h), in
    mean burnable-cell values; zero where fire cannot burn; with all-ones values the same as
    with none; breaks do not change it (a static channel)."""
    from qagent.env.observation import reference_fire_count, static_channels
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.fire.spread import downstream_protection_value

    weather = DEFAULT_SCENARIO.reference_weather()
    ls = synthetic(40, 36, seed=3)
    burnable = ls.burnable_mask()
    fires = reference_fire_count(int(burnable.sum()))
    channel = OBSERVATION_CHANNELS.index("downstream_protection")
    for values in (None, np.random.default_rng(1).uniform(0, 4, ls.shape).astype(np.float32)):
        d = downstream_protection_value(ls, fires, weather, 240.0, 0, values=values)
        if values is not None:
            d = d / float(torch.from_numpy(values)[burnable].mean())
        logd = torch.log1p(d)
        reached = logd[burnable]
        q95 = reached.kthvalue(-(-95 * reached.numel() // 100)).values
        expected = (logd / q95).clamp(0.0, 1.0)
        got = static_channels(ls, weather, values=values)[channel]
        torch.testing.assert_close(got, expected)
        assert not bool(got[~burnable].any()) and float(got.max()) == pytest.approx(1.0)
    # placement's reference fires: at least PLACEMENT_MIN_REFERENCE_FIRES of them, the same definition
    from qagent.env.observation import PLACEMENT_MIN_REFERENCE_FIRES

    many = reference_fire_count(int(burnable.sum()), PLACEMENT_MIN_REFERENCE_FIRES)
    assert many == PLACEMENT_MIN_REFERENCE_FIRES > fires
    logd = torch.log1p(downstream_protection_value(ls, many, weather, 240.0, 0))
    q95 = logd[burnable].kthvalue(-(-95 * int(burnable.sum()) // 100)).values
    placed = static_channels(ls, weather, min_reference_fires=PLACEMENT_MIN_REFERENCE_FIRES)[channel]
    torch.testing.assert_close(placed, (logd / q95).clamp(0.0, 1.0))
    ones = static_channels(ls, weather, values=np.ones(ls.shape, np.float32))[channel]
    assert torch.equal(ones, static_channels(ls, weather)[channel])
    breaks = torch.zeros(ls.shape, dtype=torch.bool)
    breaks[10:20, 10] = True
    assert torch.equal(observation_channels(ls, weather, breaks)[channel], static_channels(ls, weather)[channel])


def test_refreshed_reference_channels_are_the_same_fires_with_the_breaks_closed():
    from qagent.env.observation import refresh_reference_channels

    ls = synthetic(32, 32, seed=3)
    idx = {n: i for i, n in enumerate(OBSERVATION_CHANNELS)}
    reference = (idx["burn_probability"], idx["downstream_protection"])
    static = static_channels(ls, WEATHER)
    # no breaks: the same reference fires give the same channels, to the bit
    assert torch.equal(refresh_reference_channels(static, ls, WEATHER, torch.zeros(32, 32, dtype=torch.bool)), static)
    # a firebreak column: no reference fire burns it or passes value through it; only the two
    # reference-fire channels change, and the static tensor itself is left as it was
    breaks = torch.zeros(32, 32, dtype=torch.bool)
    breaks[:, 16] = True
    before = static.clone()
    refreshed = refresh_reference_channels(static, ls, WEATHER, breaks)
    assert torch.equal(static, before)
    for channel in reference:
        assert float(refreshed[channel][breaks].max()) == 0.0
        assert not torch.equal(refreshed[channel], static[channel])
    others = [c for c in range(NUM_CHANNELS) if c not in reference]
    assert torch.equal(refreshed[others], static[others])
    with pytest.raises(InputError, match=r"fuel_breaks: shape \(31, 32\) does not match"):
        refresh_reference_channels(static, ls, WEATHER, torch.zeros(31, 32, dtype=torch.bool))
