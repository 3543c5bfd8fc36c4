"""The fuel-break placement environment.

An episode places a budget of B fuel-break cells on one landscape, k cells per step (B is the
budget fraction of the landscape's burnable cells, rounded to a multiple of k, at least k).
Cells already broken or non-burnable are masked out of the action; invalid cells an action
names anyway are skipped, and the step still uses k cells of the budget.

Reward: the drop in expected burned fraction (burned cells / all cells, averaged over S fires)
caused by the step's new breaks, divided by the episode's untreated expected burned fraction
(``reward="relative"``, the default: the relative reduction of burned area, the measure
``qagent-eval`` reports, which weighs every landscape alike, whether its fires burn 0.5 % or
20 % of it), or that drop alone (``reward="absolute"``). At reset the episode draws S
ignitions (uniform over burnable cells) and S weather scenarios and burn durations from its
``FireScenario``; the same fires are burned before and after every step of the episode
(common random numbers), so a reward measures the breaks, not the luck of the draw, and
rewards sum to the episode's total reduction. Since breaks never add burned cells, rewards are never negative.

``BatchedFuelBreakEnv`` keeps N environments on one device and steps them all with a single
call to the spread op (N x S simulations); the fires' per-cell parameters are computed once
per episode and reused for every step. If that call runs out of GPU memory, the simulations
run in chunks that halve until they fit (``qagent.oom.ChunkedRunner``, as in
``qagent.fire.simulate``), with the same results. ``FuelBreakEnv`` is the gymnasium single-environment
view of the same core.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from qagent._validation import InputError
from qagent.fire.scenario import DEFAULT_SCENARIO, FireScenario
from qagent.fire.spread import DEFAULT_STENCIL, LandscapeStack, run_spread
from qagent.landscape.observation import NUM_CHANNELS, static_channels, with_fuel_breaks
from qagent.oom import ChunkedRunner
from qagent.env.sources import LandscapeSource, SyntheticSource


# what a reward is a fraction of, per reward kind
REWARD_UNITS = {"absolute": "landscape", "relative": "untreated burned area"}
REWARDS = tuple(REWARD_UNITS)


@dataclass(frozen=True)
class EnvConfig:
    """Episode settings."""

    budget_fraction: float = 0.05      # of the landscape's burnable cells
    cells_per_step: int = 5            # k
    ignitions: int = 32                # S fires per episode
    stencil: int = DEFAULT_STENCIL
    reward: str = "relative"           # relative | absolute (module docstring)

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
        obs = self._cache.get(landscape_id)
        if obs is None:
            obs = static_channels(self.source.landscape(landscape_id), self.weather).to(self.device, torch.float16)
            self._cache[landscape_id] = obs
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(landscape_id)
        return obs

    def observations(self, landscape_ids, masks: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] float32 from landscape ids [B] and bool break masks [B, H, W]."""
        static = torch.stack([self.get(int(i)) for i in landscape_ids]).to(torch.float32)
        return with_fuel_breaks(static, masks.to(static.device))


class BatchedFuelBreakEnv:
    """N fuel-break environments stepped together (module docstring). Tensors live on
    ``device``; observations are [N, C, H, W] float32, actions [N, k] flat cell indices."""

    def __init__(self, source: LandscapeSource | None = None, num_envs: int = 8, config: EnvConfig = EnvConfig(),
                 scenario: FireScenario = DEFAULT_SCENARIO, device="cpu", seed: int = 0, autoreset: bool = True,
                 observation_cache: StaticObservationCache | None = None):
        if num_envs < 1:
            raise InputError(f"num_envs: must be >= 1, got {num_envs}")
        self.source = source if source is not None else SyntheticSource((50, 50))
        self.num_envs, self.config, self.scenario = int(num_envs), config, scenario
        self.device = torch.device(device)
        self.autoreset = autoreset
        self.grid_shape = self.source.grid_shape
        self.num_cells = self.grid_shape[0] * self.grid_shape[1]
        self.observations = observation_cache or StaticObservationCache(self.source, scenario, self.device)
        self._rng = np.random.default_rng(seed)
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
    def seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._order = []

    def rng_state(self) -> dict:
        """Where the landscape cycle and episode seeds stand (for checkpoints)."""
        return {"rng": self._rng.bit_generator.state, "order": [int(x) for x in self._order]}

    def load_rng_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state["rng"]
        self._order = list(state["order"])

    def _next_landscape_id(self) -> int:
        if not self._order:
            self._order = list(self.source.epoch_order(self._rng))
        return int(self._order.pop())

    def reset(self) -> torch.Tensor:
        """Start a new episode in every environment; returns observations [N, C, H, W]."""
        for i in range(self.num_envs):
            self._start_episode(i)
        return self.observation()

    def _start_episode(self, i: int) -> None:
        lid = self._next_landscape_id()
        landscape = self.source.landscape(lid)
        if landscape.shape != self.grid_shape:
            raise InputError(f"landscape {lid}: shape {landscape.shape}, expected {self.grid_shape}")
        seed = int(self._rng.integers(0, 2**62))
        self.landscape_id[i], self.episode_seed[i] = lid, seed
        rng = np.random.default_rng(seed)
        s = self.config.ignitions
        burnable = landscape.burnable_mask().reshape(-1).to(self.device)
        cells = torch.nonzero(burnable).reshape(-1)
        ignition = cells[torch.from_numpy(rng.integers(0, len(cells), s)).to(self.device)]
        weather, duration = self.scenario.sample(s, rng)
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
        self.breaks[i] = False
        self.valid[i] = burnable
        self.budget[i] = budget_cells(int(burnable.sum()), self.config.budget_fraction, self.config.cells_per_step)
        self.placed[i] = 0
        self.baseline_fraction[i] = self.burned_fraction[i] = self._burned_fractions(np.array([i]))[0]

    def _burned_fractions(self, envs: np.ndarray) -> np.ndarray:
        """Expected burned fraction of the given environments with their current breaks: one call
        to the spread op for all their fires."""
        s = self.config.ignitions
        sims = (torch.as_tensor(envs, device=self.device)[:, None] * s
                + torch.arange(s, device=self.device)[None, :]).reshape(-1)
        burned = torch.empty(sims.numel(), dtype=torch.int32, device=self.device)

        def run_chunk(start: int, stop: int) -> None:
            part = sims[start:stop]
            b, _, _ = run_spread(self._params, part, self._ignition[part], self._duration[part],
                                 cell_size_m=self._stack.cell_size_m, fuel_breaks=self.breaks,
                                 layout_index=self._env_of_sim[part], stencil=self.config.stencil)
            burned[start:stop] = b  # written only once the chunk succeeded: a re-run counts nothing twice
            self.simulations += stop - start

        # one call to the op unless it runs out of (GPU) memory: then the chunk halves (qagent.oom)
        self.spread_chunks.run(run_chunk, int(sims.numel()))
        return burned.reshape(len(envs), s).to(torch.float64).mean(dim=1).cpu().numpy() / self.num_cells

    def _reward_denominator(self) -> np.ndarray:
        if self.config.reward == "absolute":
            return np.ones(self.num_envs)
        # every fire burns at least its ignition cell, so the baseline is > 0; the floor only
        # guards the division
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

    def step(self, actions) -> tuple[torch.Tensor, np.ndarray, np.ndarray, dict]:
        """Place each environment's k cells (actions [N, k] flat indices) and burn its fires
        again. Returns (observations, rewards [N], terminated [N], info). With autoreset, an
        environment that finished starts its next episode at once: its observation is the new
        episode's, and info["final"] lists, per finished environment, its landscape id,
        baseline and final expected burned fractions and episode return."""
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
        info: dict = {"placed_cells": placed_cells, "burned_fraction": self.burned_fraction.copy(),
                      "landscape_id": self.landscape_id.copy()}
        if self.autoreset and terminated.any():
            info["final"] = []
            returns = self.episode_returns()
            for i in np.nonzero(terminated)[0]:
                info["final"].append({"env": int(i), "landscape_id": int(self.landscape_id[i]),
                                      "baseline_burned_fraction": float(self.baseline_fraction[i]),
                                      "final_burned_fraction": float(self.burned_fraction[i]),
                                      "episode_return": float(returns[i]),
                                      "budget_cells": int(self.budget[i])})
                self._start_episode(int(i))
        return self.observation(), rewards, terminated, info


class FuelBreakEnv(gym.Env):
    """One fuel-break environment with the gymnasium API (module docstring).

    Observation: Box(0, 1, (C, H, W), float32) (``qagent.landscape.OBSERVATION_CHANNELS``).
    Action: MultiDiscrete([H*W] * k), the k flat cell indices to break this step;
    ``action_mask()`` gives the cells that may still be broken."""

    metadata = {"render_modes": []}

    def __init__(self, source: LandscapeSource | None = None, config: EnvConfig = EnvConfig(),
                 scenario: FireScenario = DEFAULT_SCENARIO, device="cpu", seed: int | None = None):
        super().__init__()
        self.core = BatchedFuelBreakEnv(source, 1, config, scenario, device, seed=seed or 0, autoreset=False)
        h, w = self.core.grid_shape
        self.observation_space = gym.spaces.Box(0.0, 1.0, (NUM_CHANNELS, h, w), np.float32)
        self.action_space = gym.spaces.MultiDiscrete(np.full(config.cells_per_step, h * w, dtype=np.int64))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.core.seed(seed)
        obs = self.core.reset()
        return obs[0].cpu().numpy(), self._info()

    def step(self, action):
        if self.core.placed[0] >= self.core.budget[0]:
            raise RuntimeError("FuelBreakEnv: step() after the episode ended; call reset()")
        obs, reward, terminated, info = self.core.step(np.asarray(action).reshape(1, -1))
        return obs[0].cpu().numpy(), float(reward[0]), bool(terminated[0]), False, self._info()

    def action_mask(self) -> np.ndarray:
        return self.core.action_mask()[0].cpu().numpy()

    def _info(self) -> dict:
        c = self.core
        return {"landscape_id": int(c.landscape_id[0]), "budget_cells": int(c.budget[0]),
                "placed_cells": int(c.placed[0]), "burned_fraction": float(c.burned_fraction[0]),
                "baseline_burned_fraction": float(c.baseline_fraction[0])}
