"""Experience replay that stores compact states, uniform or prioritized.

A transition is stored as its landscape id, the bit-packed fuel-break mask before the step,
the action's k cells, the reward and the done and demonstration flags (323 B + 4 k at 50 x 50):
observations are rebuilt from the landscape's static channels and the masks when a batch is
sampled, and the next state's mask is the mask before | the action's cells
(:meth:`Batch.mask_after`). Storage is preallocated numpy arrays used as a ring.
:class:`UniformReplay` samples uniformly; :class:`PrioritizedReplay` is Schaul et al.'s (2016)
proportional prioritized replay on a :class:`SumTree`, whose priorities must be updated after
the learning step on the indices it sampled, before anything else is added.

The layout with its byte counts, and prioritized replay with its equations: docs/training.md,
"Replay".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qagent._validation import InputError


@dataclass
class Batch:
    """A sampled batch of B transitions (numpy arrays, leading dimension B).

    ``indices`` are the buffer slots (for ``update_priorities``); ``weights`` the importance
    weights (all 1 for uniform replay); ``mask_packed`` the bit-packed break masks before the
    step, unpacked by :meth:`mask_before`; the state after the step has the same landscape
    and the mask :meth:`mask_after`."""

    indices: np.ndarray  # int64 [B]
    landscape_id: np.ndarray  # int32 [B]
    mask_packed: np.ndarray  # uint8 [B, ceil(H*W/8)]
    action_cells: np.ndarray  # int32 [B, k], flat cell indices
    reward: np.ndarray  # float32 [B]
    done: np.ndarray  # bool [B]
    weights: np.ndarray  # float32 [B]
    grid_shape: tuple[int, int]
    demo: np.ndarray | None = None  # bool [B]: demonstration transitions

    def __len__(self) -> int:
        return len(self.indices)

    def mask_before(self) -> np.ndarray:
        """The fuel-break masks before the step, bool [B, H, W]."""
        return unpack_masks(self.mask_packed, self.grid_shape)

    def mask_after(self) -> np.ndarray:
        """The fuel-break masks after the step (before | action cells), bool [B, H, W]."""
        mask = self.mask_before()
        mask.reshape(len(self), -1)[np.arange(len(self))[:, None], self.action_cells] = True
        return mask


def pack_masks(masks: np.ndarray) -> np.ndarray:
    """bool [N, H, W] -> uint8 [N, ceil(H W / 8)], row-major bits (numpy.packbits)."""
    return np.packbits(masks.reshape(len(masks), -1), axis=1)


def unpack_masks(packed: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`pack_masks`: uint8 [N, ceil(H W / 8)] -> bool [N, H, W]."""
    height, width = grid_shape
    bits = np.unpackbits(packed, axis=1, count=height * width)
    return bits.view(np.bool_).reshape(len(packed), height, width)


class SumTree:
    """Sum tree over ``capacity`` non-negative leaves, vectorised over batches of indices.

    Heap layout in one float64 array: node 1 is the root, node n has children 2n and 2n + 1,
    leaf i is node L + i, L = capacity rounded up to a power of two (so every leaf has the
    same depth and the descent is a fixed log2(L) steps; padding leaves stay 0). Parents are
    recomputed from their children, never incremented, so rounding errors cannot accumulate."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._num_leaves = self.num_nodes(capacity) // 2
        self._depth = self._num_leaves.bit_length() - 1
        self.nodes = np.zeros(2 * self._num_leaves, dtype=np.float64)

    @staticmethod
    def num_nodes(capacity: int) -> int:
        """Length of the node array for ``capacity`` leaves (index 0 unused)."""
        return 2 << max(0, (capacity - 1).bit_length())

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self._num_leaves + np.asarray(indices, dtype=np.int64)]

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``indices`` to ``values`` (repeated indices: the last value wins) and
        update their ancestors, one level at a time: O(len(indices) log N)."""
        nodes = self._num_leaves + np.asarray(indices, dtype=np.int64)
        self.nodes[nodes] = values
        for _ in range(self._depth):
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index i with cumsum(leaves)[i - 1] <= value < cumsum(leaves)[i], for each value
        in [0, total). A descent never enters an empty subtree, so rounding at a boundary
        cannot pick a zero-priority leaf."""
        values = np.array(values, dtype=np.float64)
        nodes = np.ones(len(values), dtype=np.int64)
        for _ in range(self._depth):
            left = 2 * nodes
            left_sum = self.nodes[left]
            go_right = (values >= left_sum) & (self.nodes[left + 1] > 0)
            values -= np.where(go_right, left_sum, 0.0)
            nodes = left + go_right
        return nodes - self._num_leaves


def replay_bytes_per_transition(capacity: int, grid_shape: tuple[int, int], cells_per_action: int,
                                prioritized: bool = True) -> float:
    """What ``bytes_per_transition()`` of such a buffer returns, without allocating it (for
    memory estimates at sizes that should not be allocated just to be measured)."""
    height, width = grid_shape
    slot = 4 + (height * width + 7) // 8 + 4 * cells_per_action + 4 + 1 + 1  # docs/training.md, "Replay"
    tree = SumTree.num_nodes(capacity) * 8 if prioritized else 0
    return slot + tree / capacity


class ReplayBuffer:
    """Ring storage of compact transitions, shared by :class:`UniformReplay` and
    :class:`PrioritizedReplay` (the layout: docs/training.md, "Replay")."""

    kind = "base"

    def __init__(self, capacity: int, grid_shape: tuple[int, int], cells_per_action: int):
        _check_int("capacity", capacity, 1)
        if len(grid_shape) != 2:
            raise InputError(f"grid_shape: expected (H, W), got {grid_shape!r}")
        for name, value in zip(("grid_shape[0] (H)", "grid_shape[1] (W)"), grid_shape):
            _check_int(name, value, 1)
        _check_int("cells_per_action", cells_per_action, 1)
        height, width = (int(v) for v in grid_shape)
        if cells_per_action > height * width:
            raise InputError(f"cells_per_action: {cells_per_action} exceeds the {height * width} cells of the grid")
        self.capacity = int(capacity)
        self.grid_shape = (height, width)
        self.cells_per_action = int(cells_per_action)
        self._landscape_id = np.zeros(capacity, dtype=np.int32)
        self._mask_packed = np.zeros((capacity, (height * width + 7) // 8), dtype=np.uint8)
        self._action_cells = np.zeros((capacity, cells_per_action), dtype=np.int32)
        self._reward = np.zeros(capacity, dtype=np.float32)
        self._done = np.zeros(capacity, dtype=np.bool_)
        self._demo = np.zeros(capacity, dtype=np.bool_)
        self._cursor = 0  # next slot to write
        self._size = 0

    _FIELDS = ("landscape_id", "mask_packed", "action_cells", "reward", "done", "demo")
    # columns of buffers saved by earlier versions that this one no longer keeps: ignored on
    # load (an int64 episode seed per transition, which nothing read)
    _RETIRED_FIELDS = ("seed",)

    def __len__(self) -> int:
        return self._size

    def _arrays(self) -> list[np.ndarray]:
        return [getattr(self, "_" + name) for name in self._FIELDS]

    def bytes_per_transition(self) -> float:
        """Storage bytes per slot: every preallocated array (the sum tree included) divided by
        the capacity."""
        return sum(a.nbytes for a in self._arrays()) / self.capacity

    # ------------------------------------------------------------------ adding
    def add(self, landscape_id: int, mask_before, action_cells, reward: float, done: bool,
            demo: bool = False) -> int:
        """Store one transition; returns its slot. ``mask_before``: bool [H, W], the breaks
        before the step; ``action_cells``: the k flat cell indices the action adds; ``demo``:
        the action came from a demonstrator."""
        slots = self.add_batch(
            np.asarray([landscape_id]), np.asarray(mask_before)[None],
            np.asarray(action_cells)[None], np.asarray([reward]), np.asarray([done]), demo=demo,
        )
        return int(slots[0])

    def add_batch(self, landscape_id, mask_before, action_cells, reward, done, demo=False) -> np.ndarray:
        """Store N transitions (e.g. one step of N environments) in order; returns their slots.
        Shapes: landscape_id, reward, done [N]; mask_before bool [N, H, W]; action_cells
        integer [N, k]; demo a bool or bool [N]. N may not exceed the capacity."""
        landscape_id, mask_before, action_cells, reward, done = self._validated(
            landscape_id, mask_before, action_cells, reward, done
        )
        slots = (self._cursor + np.arange(len(landscape_id))) % self.capacity
        self._landscape_id[slots] = landscape_id
        self._mask_packed[slots] = pack_masks(mask_before)
        self._action_cells[slots] = action_cells
        self._reward[slots] = reward
        self._done[slots] = done
        self._demo[slots] = np.broadcast_to(np.asarray(demo, dtype=np.bool_), slots.shape)
        self._cursor = int((self._cursor + len(slots)) % self.capacity)
        self._size = min(self.capacity, self._size + len(slots))
        self._on_added(slots)
        return slots

    def _on_added(self, slots: np.ndarray) -> None:
        """Hook for subclasses: ``slots`` were just written."""

    def _validated(self, landscape_id, mask_before, action_cells, reward, done):
        landscape_id = np.asarray(landscape_id)
        mask_before, action_cells = np.asarray(mask_before), np.asarray(action_cells)
        reward, done = np.asarray(reward), np.asarray(done)
        n = landscape_id.shape[0] if landscape_id.ndim == 1 else -1
        if n < 1:
            raise InputError(f"landscape_id: expected a 1-D array of N >= 1 ids, got shape {landscape_id.shape}")
        if n > self.capacity:
            raise InputError(f"landscape_id: {n} transitions at once exceed the capacity {self.capacity}")
        height, width = self.grid_shape
        expected = {
            "mask_before": (mask_before, (n, height, width)),
            "action_cells": (action_cells, (n, self.cells_per_action)),
            "reward": (reward, (n,)),
            "done": (done, (n,)),
        }
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise InputError(f"{name}: shape {array.shape}, expected {shape} "
                                 f"(N, H, W, k = {n}, {height}, {width}, {self.cells_per_action})")
        if mask_before.dtype != np.bool_:
            raise InputError(f"mask_before: expected a bool array, got {mask_before.dtype}")
        if done.dtype != np.bool_:
            raise InputError(f"done: expected a bool array, got {done.dtype}")
        for name, array, lo, hi in (
            ("landscape_id", landscape_id, 0, np.iinfo(np.int32).max),
            ("action_cells", action_cells, 0, height * width - 1),
        ):
            if array.dtype.kind not in "iu":
                raise InputError(f"{name}: expected integers, got {array.dtype}")
            bad = (array < lo) | (array > hi)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise InputError(f"{name}: value {array[where]} at index {where} is outside [{lo}, {hi}]")
        if reward.dtype.kind not in "fiu" or not np.all(np.isfinite(reward)):
            bad = int(np.argmax(~np.isfinite(reward))) if reward.dtype.kind == "f" else 0
            raise InputError(f"reward: expected finite numbers, got {reward[bad]!r} at index {bad}")
        return landscape_id, mask_before, action_cells, reward, done

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Draw ``batch_size`` transitions (with replacement) using ``rng``."""
        _check_int("batch_size", batch_size, 1)
        if self._size == 0:
            raise InputError("sample: the replay buffer is empty")
        slots, weights = self._choose(batch_size, rng)
        return Batch(
            indices=slots,
            landscape_id=self._landscape_id[slots],
            mask_packed=self._mask_packed[slots],
            action_cells=self._action_cells[slots],
            reward=self._reward[slots],
            done=self._done[slots],
            weights=weights,
            grid_shape=self.grid_shape,
            demo=self._demo[slots],
        )

    def _choose(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The buffer's contents and configuration, as torch tensors (copies of the filled
        slots) and plain Python values, so ``torch.save`` / ``torch.load(weights_only=True)``
        handle it."""
        state: dict[str, Any] = {
            "kind": self.kind,
            "capacity": self.capacity,
            "grid_shape": list(self.grid_shape),
            "cells_per_action": self.cells_per_action,
            "cursor": self._cursor,
            "size": self._size,
        }
        for name in self._FIELDS:
            state[name] = torch.from_numpy(getattr(self, "_" + name)[: self._size].copy())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the configuration must match. A state
        saved by an earlier version restores too: its retired columns (``_RETIRED_FIELDS``)
        are checked for size and dropped, and a missing ``demo`` column means no
        demonstrations."""
        config = {"kind": self.kind, "capacity": self.capacity, "grid_shape": list(self.grid_shape),
                  "cells_per_action": self.cells_per_action}
        for key, value in config.items():
            if key not in state or _plain(state[key]) != value:
                raise InputError(f"state_dict: {key} is {state.get(key)!r}, this buffer has {value!r}")
        size, cursor = int(state["size"]), int(state["cursor"])
        if not 0 <= size <= self.capacity or not 0 <= cursor < self.capacity:
            raise InputError(f"state_dict: size {size} / cursor {cursor} do not fit the capacity {self.capacity}")
        for name in self._RETIRED_FIELDS:
            if name in state and len(_as_numpy(state[name])) != size:
                raise InputError(f"state_dict: {name} has {len(_as_numpy(state[name]))} rows, expected {size}")
        for name in self._FIELDS:
            target = getattr(self, "_" + name)
            if name == "demo" and name not in state:  # states saved before the demo flag existed
                target[:] = False
                continue
            source = _as_numpy(state[name])
            if source.shape != (size, *target.shape[1:]) or source.dtype != target.dtype:
                raise InputError(f"state_dict: {name} has shape {source.shape} and dtype {source.dtype}, "
                                 f"expected {(size, *target.shape[1:])} {target.dtype}")
            target[:size] = source
            target[size:] = 0
        self._size, self._cursor = size, cursor


class UniformReplay(ReplayBuffer):
    """Replay with uniform sampling (with replacement); all importance weights are 1.

    ``UniformReplay(capacity, grid_shape=(H, W), cells_per_action=k)``; ``add`` /
    ``add_batch`` / ``sample(batch_size, rng) -> Batch`` / ``state_dict`` as in
    :class:`ReplayBuffer`."""

    kind = "uniform"

    def _choose(self, batch_size, rng):
        return rng.integers(0, self._size, size=batch_size), np.ones(batch_size, dtype=np.float32)


class PrioritizedReplay(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016) on a :class:`SumTree`.

    ``alpha``: how strongly priorities skew sampling (0 = uniform); ``beta0``: the initial
    importance-sampling exponent, raised to 1 by :meth:`anneal_beta`; ``eps``: added to |TD|
    so no transition gets probability 0. After a learning step call
    ``update_priorities(batch.indices, td_errors)``."""

    kind = "prioritized"

    def __init__(self, capacity: int, grid_shape: tuple[int, int], cells_per_action: int,
                 alpha: float = 0.6, beta0: float = 0.4, eps: float = 1e-6):
        super().__init__(capacity, grid_shape, cells_per_action)
        for name, value, lo, hi in (("alpha", alpha, 0.0, 1.0), ("beta0", beta0, 0.0, 1.0),
                                    ("eps", eps, 0.0, math.inf)):
            if not (isinstance(value, (int, float)) and lo <= value <= hi) or (name == "eps" and value <= 0):
                raise InputError(f"{name}: {value!r} is outside {'(0, inf)' if name == 'eps' else f'[{lo}, {hi}]'}")
        self.alpha, self.beta0, self.eps = float(alpha), float(beta0), float(eps)
        self.beta = self.beta0
        self._tree = SumTree(capacity)
        self._max_priority = 1.0  # largest p^alpha so far: the priority of new transitions

    def _arrays(self) -> list[np.ndarray]:
        return [*super()._arrays(), self._tree.nodes]

    def anneal_beta(self, fraction: float) -> None:
        """Set beta = beta0 + fraction (1 - beta0), ``fraction`` of training done (clipped
        to [0, 1]): the paper's linear annealing of beta to 1."""
        self.beta = self.beta0 + min(max(float(fraction), 0.0), 1.0) * (1.0 - self.beta0)

    def priorities(self, indices) -> np.ndarray:
        """The sampling priorities p^alpha of ``indices``."""
        return self._tree.get(indices)

    def total_priority(self) -> float:
        """Sum of p^alpha over the buffer (the sum tree's root)."""
        return self._tree.total

    def _on_added(self, slots):
        self._tree.set(slots, self._max_priority)

    def update_priorities(self, indices, td_errors) -> None:
        """Set p_i = (|td_error_i| + eps)^alpha for the sampled ``indices``."""
        indices, td = np.asarray(indices), np.asarray(td_errors, dtype=np.float64)
        if indices.ndim != 1 or td.shape != indices.shape:
            raise InputError(f"td_errors: shape {td.shape} does not match indices {indices.shape}")
        if indices.dtype.kind not in "iu" or ((indices < 0) | (indices >= self._size)).any():
            raise InputError(f"indices: expected slots in [0, {self._size}), got {indices[:8]!r}...")
        if not np.all(np.isfinite(td)):
            bad = int(np.argmax(~np.isfinite(td)))
            raise InputError(f"td_errors: value {td[bad]} at index {bad} is not finite")
        priorities = (np.abs(td) + self.eps) ** self.alpha
        self._tree.set(indices, priorities)
        self._max_priority = max(self._max_priority, float(priorities.max()))

    def _choose(self, batch_size, rng):
        total = self._tree.total
        bounds = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        slots = self._tree.find(np.minimum(bounds, np.nextafter(total, 0.0)))
        probabilities = self._tree.get(slots) / total
        weights = (self._size * probabilities) ** -self.beta
        return slots, (weights / weights.max()).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            alpha=self.alpha, beta0=self.beta0, beta=self.beta, eps=self.eps, max_priority=self._max_priority,
            priorities=torch.from_numpy(self._tree.get(np.arange(self._size))),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        priorities = _as_numpy(state["priorities"]).astype(np.float64)
        if priorities.shape != (self._size,):
            raise InputError(f"state_dict: priorities has shape {priorities.shape}, expected ({self._size},)")
        self.alpha, self.beta0, self.beta, self.eps = (float(state[k]) for k in ("alpha", "beta0", "beta", "eps"))
        self._max_priority = float(state["max_priority"])
        self._tree = SumTree(self.capacity)
        self._tree.set(np.arange(self._size), priorities)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name}: expected an integer >= {minimum}, got {value!r}")


def _as_numpy(value) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _plain(value):
    """Tuples and lists compare alike in a loaded state dict."""
    return list(value) if isinstance(value, (tuple, list)) else value
