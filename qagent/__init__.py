"""QAgent: wildfire fuel-break placement with deep reinforcement learning.

Subpackages:
- ``qagent.fire``: fire behavior (Rothermel surface fire, Van Wagner/Cruz crown fire) and
  batched fire spread, as compiled torch ops (CPU with OpenMP, CUDA).
- ``qagent.landscape``: landscapes (LANDFIRE layers in SI units).
"""

from qagent import _ext

_ext.load()  # raises a clear ImportError when the compiled extension is missing or stale

from qagent import _ops  # noqa: E402,F401  (fake kernels for torch.compile)
from qagent._validation import InputError  # noqa: E402

__all__ = ["InputError", "__version__"]

__version__ = "0.1.0"
