"""The learning agent's building blocks: Q-networks (``qagent.agent.models``), action selection
on their Q-values (``qagent.agent.policy``: ``greedy_topk``, the greedy masked top-k policy)
and compact experience replay (``qagent.agent.replay``)."""

from qagent.agent.models import (
    MODEL_NAMES,
    DuelingQNet,
    EnhancedQNet,
    QNet,
    build_model,
    count_parameters,
)
from qagent.agent.policy import greedy_actions, greedy_topk, select_actions
from qagent.agent.replay import (
    Batch,
    PrioritizedReplay,
    ReplayBuffer,
    SumTree,
    UniformReplay,
    replay_bytes_per_transition,
)

__all__ = [
    "MODEL_NAMES",
    "Batch",
    "DuelingQNet",
    "EnhancedQNet",
    "PrioritizedReplay",
    "QNet",
    "ReplayBuffer",
    "SumTree",
    "UniformReplay",
    "build_model",
    "count_parameters",
    "greedy_actions",
    "greedy_topk",
    "replay_bytes_per_transition",
    "select_actions",
]
