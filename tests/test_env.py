"""The fuel-break environment: gymnasium compliance (the single environment's checker; the
vector API against gymnasium's own SyncVectorEnv), budgets and masks, rewards with common
random numbers, one spread call per batched step, landscape sources and their splits."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from qagent._validation import InputError
from qagent.env import BatchedFuelBreakEnv, EnvConfig, FuelBreakEnv, SyntheticSource, TileSource, budget_cells
from qagent.env.sources import EVAL_SEED_START, TRAIN_SEEDS
from qagent.fire import simulate
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.env.observation import NUM_CHANNELS

SMALL = EnvConfig(budget_fraction=0.05, cells_per_step=3, ignitions=12, reward="absolute")


def random_actions(env: BatchedFuelBreakEnv, rng: np.random.Generator) -> np.ndarray:
    mask = env.action_mask().cpu().numpy()  # what info["action_mask"] holds
    return np.stack([rng.choice(np.flatnonzero(m), env.config.cells_per_step, replace=False) for m in mask])


def test_gymnasium_env_checker():
    env = FuelBreakEnv(SyntheticSource((16, 16)), SMALL)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert info["budget_cells"] % SMALL.cells_per_step == 0


def test_budget_rounding():
    assert budget_cells(1000, 0.05, 5) == 50
    assert budget_cells(1000, 0.05, 7) == 49
    assert budget_cells(10, 0.05, 3) == 3          # at least one step
    assert budget_cells(4, 1.0, 3) == 3            # never more than the burnable cells allow


def test_episode_rewards_masks_and_common_random_numbers():
    env = BatchedFuelBreakEnv(SyntheticSource((20, 20)), 3, SMALL, seed=5, autoreset=False)
    env.reset()
    rng = np.random.default_rng(0)
    total = np.zeros(3)
    done = np.zeros(3, dtype=bool)
    steps = 0
    while not done.all():
        before_mask = env.action_mask().clone()
        actions = random_actions(env, rng)
        sims_before = env.simulations
        _, rewards, terminated, truncated, info = env.step(actions)
        assert not truncated.any()
        steps += 1
        active = (~done).sum()
        assert env.simulations - sims_before == active * SMALL.ignitions  # one batched spread call
        assert (rewards >= 0).all()  # breaks never add burned area
        total += np.where(done, 0.0, rewards)
        for i in range(3):
            if not done[i]:
                assert not env.action_mask()[i, actions[i]].any()  # broken cells leave the mask
                assert before_mask[i, actions[i]].all()
        done |= terminated
    np.testing.assert_allclose(total, env.baseline_fraction - env.burned_fraction, atol=1e-12)
    assert (env.placed == env.budget).all()
    # the rewards are exact drops of the episode's own fires: recompute the final state directly
    i = 1
    sl = slice(i * SMALL.ignitions, (i + 1) * SMALL.ignitions)
    ls = env.source.landscape(int(env.landscape_id[i]))
    episode_rng = np.random.default_rng(int(env.episode_seed[i]))
    episode_rng.integers(0, int(ls.burnable_mask().sum()), SMALL.ignitions)  # the episode drew its ignitions first
    weather, duration = DEFAULT_SCENARIO.sample(SMALL.ignitions, episode_rng)
    direct = simulate(ls, env._ignition[sl], weather, torch.from_numpy(duration), fuel_breaks=env.breaks[i])
    assert direct.burned_cells.double().mean().item() / ls.num_cells == pytest.approx(env.burned_fraction[i])


def test_relative_reward_is_the_absolute_one_over_the_untreated_burned_area():
    """reward="relative" divides each step's drop by the episode's untreated expected burned
    fraction: the same fires and actions give the absolute rewards scaled per environment, and
    an episode's return is its relative reduction of burned area (what qagent-eval reports)."""
    envs = {r: BatchedFuelBreakEnv(SyntheticSource((20, 20)), 3, EnvConfig(0.05, 3, 12, reward=r), seed=5,
                                   autoreset=False) for r in ("absolute", "relative")}
    for env in envs.values():
        env.reset()
    base = envs["absolute"].baseline_fraction.copy()
    np.testing.assert_array_equal(base, envs["relative"].baseline_fraction)  # the same episodes and fires
    assert (base > 0).all()
    rng = np.random.default_rng(0)
    totals = {r: np.zeros(3) for r in envs}
    done = np.zeros(3, dtype=bool)
    while not done.all():
        actions = random_actions(envs["absolute"], rng)
        steps = {r: env.step(actions) for r, env in envs.items()}
        np.testing.assert_allclose(steps["relative"][1], steps["absolute"][1] / base, rtol=1e-12)
        for r in envs:
            totals[r] += np.where(done, 0.0, steps[r][1])
        done |= steps["absolute"][2] | steps["absolute"][3]
    rel = envs["relative"]
    np.testing.assert_allclose(totals["relative"], (base - rel.burned_fraction) / base, rtol=1e-12)
    np.testing.assert_allclose(rel.episode_returns(), totals["relative"], rtol=1e-12)
    assert ((totals["relative"] >= 0) & (totals["relative"] <= 1)).all()
    assert totals["relative"].max() > 0
    with pytest.raises(InputError, match="reward: expected one of absolute, relative"):
        EnvConfig(reward="percent")


def test_invalid_cells_are_skipped_and_bad_actions_rejected():
    env = BatchedFuelBreakEnv(SyntheticSource((12, 12)), 1, SMALL, seed=1, autoreset=False)
    env.reset()
    mask = env.action_mask()[0]
    cell = int(torch.nonzero(mask)[0])
    _, _, _, _, info = env.step(np.array([[cell, cell, cell]]))  # duplicates: one cell placed
    assert info["placed_cells"][0] == 1 and env.placed[0] == SMALL.cells_per_step
    assert info["budget_used"][0] == SMALL.cells_per_step
    _, reward, _, _, info = env.step(np.array([[cell, cell, cell]]))  # already broken: nothing placed
    assert info["placed_cells"][0] == 0 and reward[0] == 0.0
    with pytest.raises(InputError, match=r"actions: expected \[N, 3\]"):
        env.step(np.array([[1, 2]]))
    with pytest.raises(InputError, match="actions: cell indices must lie in"):
        env.step(np.array([[0, 1, 144]]))


def test_autoreset_reports_final_episodes():
    env = BatchedFuelBreakEnv(SyntheticSource((12, 12)), 2, SMALL, seed=2)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    env.reset()
    rng = np.random.default_rng(1)
    finals = []
    for _ in range(40):
        _, _, terminated, _, info = env.step(random_actions(env, rng))
        if "final_info" in info:
            assert (info["_final_info"] == terminated).all() and (info["_final_obs"] == terminated).all()
            f = info["final_info"]
            finals += [{key: f[key][i] for key in ("episode_return", "baseline_burned_fraction", "burned_fraction")}
                       for i in np.flatnonzero(info["_final_info"])]
    assert finals
    for f in finals:
        assert f["episode_return"] == pytest.approx(f["baseline_burned_fraction"] - f["burned_fraction"])
        assert f["episode_return"] >= 0


def test_common_random_numbers_reduce_reward_noise():
    """The reward of one fixed placement, estimated with the episode's fires before and after
    (common random numbers) and with fresh fires after: CRN noise is far smaller."""
    src = SyntheticSource((24, 24))
    ls = src.landscape(7)
    rng = np.random.default_rng(0)
    breaks = torch.zeros(ls.shape, dtype=torch.bool)
    burnable = torch.nonzero(ls.burnable_mask().reshape(-1)).reshape(-1).numpy()
    breaks.view(-1)[torch.from_numpy(rng.choice(burnable, 30, replace=False))] = True
    s = 16

    def fires(seed):
        r = np.random.default_rng(seed)
        w, d = DEFAULT_SCENARIO.sample(s, r)
        ign = burnable[r.integers(0, len(burnable), s)]
        return ign, w, torch.from_numpy(d)

    def burned(ign, w, d, fb):
        return simulate(ls, ign, w, d, fuel_breaks=fb).burned_cells.double().mean().item() / ls.num_cells

    crn, independent = [], []
    for seed in range(40):
        a, b = fires(seed), fires(10_000 + seed)
        crn.append(burned(*a, None) - burned(*a, breaks))
        independent.append(burned(*a, None) - burned(*b, breaks))
    assert np.mean(crn) > 0
    assert np.std(crn) < 0.5 * np.std(independent)


def test_synthetic_splits_are_disjoint():
    train, evaluation = SyntheticSource((8, 8), "train"), SyntheticSource((8, 8), "eval", count=50)
    assert set(train.seeds).isdisjoint(evaluation.seeds)
    assert evaluation.seeds.start == EVAL_SEED_START and max(TRAIN_SEEDS) < EVAL_SEED_START
    with pytest.raises(InputError, match="split"):
        SyntheticSource((8, 8), "test")


def test_tile_source_split_is_spatial(tmp_path):
    from qagent.landscape import synthetic, write_tile_dataset

    big = synthetic(40, 100, seed=3)
    write_tile_dataset(big, tmp_path / "tiles", size=10, stride=5)
    train = TileSource(tmp_path / "tiles", "train", eval_fraction=0.2)
    evaluation = TileSource(tmp_path / "tiles", "eval", eval_fraction=0.2)
    everything = TileSource(tmp_path / "tiles", "all")
    cols = lambda src: [int(src._dataset.origins[k][1]) for k in src.ids]  # noqa: E731
    assert max(c + 10 for c in cols(train)) <= 80 <= min(cols(evaluation))  # no tile shares a cell
    assert len(train) + len(evaluation) < len(everything)  # boundary tiles are nobody's
    env = BatchedFuelBreakEnv(train, 2, SMALL, seed=0)
    assert env.reset()[0].shape == (2, NUM_CHANNELS, 10, 10)


# ----------------------------------------------------------------------------- the vector API
INFO_KEYS = {"action_mask", "landscape_id", "budget_cells", "budget_used", "placed_cells", "burned_fraction",
             "baseline_burned_fraction", "episode_return"}


def test_batched_env_speaks_gymnasiums_vector_api():
    """gymnasium 1.x has no checker for vector environments: the contract asserted directly
    (spaces, shapes, dtypes, info keys with their _key masks, seeding)."""
    n, k = 3, SMALL.cells_per_step
    env = BatchedFuelBreakEnv(SyntheticSource((12, 12)), n, SMALL, seed=4)
    assert isinstance(env, VectorEnv) and env.num_envs == n
    assert env.single_observation_space == gym.spaces.Box(0.0, 1.0, (NUM_CHANNELS, 12, 12), np.float32)
    assert env.single_action_space == gym.spaces.MultiDiscrete(np.full(k, 144))
    assert env.observation_space.shape == (n, NUM_CHANNELS, 12, 12) and env.action_space.shape == (n, k)
    obs, info = env.reset(seed=7)
    assert isinstance(obs, torch.Tensor) and obs.dtype == torch.float32 and obs.shape == (n, NUM_CHANNELS, 12, 12)
    assert env.observation_space.contains(obs.numpy())
    assert set(info) == INFO_KEYS | {f"_{key}" for key in INFO_KEYS}
    assert all(info[f"_{key}"].all() for key in INFO_KEYS)
    assert info["action_mask"].dtype == torch.bool and info["action_mask"].shape == (n, 144)
    assert (info["placed_cells"] == 0).all() and (info["episode_return"] == 0).all()
    actions = env.action_space.sample()  # any cells: invalid ones are skipped
    assert env.action_space.contains(actions)
    obs, reward, terminated, truncated, info = env.step(actions)
    for array in (reward, terminated, truncated):
        assert isinstance(array, np.ndarray) and array.shape == (n,)
    assert reward.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_
    assert env.observation_space.contains(obs.numpy())
    assert np.array_equal(info["budget_used"], np.full(n, k))
    # the same seed gives the same episodes; with a reset_mask only the marked ones restart
    again = BatchedFuelBreakEnv(SyntheticSource((12, 12)), n, SMALL, seed=99)
    first, _ = again.reset(seed=7)
    assert torch.equal(first, env.reset(seed=7)[0])
    ids = env.landscape_id.copy()
    _, info = env.reset(options={"reset_mask": np.array([False, True, False])})
    assert env.landscape_id[0] == ids[0] and env.landscape_id[2] == ids[2] and env.landscape_id[1] != ids[1]
    with pytest.raises(InputError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([1, 0, 1])})
    with pytest.raises(InputError, match="unknown options"):
        env.reset(options={"seed": 3})
    assert BatchedFuelBreakEnv(SyntheticSource((12, 12)), 1, SMALL, autoreset=False).metadata["autoreset_mode"] \
        == AutoresetMode.DISABLED


def _as_numpy(info):
    """An info with its tensors as numpy arrays (also inside object arrays and sub-dicts), the
    form gymnasium's own vector environments give."""
    if isinstance(info, torch.Tensor):
        return info.cpu().numpy()
    if isinstance(info, dict):
        return {k: _as_numpy(v) for k, v in info.items()}
    if isinstance(info, np.ndarray) and info.dtype == object:
        out = np.full(info.shape, None, dtype=object)
        for i, v in enumerate(info):
            out[i] = _as_numpy(v)
        return out
    return info


def test_batched_env_equals_gymnasiums_sync_vector_env_with_same_step_autoreset():
    """One batched environment against gymnasium's SyncVectorEnv (SAME_STEP autoreset) of one
    FuelBreakEnv on the same landscapes and seed, over several episodes: the same
    observations, rewards and flags, and the same infos key for key (final_obs, final_info and
    the _key masks included) once our tensors are numpy arrays."""
    source = SyntheticSource((12, 12))
    ours = BatchedFuelBreakEnv(source, 1, SMALL, seed=11)
    reference = SyncVectorEnv([lambda: FuelBreakEnv(source, SMALL, seed=11)], autoreset_mode=AutoresetMode.SAME_STEP)
    assert reference.metadata["autoreset_mode"] == ours.metadata["autoreset_mode"]
    assert reference.single_observation_space == ours.single_observation_space
    assert reference.single_action_space == ours.single_action_space
    obs_a, info_a = ours.reset()
    obs_b, info_b = reference.reset()
    np.testing.assert_array_equal(obs_a.numpy(), obs_b)
    assert data_equivalence(_as_numpy(info_a), info_b, exact=True)
    rng = np.random.default_rng(0)
    finals = 0
    for _ in range(3 * 12):
        actions = rng.choice(np.flatnonzero(info_b["action_mask"][0]), (1, SMALL.cells_per_step), replace=False)
        obs_a, r_a, term_a, trunc_a, info_a = ours.step(actions)
        obs_b, r_b, term_b, trunc_b, info_b = reference.step(actions)
        np.testing.assert_array_equal(obs_a.numpy(), obs_b)
        np.testing.assert_array_equal(r_a, r_b)
        assert (term_a == term_b).all() and (trunc_a == trunc_b).all()
        assert data_equivalence(_as_numpy(info_a), info_b, exact=True), (info_a, info_b)
        finals += int(term_a[0])
    assert finals >= 2  # autoreset exercised more than once
