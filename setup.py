"""Build of QAgent's compiled extension ``qagent._C``.

One extension holds every op. The CPU kernels (C++ with OpenMP) are always compiled; the
CUDA kernels are added when a CUDA build of torch and nvcc are present and either a GPU is
visible or ``QAGENT_FORCE_CUDA=1`` (a compile check on a machine without a GPU; set
``TORCH_CUDA_ARCH_LIST``, e.g. ``"8.0;9.0"``). ``QAGENT_CPU_ONLY=1`` forces the CPU build.

Build against the torch that will run the extension:

    pip install --no-build-isolation .

An isolated build environment would bring its own torch and break the C++ ABI. The torch
version, the build kind and the CUDA architectures are written to
``qagent/_build_info.json`` so that ``import qagent`` can refuse a mismatched extension with a
clear message instead of crashing.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys

from setuptools import setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _build_kind(torch, cuda_home) -> tuple[str, str]:
    """Return ("cpu"|"cuda", reason)."""
    if _flag("QAGENT_CPU_ONLY"):
        return "cpu", "QAGENT_CPU_ONLY=1"
    cuda_torch = torch.version.cuda is not None
    nvcc = cuda_home is not None and (
        os.path.exists(os.path.join(cuda_home, "bin", "nvcc")) or shutil.which("nvcc") is not None
    )
    if _flag("QAGENT_FORCE_CUDA"):
        if not cuda_torch:
            sys.exit(
                "QAGENT_FORCE_CUDA=1 but the installed torch "
                f"{torch.__version__} is a CPU build; install a CUDA build of torch first."
            )
        if not nvcc:
            sys.exit("QAGENT_FORCE_CUDA=1 but nvcc was not found; set CUDA_HOME.")
        return "cuda", "QAGENT_FORCE_CUDA=1"
    if not cuda_torch:
        return "cpu", f"torch {torch.__version__} is a CPU build"
    if not nvcc:
        return "cpu", "nvcc not found (set CUDA_HOME)"
    if not torch.cuda.is_available() and not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return "cpu", "no GPU visible and TORCH_CUDA_ARCH_LIST unset (QAGENT_FORCE_CUDA=1 compiles anyway)"
    return "cuda", "CUDA torch, nvcc and a GPU or TORCH_CUDA_ARCH_LIST"


def _default_cuda_home() -> None:
    """torch guesses CUDA_HOME from the nvcc on PATH when the variable is unset; a wrapper
    script outside the toolkit (e.g. /usr/local/bin/nvcc) then yields a root without the CUDA
    runtime library. Prefer the conventional /usr/local/cuda when it holds a toolkit. Must run
    before torch.utils.cpp_extension is imported (it reads the variable once)."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    if os.path.exists("/usr/local/cuda/bin/nvcc"):
        os.environ["CUDA_HOME"] = "/usr/local/cuda"


def _extensions():
    import torch

    _default_cuda_home()
    from torch.utils.cpp_extension import CUDA_HOME, CppExtension, CUDAExtension

    kind, reason = _build_kind(torch, CUDA_HOME)
    print(f"qagent: building the {kind} extension ({reason})", flush=True)

    sources = [os.path.relpath(p, ROOT) for p in sorted(glob.glob(os.path.join(ROOT, "csrc", "*.cpp")))]
    sources += [os.path.relpath(p, ROOT) for p in sorted(glob.glob(os.path.join(ROOT, "csrc", "cpu", "*.cpp")))]
    include_dirs = [os.path.join(ROOT, "csrc")]
    debug = _flag("QAGENT_DEBUG")
    sanitize = _flag("QAGENT_ASAN")
    opt = ["-O0", "-g"] if debug or sanitize else ["-O3"]
    # No -std here: torch.utils.cpp_extension picks the C++ standard its headers need
    # (C++17 for torch <= 2.13, C++20 from 2.14).
    # -fno-math-errno: sqrtf inlines to one instruction (no errno path); results are unchanged.
    cxx = opt + ["-fopenmp", "-fno-math-errno", "-Wall", "-Wno-unknown-pragmas"]
    link = ["-fopenmp"]
    if sanitize:
        cxx += ["-fsanitize=address", "-fno-omit-frame-pointer"]
        link += ["-fsanitize=address"]
    archs = ""
    if kind == "cuda":
        sources += [os.path.relpath(p, ROOT) for p in sorted(glob.glob(os.path.join(ROOT, "csrc", "cuda", "*.cu")))]
        cxx.append("-DQAGENT_WITH_CUDA")
        # Precise math (no --use_fast_math): the physics should not depend on the device.
        nvcc = ["-O3", "-DQAGENT_WITH_CUDA", "-lineinfo"]
        archs = os.environ.get("TORCH_CUDA_ARCH_LIST", "")
        if not archs and torch.cuda.is_available():
            caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
            archs = ";".join(f"{a}.{b}" for a, b in caps)
        ext = CUDAExtension(
            "qagent._C",
            sources,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx, "nvcc": nvcc},
            extra_link_args=link,
        )
    else:
        ext = CppExtension(
            "qagent._C",
            sources,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx},
            extra_link_args=link,
        )

    info = {
        "build": kind,
        "reason": reason,
        "torch_version": torch.__version__,
        "torch_cuda_version": torch.version.cuda,
        "cuda_archs": archs,
        "debug": debug,
        "address_sanitizer": sanitize,
    }
    with open(os.path.join(ROOT, "qagent", "_build_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    return [ext]


def _cmdclass():
    from torch.utils.cpp_extension import BuildExtension

    return {"build_ext": BuildExtension.with_options(use_ninja=shutil.which("ninja") is not None)}


try:
    import torch  # noqa: F401
except ImportError:
    sys.exit(
        "qagent builds a torch extension and needs torch installed first, then\n"
        "    pip install --no-build-isolation .\n"
        "(for example: pip install torch==2.13.0 && pip install --no-build-isolation .)"
    )

setup(ext_modules=_extensions(), cmdclass=_cmdclass())
