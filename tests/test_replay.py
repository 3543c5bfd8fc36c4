"""Compact replay: sum-tree invariants, proportional sampling, importance weights, ring
overwrite, packed masks, storage size and checkpoints."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from scipy import stats

from qagent._validation import InputError
from qagent.agent.replay import (
    PrioritizedReplay,
    SumTree,
    UniformReplay,
    pack_masks,
    replay_bytes_per_transition,
    unpack_masks,
)


def fill(buffer, n: int, rng: np.random.Generator, start_id: int = 0) -> list[dict]:
    """Add n random transitions one at a time; returns them."""
    h, w = buffer.grid_shape
    added = []
    for i in range(n):
        t = dict(
            landscape_id=start_id + i,
            mask_before=rng.random((h, w)) < 0.2,
            action_cells=rng.choice(h * w, buffer.cells_per_action, replace=False).astype(np.int32),
            reward=float(rng.normal()),
            done=bool(rng.random() < 0.1),
        )
        buffer.add(**t)
        added.append(t)
    return added


# ----------------------------------------------------------------------------- sum tree
@pytest.mark.parametrize("capacity", [1, 2, 5, 1000, 1024])
def test_sum_tree_nodes_are_sums_of_children_after_random_updates(capacity):
    rng = np.random.default_rng(capacity)
    tree = SumTree(capacity)
    leaves = np.zeros(capacity)
    for _ in range(50):
        idx = rng.integers(0, capacity, size=rng.integers(1, 20))
        values = rng.random(len(idx)) * rng.choice([0.0, 1.0, 1e3], size=len(idx))
        tree.set(idx, values)
        for i, v in zip(idx, values):  # repeated indices: the last value wins
            leaves[i] = v
    np.testing.assert_array_equal(tree.get(np.arange(capacity)), leaves)
    nodes = tree.nodes
    internal = np.arange(1, len(nodes) // 2)
    np.testing.assert_array_equal(nodes[internal], nodes[2 * internal] + nodes[2 * internal + 1])
    assert tree.total == pytest.approx(leaves.sum(), rel=1e-12)
    assert not nodes[len(nodes) // 2 + capacity:].any()  # padding leaves stay empty


def test_sum_tree_find_matches_a_cumulative_sum_search_and_skips_empty_leaves():
    rng = np.random.default_rng(0)
    tree = SumTree(37)
    leaves = rng.random(37) * (rng.random(37) < 0.6)  # many zeros
    tree.set(np.arange(37), leaves)
    values = rng.random(10_000) * tree.total
    expected = np.searchsorted(np.cumsum(leaves), values, side="right")
    np.testing.assert_array_equal(tree.find(values), expected)
    edges = np.cumsum(leaves)[:-1]  # values exactly on boundaries, and the very top
    found = tree.find(np.concatenate([edges[edges < tree.total], [np.nextafter(tree.total, 0)]]))
    assert (leaves[found] > 0).all()


# ----------------------------------------------------------------------------- sampling
def test_prioritized_sampling_frequencies_are_proportional_to_priorities():
    rng = np.random.default_rng(42)
    buffer = PrioritizedReplay(16, (4, 4), 2, alpha=0.6)
    fill(buffer, 16, rng)
    td = rng.random(16) * 3.0
    buffer.update_priorities(np.arange(16), td)
    expected_p = (np.abs(td) + buffer.eps) ** 0.6
    expected_p /= expected_p.sum()
    np.testing.assert_allclose(buffer.priorities(np.arange(16)) / buffer.total_priority(), expected_p, rtol=1e-12)
    counts = np.zeros(16)
    for _ in range(500):
        np.add.at(counts, buffer.sample(64, rng).indices, 1)
    result = stats.chisquare(counts, counts.sum() * expected_p)
    assert result.pvalue > 1e-3, result
    # and clearly not uniform
    assert stats.chisquare(counts).pvalue < 1e-6


def test_stratified_sampling_covers_the_priority_mass_in_order():
    """One draw per equal segment of the cumulative priority: with equal priorities a batch
    of the buffer's size takes every slot exactly once, in slot order."""
    buffer = PrioritizedReplay(10, (3, 3), 1)
    fill(buffer, 10, np.random.default_rng(0))
    batch = buffer.sample(10, np.random.default_rng(1))
    np.testing.assert_array_equal(batch.indices, np.arange(10))


def test_importance_weights_follow_the_formula_and_are_normalised_by_the_batch_max():
    rng = np.random.default_rng(3)
    buffer = PrioritizedReplay(20, (5, 5), 3, alpha=0.7, beta0=0.4)
    fill(buffer, 20, rng)
    buffer.update_priorities(np.arange(20), rng.normal(size=20) * 2)
    buffer.anneal_beta(0.5)
    assert buffer.beta == pytest.approx(0.7)
    batch = buffer.sample(8, rng)
    p = buffer.priorities(batch.indices) / buffer.total_priority()
    w = (20 * p) ** -0.7
    np.testing.assert_allclose(batch.weights, w / w.max(), rtol=1e-6)
    assert batch.weights.max() == 1.0 and batch.weights.dtype == np.float32


def test_new_transitions_get_the_largest_priority_so_far():
    rng = np.random.default_rng(5)
    buffer = PrioritizedReplay(8, (3, 3), 1, alpha=1.0)
    fill(buffer, 4, rng)
    np.testing.assert_array_equal(buffer.priorities(np.arange(4)), 1.0)
    buffer.update_priorities(np.array([0, 1]), np.array([5.0, -0.5]))
    fill(buffer, 1, rng)
    assert buffer.priorities([4])[0] == pytest.approx(5.0 + buffer.eps)


def test_uniform_sampling_stays_within_the_filled_slots():
    rng = np.random.default_rng(6)
    buffer = UniformReplay(100, (4, 6), 2)
    fill(buffer, 7, rng)
    batch = buffer.sample(500, rng)
    assert set(batch.indices) == set(range(7))
    np.testing.assert_array_equal(batch.weights, 1.0)


# ----------------------------------------------------------------------------- storage
@pytest.mark.parametrize("cls", [UniformReplay, PrioritizedReplay])
def test_ring_overwrites_the_oldest_transitions(cls):
    rng = np.random.default_rng(7)
    buffer = cls(5, (3, 4), 2)
    added = fill(buffer, 8, rng)
    assert len(buffer) == 5
    batch = buffer.sample(200, rng)
    assert set(batch.landscape_id) == {3, 4, 5, 6, 7}
    for i, slot in enumerate(batch.indices[:20]):
        t = added[int(batch.landscape_id[i])]
        assert slot == t["landscape_id"] % 5
        np.testing.assert_array_equal(batch.action_cells[i], t["action_cells"])
        assert batch.done[i] == t["done"]
        assert batch.reward[i] == np.float32(t["reward"])


def test_masks_round_trip_and_the_next_mask_adds_the_action_cells():
    rng = np.random.default_rng(8)
    buffer = UniformReplay(50, (7, 13), 4)  # 91 cells: the last packed byte is partial
    added = fill(buffer, 30, rng)
    batch = buffer.sample(64, rng)
    assert batch.mask_packed.shape == (64, 12)
    before, after = batch.mask_before(), batch.mask_after()
    for i in range(len(batch)):
        t = added[int(batch.landscape_id[i])]
        np.testing.assert_array_equal(before[i], t["mask_before"])
        expected = t["mask_before"].copy().reshape(-1)
        expected[t["action_cells"]] = True
        np.testing.assert_array_equal(after[i], expected.reshape(7, 13))
    masks = rng.random((5, 1, 1)) < 0.5
    np.testing.assert_array_equal(unpack_masks(pack_masks(masks), (1, 1)), masks)


def test_add_batch_stores_several_environments_at_once():
    rng = np.random.default_rng(9)
    buffer = PrioritizedReplay(10, (4, 4), 2)
    masks = rng.random((3, 4, 4)) < 0.5
    slots = buffer.add_batch(np.array([1, 2, 3]), masks, np.array([[0, 1], [2, 3], [4, 5]]),
                             np.array([0.5, 1.0, -1.0]), np.array([False, True, False]))
    np.testing.assert_array_equal(slots, [0, 1, 2])
    assert len(buffer) == 3 and buffer.total_priority() == pytest.approx(3.0)


def test_bytes_per_transition_at_50x50_is_under_2_kb():
    for cls in (UniformReplay, PrioritizedReplay):
        buffer = cls(100_000, (50, 50), 10)
        per_slot = buffer.bytes_per_transition()
        print(cls.__name__, "bytes per transition at 50 x 50, k = 10:", per_slot)
        assert per_slot < 2048
    # 4 (id) + 313 (packed mask) + 40 (cells) + 4 (reward) + 1 (done) + 1 (demo)
    # = 363 bytes, plus the sum tree: 2 * 131072 float64 nodes over 100 000 slots
    assert UniformReplay(100_000, (50, 50), 10).bytes_per_transition() == 363
    assert PrioritizedReplay(100_000, (50, 50), 10).bytes_per_transition() == pytest.approx(363 + 2 * 131072 * 8 / 1e5)


@pytest.mark.parametrize("capacity, shape, k", [(1, (1, 1), 1), (5, (7, 13), 4), (1000, (50, 50), 25), (1024, (3, 8), 2)])
def test_bytes_per_transition_can_be_predicted_without_allocating(capacity, shape, k):
    uniform, prioritized = UniformReplay(capacity, shape, k), PrioritizedReplay(capacity, shape, k)
    assert replay_bytes_per_transition(capacity, shape, k, prioritized=False) == uniform.bytes_per_transition()
    assert replay_bytes_per_transition(capacity, shape, k) == prioritized.bytes_per_transition()


@pytest.mark.parametrize("cls", [UniformReplay, PrioritizedReplay])
def test_state_dict_round_trips_through_torch_save(cls):
    rng = np.random.default_rng(10)
    buffer = cls(12, (5, 6), 3)
    fill(buffer, 17, rng)
    if cls is PrioritizedReplay:
        buffer.update_priorities(np.arange(12), rng.normal(size=12))
        buffer.anneal_beta(0.25)
    stream = io.BytesIO()
    torch.save(buffer.state_dict(), stream)
    stream.seek(0)
    restored = cls(12, (5, 6), 3)
    restored.load_state_dict(torch.load(stream, weights_only=True))
    assert len(restored) == len(buffer)
    a, b = buffer.sample(40, np.random.default_rng(1)), restored.sample(40, np.random.default_rng(1))
    for field in ("indices", "landscape_id", "mask_packed", "action_cells", "reward", "done", "weights"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    t = dict(landscape_id=99, mask_before=np.ones((5, 6), bool), action_cells=[0, 1, 2], reward=0.0, done=True)
    assert buffer.add(**t) == restored.add(**t) == 17 % 12  # the ring cursor is restored too
    with pytest.raises(InputError, match="grid_shape"):
        cls(12, (6, 5), 3).load_state_dict(buffer.state_dict())
    other = PrioritizedReplay if cls is UniformReplay else UniformReplay
    with pytest.raises(InputError, match="kind"):
        other(12, (5, 6), 3).load_state_dict(buffer.state_dict())


@pytest.mark.parametrize("cls", [UniformReplay, PrioritizedReplay])
def test_states_saved_with_the_retired_seed_column_still_load(cls):
    """Buffers saved before the per-transition seed column was dropped (an int64 nothing read)
    restore with the same transitions; a seed column of the wrong length is refused."""
    rng = np.random.default_rng(11)
    buffer = cls(12, (5, 6), 3)
    fill(buffer, 9, rng)
    old = buffer.state_dict()
    old["seed"] = torch.from_numpy(rng.integers(-(2**62), 2**62, size=9))  # as earlier versions saved it
    stream = io.BytesIO()
    torch.save(old, stream)
    stream.seek(0)
    restored = cls(12, (5, 6), 3)
    restored.load_state_dict(torch.load(stream, weights_only=True))
    assert len(restored) == 9 and "seed" not in restored.state_dict()
    a, b = buffer.sample(30, np.random.default_rng(2)), restored.sample(30, np.random.default_rng(2))
    for field in ("indices", "landscape_id", "mask_packed", "action_cells", "reward", "done", "weights", "demo"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    old["seed"] = old["seed"][:4]
    with pytest.raises(InputError, match="seed has 4 rows, expected 9"):
        cls(12, (5, 6), 3).load_state_dict(old)


# ----------------------------------------------------------------------------- validation
def test_bad_input_is_refused_with_the_field_named():
    buffer = PrioritizedReplay(4, (3, 3), 2)
    mask = np.zeros((3, 3), dtype=bool)
    with pytest.raises(InputError, match=r"action_cells: value 9 at index \(0, 1\)"):
        buffer.add(0, mask, [0, 9], 0.0, False)
    with pytest.raises(InputError, match="mask_before: expected a bool"):
        buffer.add(0, mask.astype(np.uint8), [0, 1], 0.0, False)
    with pytest.raises(InputError, match="mask_before: shape"):
        buffer.add(0, np.zeros((3, 4), dtype=bool), [0, 1], 0.0, False)
    with pytest.raises(InputError, match="reward"):
        buffer.add(0, mask, [0, 1], float("nan"), False)
    with pytest.raises(InputError, match="landscape_id"):
        buffer.add(-1, mask, [0, 1], 0.0, False)
    with pytest.raises(InputError, match="empty"):
        buffer.sample(2, np.random.default_rng(0))
    buffer.add(0, mask, [0, 1], 0.0, False)
    with pytest.raises(InputError, match="indices"):
        buffer.update_priorities(np.array([1]), np.array([0.5]))
    with pytest.raises(InputError, match="td_errors"):
        buffer.update_priorities(np.array([0]), np.array([np.inf]))
    with pytest.raises(InputError, match="cells_per_action"):
        UniformReplay(4, (2, 2), 5)
    with pytest.raises(InputError, match="alpha"):
        PrioritizedReplay(4, (2, 2), 1, alpha=1.5)


def test_demonstration_flags_round_trip():
    buffer = UniformReplay(8, (3, 3), 1)
    masks = np.zeros((2, 3, 3), dtype=bool)
    buffer.add_batch(np.array([0, 1]), masks, np.array([[1], [2]]), np.array([0.1, 0.2]),
                     np.array([False, True]), demo=np.array([True, False]))
    batch = buffer.sample(64, np.random.default_rng(0))
    assert set(zip(batch.landscape_id.tolist(), batch.demo.tolist())) == {(0, True), (1, False)}
    clone = UniformReplay(8, (3, 3), 1)
    clone.load_state_dict(buffer.state_dict())
    assert clone.sample(64, np.random.default_rng(0)).demo.tolist() == batch.demo.tolist()
