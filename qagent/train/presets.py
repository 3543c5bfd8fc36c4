"""Training presets sized for the GPU memory at hand, and the memory estimates behind them.

``PRESETS`` holds four presets, smallest first, from a CPU-sized ``demo`` to a 4 GiB GPU, each
with its batch (micro-batch x accumulation), environments, replay capacity, model and grid.
:func:`estimate_memory_bytes` estimates the GPU memory of the run ``qagent-train --preset
NAME`` starts (weights, optimizer state, measured activations, observations, a fire-simulation
allowance) and its replay's host memory; :func:`choose_auto_preset` and :func:`auto_preset`
pick the largest preset that fits with headroom (``--preset auto``; ``demo`` on a CPU);
:func:`format_presets_table` is what ``qagent-train --list-presets`` prints;
:func:`configure_cuda_allocator` asks for expandable segments before CUDA starts.

The preset table, the terms of the estimate and the headroom of the automatic choice, with the
numbers: docs/memory_presets.md.
"""

from __future__ import annotations

import functools
import logging
import os
import textwrap
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from qagent._validation import InputError
from qagent.agent.models import MODEL_NAMES, build_model, count_parameters
from qagent.agent.replay import replay_bytes_per_transition
from qagent.env.observation import NUM_CHANNELS

logger = logging.getLogger(__name__)

# The estimates size the run the trainer starts: qagent.train.dqn builds its networks with
# NUM_CHANNELS input channels and its replay with TrainConfig.cells_per_step cells per action
# (trainer_cells_per_action()).
DEFAULT_IN_CHANNELS = NUM_CHANNELS
DEFAULT_SIMULATION_BYTES_PER_ENV_CELL = 1024
HEADROOM_FACTOR = 2.0
RUNTIME_RESERVE_BYTES = 1 << 30
ALLOC_CONF_VARS = ("PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF")


@dataclass(frozen=True)
class Preset:
    """A training configuration. The effective batch is ``micro_batch x accumulation_steps``
    samples per optimizer step; ``model`` is a ``qagent.agent.models`` name built with
    ``model_kwargs``; ``grid_size`` (H, W) the landscape tiles trained on."""

    name: str
    micro_batch: int
    accumulation_steps: int
    num_envs: int
    buffer_capacity: int
    model: str
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    grid_size: tuple[int, int] = (50, 50)
    description: str = ""

    def __post_init__(self):
        for name in ("micro_batch", "accumulation_steps", "num_envs", "buffer_capacity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"Preset.{name}: expected a positive integer, got {value!r}")
        if self.model not in MODEL_NAMES:
            raise InputError(f"Preset.model: unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if len(self.grid_size) != 2 or any(not isinstance(v, int) or v < 1 for v in self.grid_size):
            raise InputError(f"Preset.grid_size: expected (H, W) positive integers, got {self.grid_size!r}")
        object.__setattr__(self, "model_kwargs", MappingProxyType(dict(self.model_kwargs)))
        object.__setattr__(self, "grid_size", tuple(self.grid_size))

    @property
    def effective_batch(self) -> int:
        return self.micro_batch * self.accumulation_steps

    def build_model(self, in_channels: int = DEFAULT_IN_CHANNELS) -> torch.nn.Module:
        return build_model(self.model, in_channels, **self.model_kwargs)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("demo", 16, 1, 4, 10_000, "qnet", {"hidden": 32, "depth": 3}, (32, 32),
               "CPU-sized smoke run: small grid, network and buffer (meant to train in minutes on 2 cores)"),
        Preset("low", 16, 1, 8, 50_000, "qnet", {}, (50, 50),
               "small GPUs: basic QNet"),
        Preset("medium", 32, 1, 16, 75_000, "enhanced_efficient", {}, (50, 50),
               "mid-size GPUs: residual EnhancedQNet without attention or multi-scale"),
        Preset("high", 64, 1, 32, 100_000, "enhanced", {}, (50, 50),
               "4 GiB GPUs and up: EnhancedQNet with attention and multi-scale"),
    )
}
"""The presets, smallest first."""


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"preset: unknown name {name!r}; choose one of {', '.join(PRESETS)} (or auto)") from None


# ----------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated memory of a training run, in bytes (the terms: docs/memory_presets.md)."""

    weights: int
    optimizer_state: int
    activations: int
    observations: int
    simulation: int
    replay_host_bytes: int
    num_parameters: int

    @property
    def gpu_bytes(self) -> int:
        return self.weights + self.optimizer_state + self.activations + self.observations + self.simulation

    @property
    def required_free_bytes(self) -> int:
        """Free GPU memory the automatic choice asks for: headroom factor and runtime reserve."""
        return int(HEADROOM_FACTOR * self.gpu_bytes) + RUNTIME_RESERVE_BYTES


def estimate_memory_bytes(
    preset: Preset,
    grid_shape: tuple[int, int] | None = None,
    in_channels: int = DEFAULT_IN_CHANNELS,
    *,
    cells_per_action: int | None = None,
    simulation_bytes_per_env_cell: int = DEFAULT_SIMULATION_BYTES_PER_ENV_CELL,
) -> MemoryEstimate:
    """Memory estimate of training ``preset`` on ``grid_shape`` (default: the preset's grid)
    with ``in_channels`` observation channels and ``cells_per_action`` cells per replayed action
    (default: the trainer's, :func:`trainer_cells_per_action`); the terms are explained in
    docs/memory_presets.md."""
    if cells_per_action is None:
        cells_per_action = trainer_cells_per_action()
    height, width = preset.grid_size if grid_shape is None else grid_shape
    cells = height * width
    num_parameters, saved, largest = _activation_profile(preset.model, tuple(sorted(preset.model_kwargs.items())),
                                                         in_channels)
    saved_per_sample = saved[0] + saved[1] * cells
    largest_per_sample = largest[0] + largest[1] * cells
    training = preset.micro_batch * (saved_per_sample + 2 * largest_per_sample)
    acting = preset.num_envs * 3 * largest_per_sample
    return MemoryEstimate(
        weights=2 * 4 * num_parameters,
        optimizer_state=3 * 4 * num_parameters,
        activations=int(max(training, acting)),
        observations=(2 * preset.effective_batch + preset.num_envs) * in_channels * cells * 4,
        simulation=preset.num_envs * cells * simulation_bytes_per_env_cell,
        replay_host_bytes=int(replay_bytes_per_transition(preset.buffer_capacity, (height, width), cells_per_action)
                              * preset.buffer_capacity),
        num_parameters=num_parameters,
    )


# Cells per action of a ``qagent-train`` run (k): the default of ``TrainConfig.cells_per_step``
# (qagent.train.config imports this module, never the reverse).
TRAINER_CELLS_PER_STEP = 5


def trainer_cells_per_action() -> int:
    """Cells per action of a ``qagent-train`` run (``TrainConfig.cells_per_step``, k), which
    sets the size of a replayed action."""
    return TRAINER_CELLS_PER_STEP


@functools.lru_cache(maxsize=None)
def _activation_profile(model: str, kwargs: tuple,
                        in_channels: int) -> tuple[int, tuple[float, float], tuple[float, float]]:
    """(parameter count, saved bytes per sample as (a, b) with bytes = a + b H W, largest
    feature map per sample likewise), from training-mode forward passes at 8 x 8 and 16 x 16."""
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's RNG alone
        net = build_model(model, in_channels, **dict(kwargs))
    if getattr(net, "checkpoint_activations", False):
        net.checkpoint_activations = False  # measure every stage's activations: an upper bound
    net.train()
    sizes, saved, largest = (64, 256), [], []
    for side in (8, 16):
        s, l = _measure_activations(net, in_channels, side, batch=2)
        saved.append(s / 2)
        largest.append(l / 2)
    return count_parameters(net), _fit_linear(sizes, saved), _fit_linear(sizes, largest)


def _measure_activations(net: torch.nn.Module, in_channels: int, side: int, batch: int) -> tuple[int, int]:
    """Bytes autograd saves for the backward pass (distinct storages, without parameters and
    input) and the largest module output, for one forward of ``batch`` side x side grids."""
    obs = torch.zeros(batch, in_channels, side, side)
    excluded = {p.untyped_storage().data_ptr() for p in net.parameters()} | {obs.untyped_storage().data_ptr()}
    saved: dict[int, int] = {}
    largest = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in excluded:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    def record_output(module, inputs, output) -> None:
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.untyped_storage().nbytes())

    hooks = [m.register_forward_hook(record_output) for m in net.modules()]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = net(obs)  # noqa: F841  (keeps the graph, hence the saved storages, alive)
            total = sum(saved.values())
    finally:
        for h in hooks:
            h.remove()
    return total, largest


def _fit_linear(x: tuple[int, int], y: list[float]) -> tuple[float, float]:
    slope = (y[1] - y[0]) / (x[1] - x[0])
    return max(0.0, y[0] - slope * x[0]), slope


# ----------------------------------------------------------------------------- choosing
def choose_auto_preset(free_bytes: int, grid_shape: tuple[int, int] | None = None,
                       in_channels: int = DEFAULT_IN_CHANNELS) -> Preset:
    """The largest preset whose estimate (at ``grid_shape``, default each preset's own grid)
    fits ``free_bytes`` with headroom (``MemoryEstimate.required_free_bytes``). If none fits,
    the smallest, with a warning: ``OOMRetry`` will then shrink its micro-batch."""
    for preset in reversed(list(PRESETS.values())):
        if estimate_memory_bytes(preset, grid_shape, in_channels).required_free_bytes <= free_bytes:
            return preset
    smallest = next(iter(PRESETS.values()))
    need = estimate_memory_bytes(smallest, grid_shape, in_channels).required_free_bytes
    logger.warning("no preset fits %s of free GPU memory (the smallest, %r, asks for %s); using it anyway",
                   format_bytes(free_bytes), smallest.name, format_bytes(need))
    return smallest


def auto_preset(device: torch.device | str | None = None, grid_shape: tuple[int, int] | None = None,
                in_channels: int = DEFAULT_IN_CHANNELS) -> Preset:
    """The preset for ``device``: on CUDA chosen by :func:`choose_auto_preset` from the free
    memory (``torch.cuda.mem_get_info``); on the CPU ``demo`` (time, not memory, limits a CPU
    run; pass ``--preset low`` for a longer one)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        free_bytes, _ = torch.cuda.mem_get_info(dev)
        return choose_auto_preset(free_bytes, grid_shape, in_channels)
    return PRESETS["demo"]


def configure_cuda_allocator() -> bool:
    """Ask PyTorch's CUDA caching allocator for expandable segments, which map more memory
    into an existing segment instead of allocating new fixed-size blocks, and so avoid the
    fragmentation behind many "reserved but unallocated" OOMs (PyTorch docs, "CUDA memory
    management"). Sets ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`` unless the user
    set ``PYTORCH_CUDA_ALLOC_CONF`` or ``PYTORCH_ALLOC_CONF``; returns whether it did. The
    allocator reads the variable when CUDA initialises, so this must run first: if CUDA is
    already initialised it only warns and returns False."""
    if any(var in os.environ for var in ALLOC_CONF_VARS):
        return False
    if torch.cuda.is_initialized():
        warnings.warn("configure_cuda_allocator: CUDA is already initialised, so PYTORCH_CUDA_ALLOC_CONF would have "
                      "no effect; call it before any CUDA work", RuntimeWarning, stacklevel=2)
        return False
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"
    return True


# ----------------------------------------------------------------------------- listing
def format_bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def memory_report(device: torch.device) -> str:
    """The memory line of the log messages: GPU memory allocated, reserved and free, or the
    host's peak resident memory."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return (f"GPU memory: {format_bytes(torch.cuda.memory_allocated(device))} allocated, "
                f"{format_bytes(torch.cuda.memory_reserved(device))} reserved, {format_bytes(free)} free of "
                f"{format_bytes(total)}")
    import resource

    return f"host memory: peak resident {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"


def format_presets_table(in_channels: int = DEFAULT_IN_CHANNELS) -> str:
    """The table ``qagent-train --list-presets`` prints: per preset the batch, environments,
    replay capacity, model, grid and the estimated GPU memory and replay RAM."""
    header = ("preset", "batch", "envs", "buffer", "model", "params", "grid", "est. GPU", "needs free", "replay RAM")
    rows = [header]
    for p in PRESETS.values():
        est = estimate_memory_bytes(p, in_channels=in_channels)
        rows.append((
            p.name, f"{p.micro_batch} x {p.accumulation_steps}", str(p.num_envs), f"{p.buffer_capacity // 1000}k",
            p.model, f"{est.num_parameters / 1e3:.0f}k", f"{p.grid_size[0]} x {p.grid_size[1]}",
            format_bytes(est.gpu_bytes), format_bytes(est.required_free_bytes), format_bytes(est.replay_host_bytes),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 4) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.extend(f"{p.name}: {p.description}" for p in PRESETS.values())
    lines.append("")
    lines.append(textwrap.fill(
        f"batch = micro-batch x gradient-accumulation steps. Estimates for {in_channels} observation channels at each "
        f"preset's grid: weights, Adam state, activations (measured), observations and a fire-simulation allowance. "
        f"auto picks the largest preset with {HEADROOM_FACTOR:g} x estimate + {format_bytes(RUNTIME_RESERVE_BYTES)} "
        f"<= free GPU memory ('needs free'), and demo on a CPU. The replay buffer is in host RAM.",
        width=100,
    ))
    return "\n".join(lines)
