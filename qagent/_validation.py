"""Input checks shared by the public API. Every error names the field and, where it applies,
the offending value and where it is (row, col)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


class InputError(ValueError):
    """Bad input to a QAgent function: the message names what is wrong."""


def as_tensor(name: str, value: Any, *, dtype: torch.dtype, device: torch.device | str | None = None) -> torch.Tensor:
    """Convert numpy arrays, tensors, scalars and nested lists; refuse what cannot be a number."""
    if isinstance(value, torch.Tensor):
        t = value
        if t.is_complex():
            raise InputError(f"{name}: complex values are not allowed")
        if dtype.is_floating_point and not (t.is_floating_point() or t.dtype in _INT_DTYPES or t.dtype == torch.bool):
            raise InputError(f"{name}: expected numbers, got a tensor of dtype {t.dtype}")
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # pragma: no cover - numpy raises many kinds
            raise InputError(f"{name}: cannot be read as an array ({e})") from e
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise InputError(f"{name}: expected numbers, got {arr.dtype} values")
        if arr.dtype.kind == "c":
            raise InputError(f"{name}: complex values are not allowed")
        if dtype in _INT_DTYPES and arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                _raise_first(name, ~np.isfinite(arr), arr, "is not finite")
            if np.any(arr != np.round(arr)):
                _raise_first(name, arr != np.round(arr), arr, "is not an integer code")
        t = torch.from_numpy(np.ascontiguousarray(arr)) if arr.ndim else torch.tensor(arr.item())
    if dtype in _INT_DTYPES and t.is_floating_point():
        bad = ~torch.isfinite(t) | (t != torch.round(t))
        if bool(bad.any()):
            _raise_first(name, bad, t, "is not an integer code")
    if t.dtype == dtype and device is None:
        return t
    return t.to(device=device if device is not None else t.device, dtype=dtype)


_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _where(mask) -> tuple[int, ...]:
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    idx = np.argwhere(m)
    return tuple(int(i) for i in idx[0]) if len(idx) else ()


def _value_at(values, pos) -> str:
    v = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    x = v[pos].item() if pos else v.item()
    return format(x, ".6g") if isinstance(x, float) else repr(x)


def _raise_first(name: str, mask, values, what: str):
    pos = _where(mask)
    count = int(np.asarray(mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else mask).sum())
    at = f" at (row, col) {pos}" if len(pos) == 2 else (f" at index {pos}" if pos else "")
    raise InputError(f"{name}: value {_value_at(values, pos)}{at} {what} "
                     f"({count} such value{'s' if count != 1 else ''})")


# Tensors of at most this many values on the CPU are checked on their values in Python
# (``tolist``), which for one fire's weather, ignitions or durations costs far less than torch's
# reductions (qagent.fire.spread uses the same threshold).
SMALL_CPU_INPUT = 64


def check_finite(name: str, t: torch.Tensor) -> None:
    if t.is_floating_point():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            _raise_first(name, bad, t, "is not finite (NaN or infinite)")


def check_range(name: str, t: torch.Tensor, lo: float | None, hi: float | None, unit: str = "", hint: str = "") -> None:
    """Values must lie in [lo, hi]; ``hint`` (e.g. a likely unit mistake) is added to errors
    about values above ``hi``."""
    if t.is_cpu and t.numel() <= SMALL_CPU_INPUT:  # a few values: checked in Python, no torch reductions
        lo_ok = (lambda x: True) if lo is None else (lambda x: x >= lo)
        hi_ok = (lambda x: True) if hi is None else (lambda x: x <= hi)
        if all(math.isfinite(x) and lo_ok(x) and hi_ok(x) for x in t.reshape(-1).tolist()):
            return
    # (large tensors, or a bad value: the checks below find and name it)
    check_finite(name, t)
    rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]{(' ' + unit) if unit else ''}"
    if lo is not None:
        low = t < lo
        if bool(low.any()):
            _raise_first(name, low, t, f"is outside {rng}")
    if hi is not None:
        high = t > hi
        if bool(high.any()):
            _raise_first(name, high, t, f"is outside {rng}{('; ' + hint) if hint else ''}")


def check_grid_shape(name: str, t: torch.Tensor, shape: tuple[int, int] | None) -> None:
    if t.dim() != 2:
        raise InputError(f"{name}: expected a 2-D [H, W] grid, got shape {tuple(t.shape)}")
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise InputError(f"{name}: shape {tuple(t.shape)} does not match the landscape's {tuple(shape)}")


def resolve_device(device) -> torch.device:
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {dev}: CUDA is not available on this machine")
        from qagent import _ext

        if _ext.build_info()["build"] != "cuda":
            raise InputError(
                f"device {dev}: this qagent extension is a CPU build; rebuild with a CUDA torch and nvcc "
                "(pip install --no-build-isolation --force-reinstall --no-deps .)"
            )
    elif dev.type != "cpu":
        raise InputError(f"device {dev}: qagent ops run on cpu or cuda only")
    return dev
