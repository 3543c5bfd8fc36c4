"""Training configuration: defaults, the memory preset, a TOML file and command-line flags,
merged in that order (later wins).

A TOML file uses the field names below, at the top level or grouped in tables (the table
names are free and only for readability), e.g.::

    preset = "low"
    steps = 200000

    [env]
    budget_fraction = 0.05
    cells_per_step = 5

    [learning]
    learning_rate = 3e-4
    prioritized = true
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qagent._validation import InputError
from qagent.train.presets import TRAINER_CELLS_PER_STEP, get_preset


@dataclass
class TrainConfig:
    # what and where
    preset: str = "demo"                # demo | low | medium | high | auto
    model: str | None = None            # default: the preset's
    landscapes: str = "synthetic"       # "synthetic", a tile dataset, a LANDFIRE folder, or several joined by "+"
    fuel: str = "F40"                   # LANDFIRE fuel product of a LANDFIRE folder: F40 | F13
    ignition_density: str | None = None  # GeoTIFF on a LANDFIRE folder's grid; None: uniform ignitions
    values: str | None = None           # values at risk, GeoTIFF on a LANDFIRE folder's grid; None: 1 per cell
    synthetic_values: str | None = None  # synthetic landscapes' values: ones | synthetic | mixed (default)
    grid_size: int | None = None        # default: the preset's
    device: str = "auto"                # auto | cpu | cuda | cuda:N
    steps: int | None = None            # environment steps (transitions); default: the preset's
    out: str = "runs/qagent"
    seed: int = 0
    init_weights: str | None = None     # a checkpoint whose network starts the run (fine-tuning); None: random
    # episodes
    budget_fraction: float = 0.05
    cells_per_step: int = TRAINER_CELLS_PER_STEP
    ignitions: int = 32
    reward: str = "relative"            # relative (of the untreated loss) | absolute (of the landscape's value)
    num_envs: int | None = None         # default: the preset's
    # learning
    learning_rate: float = 3e-4
    warmup_fraction: float = 0.05       # of updates, linear warm-up, then cosine decay to 10 %
    gamma: float = 0.0                  # 0: learn each step's own drop (docs/training.md); 0.99 bootstraps
    tau: float = 0.01                   # soft target-network update per gradient step
    micro_batch: int | None = None      # default: the preset's
    accumulation_steps: int | None = None
    buffer_capacity: int | None = None
    prioritized: bool = True
    learning_starts: int = 512          # transitions before the first update
    updates_per_step: float = 0.25      # gradient updates per environment transition
    grad_clip: float = 10.0
    eps_start: float = 1.0
    eps_end: float = 0.05
    exploration_fraction: float = 0.5   # of the run over which epsilon decays linearly
    reward_scale: float | None = None   # default: REWARD_SCALES[reward]
    warm_start_episodes: int = 0        # DomiRank demonstration episodes first
    demo_margin: float = 0.5            # DQfD large-margin l on demonstration transitions (Q units)
    demo_loss_weight: float = 1.0
    amp: str = "auto"                   # auto (bf16 on CUDA devices that support it) | off
    checkpoint_activations: bool = False
    # evaluation, logging, checkpoints
    eval_every: int | None = None       # transitions between greedy validation rounds
    eval_landscapes: int = 32          # validation episodes per round (same fires every round)
    checkpoint_every: int | None = None
    log_every: int = 200
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> "TrainConfig":
        """Fill the preset's values into unset fields, check everything."""
        preset_name = self.preset
        if preset_name == "auto":
            from qagent.train.presets import auto_preset

            grid = (self.grid_size, self.grid_size) if self.grid_size else None  # the grid this run trains on
            preset_name = auto_preset(_torch_device(self.device), grid).name
        p = get_preset(preset_name)
        c = dataclasses.replace(self, preset=preset_name)
        c.model = c.model or p.model
        c.grid_size = c.grid_size or p.grid_size[0]
        c.num_envs = c.num_envs or p.num_envs
        c.micro_batch = c.micro_batch or p.micro_batch
        c.accumulation_steps = c.accumulation_steps or p.accumulation_steps
        c.buffer_capacity = c.buffer_capacity or p.buffer_capacity
        c.steps = c.steps or DEFAULT_STEPS.get(preset_name, 200_000)
        if c.reward_scale is None:
            c.reward_scale = REWARD_SCALES.get(c.reward, 1.0)
        c.eval_every = c.eval_every or max(c.num_envs * 50, c.steps // 10)
        c.checkpoint_every = c.checkpoint_every or max(c.num_envs * 50, c.steps // 10)
        c.extra = dict(c.extra)
        if isinstance(c.fuel, str):
            c.fuel = c.fuel.upper()
        if c.synthetic_values is None and _has_synthetic_part(c.landscapes):  # "synthetic" or "synthetic+DIR"
            c.synthetic_values = DEFAULT_TRAINING_SYNTHETIC_VALUES
        if preset_name == p.name and self.model is None:
            c.extra.setdefault("model_kwargs", dict(p.model_kwargs))
        _check(c)
        return c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Values at risk of synthetic training landscapes: half the landscapes value every cell at 1
# (the burned area), half carry synthetic houses (qagent.env.sources), so that the default agent
# learns both to cut burned area and to protect the value its observation's value_at_risk
# channel shows.
DEFAULT_TRAINING_SYNTHETIC_VALUES = "mixed"

# Multipliers of the reward (a fraction) that bring a step's reward near 0.1-1 Q units: an absolute
# step (k = 5 cells) saves about 0.0004-0.004 of a tile, a relative one about 0.03 of the untreated
# burned area. Both defaults are the ones the runs in BENCHMARKS.md used.
REWARD_SCALES = {"absolute": 100.0, "relative": 10.0}

# The settings that fix what a network's Q-values mean, with the values that checkpoints written
# before a setting existed were trained with: resuming a run or averaging networks in an
# ensemble needs them equal.
Q_VALUE_SETTINGS = {"reward": "absolute", "reward_scale": 100.0, "gamma": 0.99, "cells_per_step": 5}


# What a network's Q-values are computed from: the observation channels. Checkpoints record
# theirs ("in_channels", and since values at risk "observation_channels"); these are the 13 of
# checkpoints written before the value_at_risk channel. A checkpoint whose channels differ from
# qagent.env.observation.OBSERVATION_CHANNELS is refused by
# qagent.train.checkpoint.check_observation_channels (resume, qagent-eval, qagent-plan).
LEGACY_OBSERVATION_CHANNELS = (
    "slope", "aspect_sin", "aspect_cos", "canopy_cover", "canopy_base_height", "burnable", "head_spread_rate",
    "intensity_north", "intensity_east", "intensity_south", "intensity_west", "burn_probability", "fuel_break",
)


def q_value_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The Q_VALUE_SETTINGS of a checkpoint's (or a TrainConfig's) config dict."""
    return {name: config.get(name, default) for name, default in Q_VALUE_SETTINGS.items()}


# Default run lengths per preset: demo trains in a few minutes on 2 CPU cores.
DEFAULT_STEPS = {"demo": 10_000, "low": 200_000, "medium": 400_000, "high": 800_000}


def _torch_device(device: str) -> str:
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def _check(c: TrainConfig) -> None:
    positive = ["grid_size", "num_envs", "micro_batch", "accumulation_steps", "buffer_capacity", "steps",
                "cells_per_step", "ignitions", "eval_landscapes", "log_every"]
    for name in positive:
        if not isinstance(getattr(c, name), int) or getattr(c, name) < 1:
            raise InputError(f"{name}: must be a positive integer, got {getattr(c, name)!r}")
    for name, lo, hi in [("budget_fraction", 0.0, 1.0), ("gamma", 0.0, 1.0), ("tau", 0.0, 1.0),
                         ("eps_start", 0.0, 1.0), ("eps_end", 0.0, 1.0), ("exploration_fraction", 0.0, 1.0),
                         ("warmup_fraction", 0.0, 1.0)]:
        v = getattr(c, name)
        if not (isinstance(v, (int, float)) and lo <= v <= hi):
            raise InputError(f"{name}: must lie in [{lo}, {hi}], got {v!r}")
    if not all(0 < v < math.inf for v in (c.learning_rate, c.updates_per_step, c.grad_clip, c.reward_scale)):
        raise InputError("learning_rate, updates_per_step, grad_clip and reward_scale must be positive and finite")
    if isinstance(c.seed, bool) or not isinstance(c.seed, int) or c.seed < 0:
        raise InputError(f"seed: must be an integer >= 0, got {c.seed!r}")
    from qagent._cli import FUEL_PRODUCTS

    if c.fuel not in FUEL_PRODUCTS:
        raise InputError(f"fuel: expected {' or '.join(FUEL_PRODUCTS)}, got {c.fuel!r}")
    from qagent.env.sources import VALUE_MODES

    if c.synthetic_values is not None:
        if c.synthetic_values not in VALUE_MODES:
            raise InputError(f"synthetic_values: expected one of {', '.join(VALUE_MODES)}, got {c.synthetic_values!r}")
        if not _has_synthetic_part(c.landscapes) and c.synthetic_values != "ones":
            raise InputError(f"synthetic_values: {c.synthetic_values!r} only applies to synthetic landscapes; give "
                             f"{c.landscapes} its values at risk with values (--values FILE.tif)")
    if c.values is not None and c.landscapes == "synthetic":
        raise InputError("values: synthetic landscapes have no map grid to align values at risk with; use "
                         "synthetic_values (--synthetic-values), or landscapes from a folder of LANDFIRE GeoTIFFs")
    from qagent.env.fuel_break_env import REWARDS

    if c.reward not in REWARDS:
        raise InputError(f"reward: expected {' or '.join(REWARDS)}, got {c.reward!r}")
    if c.amp not in ("auto", "off", "bf16"):
        raise InputError(f"amp: expected auto, bf16 or off, got {c.amp!r}")
    if c.init_weights is not None and not (isinstance(c.init_weights, str) and c.init_weights):
        raise InputError(f"init_weights: must be a checkpoint's path, got {c.init_weights!r}")
    if c.warm_start_episodes < 0 or c.learning_starts < 0:
        raise InputError("warm_start_episodes and learning_starts must be >= 0")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Flatten a TOML config file into TrainConfig field values, naming unknown keys."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"--config: no such file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"--config {path}: not valid TOML ({e})") from None
    names = {f.name for f in fields(TrainConfig)} - {"extra"}
    flat: dict[str, Any] = {}

    def visit(table: dict, where: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                visit(value, f"{where}{key}.")
            elif key in names:
                flat[key] = value
            else:
                raise InputError(f"--config {path}: unknown setting {where}{key}")

    visit(data, "")
    return flat


# Settings that choose a run's landscapes: an environment restored from a checkpoint holds
# landscape ids of its source, which another source would not have.
SOURCE_SETTINGS = ("landscapes", "grid_size", "fuel", "ignition_density", "values", "synthetic_values")


def _has_synthetic_part(landscapes: str) -> bool:
    """Whether a --landscapes spec trains on synthetic landscapes ("synthetic", "synthetic+DIR")."""
    return "synthetic" in str(landscapes).split("+")


def build_config(toml_path: str | None = None, *, base: dict[str, Any] | None = None,
                 **overrides: Any) -> TrainConfig:
    """Defaults, then ``base`` (a resumed run's settings), the TOML file and the overrides that
    are not None, resolved and checked."""
    values: dict[str, Any] = dict(base or {})
    if toml_path:
        values.update(load_toml(toml_path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values).resolved()
    except TypeError as e:
        raise InputError(f"configuration: {e}") from None
