"""The fuel-break placement environment: gymnasium's single-environment (``FuelBreakEnv``) and
vector (``BatchedFuelBreakEnv``) APIs over one batched core.

An episode places a budget of fuel-break cells (``EnvConfig.budget_fraction`` of the
landscape's burnable cells, :func:`budget_cells`) on one landscape, k cells per step. Its S
fires are drawn once at reset and burned again after every step (common random numbers); the
reward is the step's drop in expected value burned (burned area without values at risk), as a
fraction of the episode's untreated loss (``reward="relative"``, the default) or of the
landscape's value (``"absolute"``). ``BatchedFuelBreakEnv`` steps N environments with one
call to the spread op, returns observations as torch tensors on its device and resets finished
environments within the same step (gymnasium's ``final_obs`` / ``final_info``);
:class:`StaticObservationCache` keeps the break-independent observation channels of recent
landscapes.

Episodes, the reward, the vector API, autoreset and the info keys: docs/environment.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from qagent._validation import InputError
from qagent.fire.scenario import DEFAULT_SCENARIO, FireScenario
from qagent.fire.spread import DEFAULT_STENCIL, LandscapeStack, run_spread
from qagent.env.observation import NUM_CHANNELS, static_channels, with_fuel_breaks
from qagent.oom import ChunkedRunner
from qagent.env.sources import LandscapeSource, SyntheticSource


# what a reward is a fraction of, per reward kind; the loss is the value burned (with values at
# risk), else the burned area
REWARD_UNITS = {"absolute": "landscape's value", "relative": "untreated loss"}
REWARDS = tuple(REWARD_UNITS)


@dataclass(frozen=True)
class EnvConfig:
    """Episode settings."""

    budget_fraction: float = 0.05      # of the landscape's burnable cells
    cells_per_step: int = 5            # k
    ignitions: int = 32                # S fires per episode
    stencil: int = DEFAULT_STENCIL
    reward: str = "relative"           # relative | absolute (docs/environment.md, "Reward")

    def __post_init__(self):
        if self.reward not in REWARDS:
            raise InputError(f"reward: expected one of {', '.join(REWARDS)}, got {self.reward!r}")
        if not 0.0 < self.budget_fraction <= 1.0:
            raise InputError(f"budget_fraction: must lie in (0, 1], got {self.budget_fraction}")
        if self.cells_per_step < 1 or self.ignitions < 1:
            raise InputError("cells_per_step and ignitions must be >= 1")


def budget_cells(burnable_cells: int, budget_fraction: float, cells_per_step: int) -> int:
    """The episode budget: budget_fraction of the burnable cells, rounded to a multiple of k,
    at least k and at most the burnable cells rounded down to a multiple of k. A fraction
    outside (0, 1] (or NaN) and a k below 1 raise InputError."""
    if isinstance(budget_fraction, bool) or not isinstance(budget_fraction, (int, float, np.integer, np.floating)) \
            or not 0.0 < budget_fraction <= 1.0:
        raise InputError(f"budget_fraction: must be a fraction of the burnable cells in (0, 1], "
                         f"got {budget_fraction!r}")
    if isinstance(cells_per_step, bool) or not isinstance(cells_per_step, (int, np.integer)) or cells_per_step < 1:
        raise InputError(f"cells_per_step: must be an integer >= 1, got {cells_per_step!r}")
    steps = max(1, int(round(burnable_cells * budget_fraction / cells_per_step)))
    return min(steps, max(1, burnable_cells // cells_per_step)) * cells_per_step


class StaticObservationCache:
    """The break-independent observation channels of each landscape (under the scenario's
    reference weather), kept in float16 for the landscapes seen recently: environments and
    replay rebuild observations from them and a break mask."""

    def __init__(self, source: LandscapeSource, scenario: FireScenario, device, capacity: int = 2048):
        from collections import OrderedDict

        self.source, self.weather, self.device, self.capacity = source, scenario.reference_weather(), device, capacity
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()

    def get(self, landscape_id: int) -> torch.Tensor:
        """The static channels of one landscape, with its values at risk (the source's
        ``values``). Keyed on the landscape id and the source's ``values_key`` (which values
        it gives: a mode or a file), so a hit costs no call to the source."""
        key = (int(landscape_id), getattr(self.source, "values_key", None))
        obs = self._cache.get(key)
        if obs is None:
            getter = getattr(self.source, "values", None)
            values = getter(landscape_id) if getter is not None else None
            obs = static_channels(self.source.landscape(landscape_id), self.weather,
                                  values=values).to(self.device, torch.float16)
            self._cache[key] = obs
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return obs

    def observations(self, landscape_ids, masks: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] float32 from landscape ids [B] and bool break masks [B, H, W]."""
        static = torch.stack([self.get(int(i)) for i in landscape_ids]).to(torch.float32)
        return with_fuel_breaks(static, masks.to(static.device))


class BatchedFuelBreakEnv(VectorEnv):
    """N fuel-break environments stepped together, a gymnasium vector environment
    (docs/environment.md, "The vector API"). Tensors live on ``device``; observations are [N, C, H, W] float32, actions
    [N, k] flat cell indices. ``breaks`` (bool [N, H, W]) and ``landscape_id`` ([N]) are the
    environments' compact state, what replay stores."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, source: LandscapeSource | None = None, num_envs: int = 8, config: EnvConfig = EnvConfig(),
                 scenario: FireScenario = DEFAULT_SCENARIO, device="cpu", seed: int = 0, autoreset: bool = True,
                 observation_cache: StaticObservationCache | None = None):
        if num_envs < 1:
            raise InputError(f"num_envs: must be >= 1, got {num_envs}")
        self.source = source if source is not None else SyntheticSource((50, 50))
        self.num_envs, self.config, self.scenario = int(num_envs), config, scenario
        self.device = torch.device(device)
        self.autoreset = autoreset
        self.metadata = {**self.metadata,
                         "autoreset_mode": AutoresetMode.SAME_STEP if autoreset else AutoresetMode.DISABLED}
        self.grid_shape = self.source.grid_shape
        self.num_cells = self.grid_shape[0] * self.grid_shape[1]
        h, w = self.grid_shape
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (NUM_CHANNELS, h, w), np.float32)
        self.single_action_space = gym.spaces.MultiDiscrete(np.full(config.cells_per_step, h * w, dtype=np.int64))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observations = observation_cache or StaticObservationCache(self.source, scenario, self.device)
        # the landscape cycle and the episodes' seeds: gymnasium's np_random, reseeded by reset(seed=)
        self._np_random, self._np_random_seed = np.random.default_rng(seed), seed
        self._order: list[int] = []
        n, s = self.num_envs, config.ignitions
        self.landscape_id = np.zeros(n, dtype=np.int64)
        self.episode_seed = np.zeros(n, dtype=np.int64)
        self.breaks = torch.zeros((n, *self.grid_shape), dtype=torch.bool, device=self.device)
        self.valid = torch.zeros((n, self.num_cells), dtype=torch.bool, device=self.device)
        self.budget = np.zeros(n, dtype=np.int64)
        self.placed = np.zeros(n, dtype=np.int64)
        self.burned_fraction = np.zeros(n, dtype=np.float64)   # expected, with the current breaks
        self.baseline_fraction = np.zeros(n, dtype=np.float64)  # expected, with no breaks
        # values at risk per environment ([N, H, W], made when a landscape first brings values),
        # which environments have them, and each one's total value (all cells: num_cells without)
        self._values: torch.Tensor | None = None
        self.has_values = np.zeros(n, dtype=bool)
        self.total_value = np.full(n, float(self.num_cells), dtype=np.float64)
        self._stack: LandscapeStack | None = None
        self._params = None                                      # [N*S, 6, H, W]
        self._ignition = torch.zeros(n * s, dtype=torch.int64, device=self.device)
        self._duration = torch.zeros(n * s, dtype=torch.float32, device=self.device)
        self._env_of_sim = torch.arange(n, device=self.device).repeat_interleave(s)
        self.simulations = 0                                     # spread simulations run so far
        # all N x S simulations in one call; on an out-of-memory error the chunk halves, and the
        # smaller size is kept for later steps
        self.spread_chunks = ChunkedRunner(n * s, name="environment simulations")

    # ------------------------------------------------------------------ episodes
    def rng_state(self) -> dict:
        """Where the landscape cycle and episode seeds stand (for checkpoints)."""
        return {"rng": self.np_random.bit_generator.state, "order": [int(x) for x in self._order]}

    def load_rng_state(self, state: dict) -> None:
        self.np_random.bit_generator.state = state["rng"]
        self._order = list(state["order"])

    def _next_landscape_id(self) -> int:
        if not self._order:
            self._order = list(self.source.epoch_order(self.np_random))
        return int(self._order.pop())

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[torch.Tensor, dict]:
        """Start a new episode in every environment (or, with ``options={"reset_mask": bool
        [N]}``, in those marked); returns (observations [N, C, H, W], info). ``seed`` (an
        integer >= 0) restarts the landscape cycle and the episodes' seeds from it."""
        super().reset(seed=seed)
        if seed is not None:
            self._order = []
        unknown = set(options or {}) - {"reset_mask"}
        if unknown:
            raise InputError(f"reset: unknown options {sorted(unknown)}; the only option is reset_mask")
        mask = (options or {}).get("reset_mask")
        if mask is None:
            envs = range(self.num_envs)
        else:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise InputError(f"reset: options['reset_mask'] must be a bool array of shape ({self.num_envs},), "
                                 f"got {mask.dtype} {mask.shape}")
            envs = np.flatnonzero(mask)
        for i in envs:
            self._start_episode(int(i))
        return self.observation(), self._info(np.zeros(self.num_envs, dtype=np.int64))

    def _start_episode(self, i: int) -> None:
        lid = self._next_landscape_id()
        landscape = self.source.landscape(lid)
        if landscape.shape != self.grid_shape:
            raise InputError(f"landscape {lid}: shape {landscape.shape}, expected {self.grid_shape}")
        seed = int(self.np_random.integers(0, 2**62))
        self.landscape_id[i], self.episode_seed[i] = lid, seed
        rng = np.random.default_rng(seed)
        s = self.config.ignitions
        burnable = landscape.burnable_mask().reshape(-1).to(self.device)
        fires = self.scenario.draw(landscape, s, rng, ignition_density=self._ignition_density(lid))
        ignition, weather, duration = fires.ignitions.to(self.device), fires.weather, fires.duration_min
        if self._stack is None:
            self._stack = LandscapeStack([landscape] * self.num_envs, self.device)
        else:
            self._stack.set(i, landscape)
        params = self._stack.spread_params(weather.as_op_tensor(self.device),
                                           torch.full((s,), i, dtype=torch.int64, device=self.device))
        if self._params is None:
            self._params = params.repeat(self.num_envs, 1, 1, 1)
        sl = slice(i * s, (i + 1) * s)
        self._params[sl] = params
        self._ignition[sl] = ignition
        self._duration[sl] = torch.from_numpy(duration).to(self.device)
        self._set_values(i, lid, landscape)
        self.breaks[i] = False
        self.valid[i] = burnable
        self.budget[i] = budget_cells(int(burnable.sum()), self.config.budget_fraction, self.config.cells_per_step)
        self.placed[i] = 0
        self.baseline_fraction[i] = self.burned_fraction[i] = self._burned_fractions(np.array([i]))[0]

    def _set_values(self, i: int, landscape_id: int, landscape) -> None:
        """Environment i's values at risk, from the source (None: every cell worth 1)."""
        from qagent.landscape.core import check_values

        getter = getattr(self.source, "values", None)
        values = getter(landscape_id) if getter is not None else None
        if values is None:
            self.has_values[i], self.total_value[i] = False, float(self.num_cells)
            return
        v = check_values(values, landscape, name=f"values of landscape {landscape_id}")
        if self._values is None:
            self._values = torch.zeros((self.num_envs, *self.grid_shape), dtype=torch.float32, device=self.device)
        self._values[i] = torch.from_numpy(v).to(self.device)
        self.has_values[i], self.total_value[i] = True, float(v.astype(np.float64).sum())

    def _ignition_density(self, landscape_id: int):
        """The source's ignition density for a landscape (None: uniform over burnable cells)."""
        density = getattr(self.source, "ignition_density", None)
        return density(landscape_id) if density is not None else None

    def _burned_fractions(self, envs: np.ndarray) -> np.ndarray:
        """Expected burned fraction of the given environments with their current breaks (value
        burned / total value; burned cells / all cells without values): one call to the spread
        op for all their fires."""
        s = self.config.ignitions
        sims = (torch.as_tensor(envs, device=self.device)[:, None] * s
                + torch.arange(s, device=self.device)[None, :]).reshape(-1)
        with_values = bool(self.has_values[envs].any())
        burned = torch.empty(sims.numel(), dtype=torch.float32 if with_values else torch.int32, device=self.device)
        if with_values:  # each simulation reads its environment's values; -1: every cell worth 1
            own = torch.as_tensor(np.where(self.has_values, np.arange(self.num_envs), -1), device=self.device)
            value_index = own[self._env_of_sim]

        def run_chunk(start: int, stop: int) -> None:
            part = sims[start:stop]
            if with_values:
                _, _, _, b, _ = run_spread(self._params, part, self._ignition[part], self._duration[part],
                                           cell_size_m=self._stack.cell_size_m, fuel_breaks=self.breaks,
                                           layout_index=self._env_of_sim[part], stencil=self.config.stencil,
                                           values=self._values, value_index=value_index[part])
            else:
                b, _, _ = run_spread(self._params, part, self._ignition[part], self._duration[part],
                                     cell_size_m=self._stack.cell_size_m, fuel_breaks=self.breaks,
                                     layout_index=self._env_of_sim[part], stencil=self.config.stencil)
            burned[start:stop] = b  # written only once the chunk succeeded: a re-run counts nothing twice
            self.simulations += stop - start

        # one call to the op unless it runs out of (GPU) memory: then the chunk halves (qagent.oom)
        self.spread_chunks.run(run_chunk, int(sims.numel()))
        mean = burned.reshape(len(envs), s).to(torch.float64).mean(dim=1).cpu().numpy()
        if not with_values:
            return mean / self.num_cells
        return mean / np.maximum(self.total_value[envs], np.finfo(np.float64).tiny)

    def _reward_denominator(self) -> np.ndarray:
        if self.config.reward == "absolute":
            return np.ones(self.num_envs)
        # every fire burns at least its ignition cell, so without values the baseline is > 0; the
        # floor guards the division (with values, a baseline of 0 means no step can drop anything)
        return np.maximum(self.baseline_fraction, 1.0 / (self.num_cells * self.config.ignitions))

    def episode_returns(self) -> np.ndarray:
        """[N] each environment's return so far, in reward units (the sum of its rewards)."""
        return (self.baseline_fraction - self.burned_fraction) / self._reward_denominator()

    # ------------------------------------------------------------------ stepping
    def observation(self) -> torch.Tensor:
        return self.observations.observations(self.landscape_id, self.breaks)

    def action_mask(self) -> torch.Tensor:
        """bool [N, H*W]: cells an action may break (burnable, not yet broken)."""
        return self.valid.clone()

    def _info(self, placed_cells: np.ndarray) -> dict:
        """The per-environment info (docs/environment.md, "Info"), every key with its ``_key``
        mask (all True)."""
        info = {"action_mask": self.action_mask(), "landscape_id": self.landscape_id.copy(),
                "budget_cells": self.budget.copy(), "budget_used": self.placed.copy(), "placed_cells": placed_cells,
                "burned_fraction": self.burned_fraction.copy(),
                "baseline_burned_fraction": self.baseline_fraction.copy(), "episode_return": self.episode_returns()}
        return _with_masks(info, np.ones(self.num_envs, dtype=bool))

    def step(self, actions) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Place each environment's k cells (actions [N, k] flat indices) and burn its fires
        again. Returns (observations, rewards [N], terminated [N], truncated [N], info), the
        vector API of docs/environment.md; with autoreset, finished environments start their next
        episode (same-step autoreset, ``info["final_obs"]`` / ``info["final_info"]``)."""
        k = self.config.cells_per_step
        a = torch.as_tensor(np.asarray(actions) if not isinstance(actions, torch.Tensor) else actions,
                            device=self.device).to(torch.int64).reshape(self.num_envs, -1)
        if a.shape[1] != k:
            raise InputError(f"actions: expected [N, {k}] cells per environment, got {tuple(a.shape)}")
        if bool(((a < 0) | (a >= self.num_cells)).any()):
            raise InputError(f"actions: cell indices must lie in [0, {self.num_cells})")
        active = np.nonzero(self.placed < self.budget)[0]
        placed_cells = np.zeros(self.num_envs, dtype=np.int64)
        flat = self.breaks.view(self.num_envs, -1)
        for i in active:
            cells = a[i][self.valid[i, a[i]]].unique()
            flat[i, cells] = True
            self.valid[i, cells] = False
            placed_cells[i] = len(cells)
            self.placed[i] += k
        before = self.burned_fraction.copy()
        if len(active):
            self.burned_fraction[active] = self._burned_fractions(active)
        rewards = (before - self.burned_fraction) / self._reward_denominator()
        terminated = self.placed >= self.budget
        truncated = np.zeros(self.num_envs, dtype=bool)
        if not (self.autoreset and terminated.any()):
            return self.observation(), rewards, terminated, truncated, self._info(placed_cells)
        finished = np.flatnonzero(terminated)
        ended = self._info(placed_cells)
        final_info = {**ended, **_masks(ended, terminated)}
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i, obs in zip(finished, self.observations.observations(self.landscape_id[finished],
                                                                    self.breaks[finished])):
            final_obs[i] = obs
        for i in finished:
            self._start_episode(int(i))
        placed_cells = np.where(terminated, 0, placed_cells)  # the new episodes have broken nothing yet
        info = {**self._info(placed_cells), "final_obs": final_obs, "_final_obs": terminated.copy(),
                "final_info": final_info, "_final_info": terminated.copy()}
        return self.observation(), rewards, terminated, truncated, info


def _masks(info: dict, present: np.ndarray) -> dict:
    """gymnasium's ``_key`` masks for the keys of ``info``: which environments have a value."""
    return {f"_{key}": present.copy() for key in info if not key.startswith("_")}


def _with_masks(info: dict, present: np.ndarray) -> dict:
    return {**info, **_masks(info, present)}


class FuelBreakEnv(gym.Env):
    """One fuel-break environment with the gymnasium API (docs/environment.md).

    Observation: Box(0, 1, (C, H, W), float32) (``qagent.landscape.OBSERVATION_CHANNELS``).
    Action: MultiDiscrete([H*W] * k), the k flat cell indices to break this step. Info: the
    batched environment's keys for this one environment; ``info["action_mask"]`` (and
    ``action_mask()``) gives the cells that may still be broken."""

    metadata = {"render_modes": []}

    def __init__(self, source: LandscapeSource | None = None, config: EnvConfig = EnvConfig(),
                 scenario: FireScenario = DEFAULT_SCENARIO, device="cpu", seed: int | None = None):
        super().__init__()
        self.core = BatchedFuelBreakEnv(source, 1, config, scenario, device, seed=seed or 0, autoreset=False)
        self.observation_space = self.core.single_observation_space
        self.action_space = self.core.single_action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, info = self.core.reset(seed=seed)
        return obs[0].cpu().numpy(), _single(info)

    def step(self, action):
        if self.core.placed[0] >= self.core.budget[0]:
            raise RuntimeError("FuelBreakEnv: step() after the episode ended; call reset()")
        obs, reward, terminated, truncated, info = self.core.step(np.asarray(action).reshape(1, -1))
        return obs[0].cpu().numpy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), _single(info)

    def action_mask(self) -> np.ndarray:
        return self.core.action_mask()[0].cpu().numpy()


def _single(info: dict) -> dict:
    """Environment 0's values of a batched info (without gymnasium's ``_key`` masks)."""
    out = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        value = value[0]
        out[key] = value.cpu().numpy() if isinstance(value, torch.Tensor) else value.item()
    return out
