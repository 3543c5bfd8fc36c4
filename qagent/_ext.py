"""Loading of the compiled extension ``qagent._C``, with clear errors.

The extension is C++ compiled against one exact torch build. Loading it under another torch
can fail with an unreadable symbol error or, worse, crash; so before loading we compare the
torch recorded at build time (``_build_info.json``, written by ``setup.py``) with the one
running, and refuse a mismatch with the command that fixes it.

A source checkout holds the Python files of ``qagent`` but, unless it was installed in place
(``pip install --no-build-isolation -e .``), no compiled extension. Python puts the current
folder first on ``sys.path``, so running from the checkout's root after a regular install
imports the source folder rather than the installed copy; that case is recognised and named
(with where the installed copy is) instead of failing with a bare "cannot import name _C".
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

_BUILD_FLAGS = "(QAGENT_CPU_ONLY=1 forces the CPU build; QAGENT_FORCE_CUDA=1 compiles CUDA without a GPU.)"
_REBUILD = (
    "Rebuild it against the installed torch from the project's root:\n"
    "    pip install --no-build-isolation --force-reinstall --no-deps .\n" + _BUILD_FLAGS
)
_REBUILD_IN_PLACE = (
    "Rebuild it in place against the installed torch from the project's root:\n"
    "    pip install --no-build-isolation --force-reinstall --no-deps -e .\n" + _BUILD_FLAGS
)


class ExtensionError(ImportError):
    """The compiled extension is missing, stale or built for another torch."""


def package_dir() -> Path:
    """The folder this ``qagent`` package was imported from."""
    return Path(os.path.abspath(__file__)).parent


def build_info_path() -> str:
    return str(package_dir() / "_build_info.json")


def has_extension(folder: Path) -> bool:
    """Whether ``folder`` (a qagent package folder) holds a compiled ``_C`` extension file."""
    return any((Path(folder) / f"_C{suffix}").is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def is_source_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the ``qagent`` folder of the project's source tree (next to setup.py)."""
    return (Path(folder).parent / "setup.py").is_file() and (Path(folder).parent / "csrc").is_dir()


def other_copies(here: Path | None = None) -> list[Path]:
    """Other ``qagent`` package folders that hold a compiled extension and would be importable
    here: along ``sys.path`` in order, then through other import hooks (editable installs),
    then the installed distribution's files."""
    here = Path(here or package_dir()).resolve()
    candidates: list[Path] = []
    for entry in list(sys.path):
        try:
            spec = importlib.machinery.PathFinder.find_spec("qagent", [entry or os.getcwd()])
        except (ImportError, OSError, ValueError):
            continue
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent)
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder or not hasattr(finder, "find_spec"):
            continue
        try:
            spec = finder.find_spec("qagent", None)
        except Exception:  # a third-party import hook: its failure is not ours to report
            continue
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent)
    try:
        dist = importlib.metadata.distribution("qagent")
        for f in dist.files or ():
            if f.as_posix() == "qagent/__init__.py":
                candidates.append(Path(dist.locate_file(f)).parent)
    except importlib.metadata.PackageNotFoundError:
        pass
    found: list[Path] = []
    for folder in candidates:
        folder = folder.resolve()
        if folder != here and folder not in found and has_extension(folder):
            found.append(folder)
    return found


def _rebuild_advice() -> str:
    return _REBUILD_IN_PLACE if is_source_checkout(package_dir()) else _REBUILD


def _missing_extension_error(here: Path) -> ExtensionError:
    others = other_copies(here)
    where = "the source folder" if is_source_checkout(here) else "the folder"
    if others:
        return ExtensionError(
            f"qagent was imported from {where} {here}, which has no compiled extension; the installed copy is at "
            f"{others[0]}. Python looks in the current folder first, so ./qagent shadows the installed package: "
            "run from another folder, or install in place with pip install --no-build-isolation -e ."
        )
    return ExtensionError(
        f"qagent: the compiled extension qagent._C has not been built: {where} {here} has none. Build it from "
        "the project's root, in place (then it runs from the checkout too):\n"
        "    pip install --no-build-isolation -e .\n"
        "or install a copy with pip install --no-build-isolation . and run from outside the checkout. " + _BUILD_FLAGS
    )


@functools.lru_cache(maxsize=None)
def recorded_build_info() -> dict[str, Any] | None:
    """What setup.py recorded about the build, or None if it never ran here."""
    try:
        with open(build_info_path()) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ExtensionError(f"qagent: cannot read {build_info_path()}: {e}. {_rebuild_advice()}") from e


@functools.lru_cache(maxsize=None)
def load():
    """Import ``qagent._C`` (which registers ``torch.ops.qagent.*``) or raise ExtensionError."""
    here = package_dir()
    if not has_extension(here):
        raise _missing_extension_error(here)
    info = recorded_build_info()
    if info is None:
        raise ExtensionError(f"qagent: the compiled extension qagent._C has not been built. {_rebuild_advice()}")
    if info.get("torch_version") != torch.__version__:
        raise ExtensionError(
            f"qagent: the compiled extension was built against torch {info.get('torch_version')} "
            f"but torch {torch.__version__} is installed; a C++ extension only works with the torch "
            f"it was built against. {_rebuild_advice()}"
        )
    if info.get("build") == "cuda" and torch.version.cuda is None:
        raise ExtensionError(
            "qagent: the compiled extension is a CUDA build but the installed torch is a CPU build. "
            + _rebuild_advice()
        )
    try:
        from qagent import _C  # noqa: F401  (registers the ops)
    except ImportError as e:
        raise ExtensionError(
            f"qagent: the compiled extension qagent._C failed to load: {e}. {_rebuild_advice()}") from e
    return _C


def build_info() -> dict[str, Any]:
    """Facts about the build and where the ops can run."""
    ext = load()
    recorded = recorded_build_info() or {}
    compiled = ext.build_info()
    devices = ["cpu"]
    if compiled["cuda"] and torch.cuda.is_available():
        archs = {a.strip().replace("+PTX", "")
                 for a in recorded.get("cuda_archs", "").replace(",", ";").split(";") if a.strip()}
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
