"""Choosing an action from one Q-value (or score) per cell: an action breaks k cells.

:func:`greedy_topk` is the one greedy masked top-k policy of the project: the trainer acts
with it, the Double DQN target picks a* with it, DQfD's margin term takes its best action with
it, validation and DomiRank's one-shot placement (``qagent.train.validation``) and
``benchmarks/validation_policies.py`` place with it, and so does ``AgentPolicy.place``
(qagent-eval, qagent-plan). :func:`select_actions` is the
epsilon-greedy behaviour policy around it and :func:`greedy_actions` applies it to a
Q-network's output. :func:`rank_blend_topk` re-ranks the best-Q cells by a second score
(the planner's DPV check, ``AgentPolicy.place``).
"""

from __future__ import annotations

import numpy as np
import torch


def greedy_topk(scores: torch.Tensor, valid: torch.Tensor, k: int) -> torch.Tensor:
    """The k valid cells of highest score in each row: int64 [N, k] flat cell indices on the
    scores' device, best first. ``scores`` [N, H*W] (Q-values, DomiRank, ...), ``valid`` bool
    [N, H*W]. Invalid cells count as -inf, so a row with fewer than k valid cells is filled up
    with invalid ones."""
    return scores.masked_fill(~valid, -torch.inf).topk(k, dim=1).indices


def rank_blend_topk(q: torch.Tensor, score: torch.Tensor, valid: torch.Tensor, k: int, candidates: int,
                    score_weight: float = 1.0) -> torch.Tensor:
    """The k cells, best first, among the ``candidates`` valid cells of highest ``q`` whose sum
    of their rank by ``q`` and ``score_weight`` times their rank by ``score`` (both among those
    candidates, 0 = best) is lowest; ties go to the higher ``q``. int64 [k] flat cell indices.
    ``q``, ``score`` [H*W] (or [H, W]) float, ``valid`` bool of the same shape with at least k
    valid cells. With ``candidates`` = k, or a constant ``score``, these are the cells of
    ``greedy_topk``."""
    q, score, valid = q.reshape(-1), score.reshape(-1), valid.reshape(-1)
    m = max(k, min(int(candidates), int(valid.sum())))
    cand = greedy_topk(q.reshape(1, -1), valid.reshape(1, -1), m)[0]  # best Q first: its rank is its position
    by_score = torch.argsort(-score[cand].double(), stable=True)  # ties keep the Q order
    score_rank = torch.empty_like(by_score)
    score_rank[by_score] = torch.arange(m, device=by_score.device)
    combined = torch.arange(m, device=cand.device, dtype=torch.float64) + float(score_weight) * score_rank.double()
    return cand[torch.argsort(combined, stable=True)[:k]]


def select_actions(q: torch.Tensor | None, valid: torch.Tensor, k: int, epsilon: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy: int64 [N, k] flat cells, per environment, with probability epsilon k
    random valid cells (``rng``), else :func:`greedy_topk` of ``q`` [N, H*W]; ``q`` None means
    all random. A row with fewer than k valid cells draws with replacement."""
    n = valid.shape[0]
    actions = np.zeros((n, k), dtype=np.int64)
    explore = rng.random(n) < epsilon if q is not None else np.ones(n, dtype=bool)
    if q is not None and not explore.all():
        greedy = greedy_topk(q, valid, k).cpu().numpy()
        actions[~explore] = greedy[~explore]
    valid_np = valid.cpu().numpy()
    for i in np.nonzero(explore)[0]:
        cells = np.flatnonzero(valid_np[i])
        actions[i] = rng.choice(cells, size=k, replace=len(cells) < k)
    return actions


def greedy_actions(model: torch.nn.Module, obs: torch.Tensor, valid: torch.Tensor, k: int) -> np.ndarray:
    """:func:`greedy_topk` of ``model``'s Q-values for observations [N, C, H, W] and valid
    cells bool [N, H*W], as an int64 numpy array [N, k]. The model's mode (train/eval) is the
    caller's choice."""
    with torch.no_grad():
        q = model(obs, valid.reshape(obs.shape[0], *obs.shape[2:])).flatten(1).float()
    return greedy_topk(q, valid, k).cpu().numpy()
