"""QAgent: wildfire fuel-break placement with deep reinforcement learning.

Importing ``qagent`` loads the compiled extension (``qagent._C``) and refuses a missing or
stale one. Subpackages, lowest layer first (README, "Layout"):

- ``qagent.landscape``: landscapes (LANDFIRE layers in SI units), tiles, synthetic landscapes
- ``qagent.fire``: weather, fire behavior (Rothermel surface fire, Van Wagner/Cruz crown
  fire), batched fire spread as compiled torch ops (CPU with OpenMP, CUDA), fire scenarios
- ``qagent.env``: the fuel-break placement environment and what the agent observes
- ``qagent.agent``: Q-networks, action selection, experience replay
- ``qagent.train``: the DQN trainer (``qagent-train``)
- ``qagent.evaluation``: baseline placements, evaluation and planning (``qagent-eval``,
  ``qagent-plan``)

Modules: ``bench`` (``qagent-bench``), ``fuels`` (the fuel-model table), ``distributed``
(process groups), ``oom`` (out-of-memory retries), ``_validation`` (input checks and
``InputError``), ``_cli`` (argument types), ``_ext`` / ``_ops`` (the extension and its fake
kernels for torch.compile), ``__main__`` (``python -m qagent info``).
"""

from qagent import _ext

_ext.load()  # raises a clear ImportError when the compiled extension is missing or stale

from qagent import _ops  # noqa: E402,F401  (fake kernels for torch.compile)
from qagent._validation import InputError  # noqa: E402

__all__ = ["InputError", "__version__"]

__version__ = "0.1.0"
