"""The greedy masked top-k policy (``qagent.agent.policy.greedy_topk``), the epsilon-greedy
behaviour policy around it and its use on a Q-network."""

from __future__ import annotations

import numpy as np
import torch

from qagent.agent.policy import greedy_actions, greedy_topk, rank_blend_topk, select_actions


# ----------------------------------------------------------------------------- policies
def test_greedy_topk_takes_the_best_valid_cells_and_never_an_invalid_one_while_enough_are_valid():
    scores = torch.tensor([[5.0, 9.0, 1.0, 7.0, 3.0], [0.0, -1.0, -2.0, -3.0, -4.0]])
    valid = torch.tensor([[True, False, True, True, True], [False, False, True, True, True]])
    cells = greedy_topk(scores, valid, 2)
    assert cells.dtype == torch.int64 and cells.shape == (2, 2)
    assert cells.tolist() == [[3, 0], [2, 3]]  # best first; 9 and 0 are masked out
    few = greedy_topk(scores, torch.tensor([[False, False, True, False, False]] * 2), 2)
    assert few[:, 0].tolist() == [2, 2]  # the one valid cell first, then an invalid filler


def test_select_actions_is_greedy_at_epsilon_0_and_random_valid_at_1():
    rng = np.random.default_rng(0)
    q = torch.randn(4, 30)
    valid = torch.rand(4, 30) < 0.5
    valid[:, :3] = True
    np.testing.assert_array_equal(select_actions(q, valid, 3, 0.0, rng), greedy_topk(q, valid, 3).numpy())
    for actions in (select_actions(q, valid, 3, 1.0, rng), select_actions(None, valid, 3, 0.0, rng)):
        assert all(valid[i, actions[i]].all() for i in range(4))


def test_greedy_actions_applies_greedy_topk_to_a_model():
    q = torch.randn(2, 4, 5)
    model = lambda obs, valid: q  # noqa: E731  (any obs, valid [N, H, W] -> Q)
    valid = torch.rand(2, 20) < 0.7
    np.testing.assert_array_equal(greedy_actions(model, torch.zeros(2, 13, 4, 5), valid, 4),
                                  greedy_topk(q.flatten(1), valid, 4).numpy())


def test_rank_blend_topk_by_hand():
    """Six valid cells of Q 6, 5, 4, 3, 2, 1 (cell 6 invalid): among the 4 best (cells 0-3) the
    score ranks cell 3 first, then 2, 1, 0; rank sums 0+3, 1+2, 2+1, 3+0 tie at 3 and go to the
    higher Q, so the 2 taken are cells 0 and 1 (in Q order). A score that prefers cell 2 (rank
    sums: cell 0 0 + 1, cell 1 1 + 2, cell 2 2 + 0) takes cells 0 and 2; an invalid cell is never
    taken however high its score."""
    q = torch.tensor([6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 9.0])
    valid = torch.tensor([True] * 6 + [False])
    score = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 100.0])
    assert rank_blend_topk(q, score, valid, 2, 4).tolist() == [0, 1]
    score = torch.tensor([0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 100.0])  # cell 2 rank 0 by score; others tie in Q order
    assert rank_blend_topk(q, score, valid, 2, 4).tolist() == [0, 2]
    # the score's rank weighted: 0 leaves Q's order, 4 lets the score lead (cell 0: 0 + 4 x 1 = 4,
    # cell 1: 1 + 4 x 2 = 9, cell 2: 2 + 0 = 2), 0.25 keeps Q's first two (0.25, 1.5, 2)
    assert rank_blend_topk(q, score, valid, 2, 4, score_weight=0.0).tolist() == [0, 1]
    assert rank_blend_topk(q, score, valid, 2, 4, score_weight=4.0).tolist() == [2, 0]
    assert rank_blend_topk(q, score, valid, 2, 4, score_weight=0.25).tolist() == [0, 1]
    # candidates = k, or a constant score: greedy_topk's cells
    rng = np.random.default_rng(0)
    q = torch.from_numpy(rng.standard_normal(100)).float()
    valid = torch.from_numpy(rng.random(100) < 0.7)
    s = torch.from_numpy(rng.standard_normal(100)).float()
    greedy = greedy_topk(q.reshape(1, -1), valid.reshape(1, -1), 5)[0]
    assert torch.equal(rank_blend_topk(q, s, valid, 5, 5).sort().values, greedy.sort().values)
    assert torch.equal(rank_blend_topk(q, torch.zeros(100), valid, 5, 40), greedy)
    # otherwise within the candidates, valid, distinct
    cells = rank_blend_topk(q, s, valid, 5, 20)
    top20 = set(greedy_topk(q.reshape(1, -1), valid.reshape(1, -1), 20)[0].tolist())
    assert set(cells.tolist()) <= top20 and len(set(cells.tolist())) == 5 and bool(valid[cells].all())
