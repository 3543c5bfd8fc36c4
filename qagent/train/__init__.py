"""The DQN trainer (``qagent-train``): ``dqn`` (the training loop), ``learner`` (the update),
``config`` (settings and TOML files), ``presets`` (memory presets and their estimates),
``checkpoint``, ``runlog`` (logs, curves), ``validation`` (the trainer's validation episodes
and policies) and ``cli``. Re-exported here: the presets and the out-of-memory tools of
``qagent.oom``."""

from qagent.oom import (
    ChunkedRunner,
    InsufficientMemoryError,
    OOMRetry,
    is_oom_error,
    release_memory,
    run_in_chunks,
)
from qagent.train.presets import (
    PRESETS,
    MemoryEstimate,
    Preset,
    auto_preset,
    choose_auto_preset,
    configure_cuda_allocator,
    estimate_memory_bytes,
    format_presets_table,
    get_preset,
)

__all__ = [
    "PRESETS",
    "ChunkedRunner",
    "InsufficientMemoryError",
    "MemoryEstimate",
    "OOMRetry",
    "Preset",
    "auto_preset",
    "choose_auto_preset",
    "configure_cuda_allocator",
    "estimate_memory_bytes",
    "format_presets_table",
    "get_preset",
    "is_oom_error",
    "release_memory",
    "run_in_chunks",
]
