"""Loading of the compiled extension ``qagent._C``, with clear errors.

The extension is C++ compiled against one exact torch build. Loading it under another torch
can fail with an unreadable symbol error or, worse, crash; so before loading we compare the
torch recorded at build time (``_build_info.json``, written by ``setup.py``) with the one
running, and refuse a mismatch with the command that fixes it.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import torch

_REBUILD = (
    "Rebuild it against the installed torch from the project's root:\n"
    "    pip install --no-build-isolation --force-reinstall --no-deps .\n"
    "(QAGENT_CPU_ONLY=1 forces the CPU build; QAGENT_FORCE_CUDA=1 compiles CUDA without a GPU.)"
)


class ExtensionError(ImportError):
    """The compiled extension is missing, stale or built for another torch."""


def build_info_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build_info.json")


@functools.lru_cache(maxsize=None)
def recorded_build_info() -> dict[str, Any] | None:
    """What setup.py recorded about the build, or None if it never ran here."""
    try:
        with open(build_info_path()) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ExtensionError(f"qagent: cannot read {build_info_path()}: {e}. {_REBUILD}") from e


@functools.lru_cache(maxsize=None)
def load():
    """Import ``qagent._C`` (which registers ``torch.ops.qagent.*``) or raise ExtensionError."""
    info = recorded_build_info()
    if info is None:
        raise ExtensionError(f"qagent: the compiled extension qagent._C has not been built. {_REBUILD}")
    if info.get("torch_version") != torch.__version__:
        raise ExtensionError(
            f"qagent: the compiled extension was built against torch {info.get('torch_version')} "
            f"but torch {torch.__version__} is installed; a C++ extension only works with the torch "
            f"it was built against. {_REBUILD}"
        )
    if info.get("build") == "cuda" and torch.version.cuda is None:
        raise ExtensionError(
            "qagent: the compiled extension is a CUDA build but the installed torch is a CPU build. " + _REBUILD
        )
    try:
        from qagent import _C  # noqa: F401  (registers the ops)
    except ImportError as e:
        raise ExtensionError(f"qagent: the compiled extension qagent._C failed to load: {e}. {_REBUILD}") from e
    return _C


def build_info() -> dict[str, Any]:
    """Facts about the build and where the ops can run."""
    ext = load()
    recorded = recorded_build_info() or {}
    compiled = ext.build_info()
    devices = ["cpu"]
    if compiled["cuda"] and torch.cuda.is_available():
        archs = {a.strip().replace("+PTX", "") for a in recorded.get("cuda_archs", "").replace(",", ";").split(";") if a.strip()}
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            ok = not archs or f"{major}.{minor}" in archs or any(
                a.split(".")[0] == str(major) and int(a.split(".")[1]) <= minor for a in archs if "." in a
            )
            if ok:
                devices.append(f"cuda:{i}")
    return {
        "build": "cuda" if compiled["cuda"] else "cpu",
        "build_reason": recorded.get("reason", ""),
        "torch_version": torch.__version__,
        "torch_built_against": recorded.get("torch_version"),
        "torch_cuda_version": torch.version.cuda,
        "cuda_archs": recorded.get("cuda_archs", "") if compiled["cuda"] else "",
        "openmp": compiled["openmp"],
        "openmp_threads": compiled["openmp_max_threads"],
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "devices": devices,
    }
