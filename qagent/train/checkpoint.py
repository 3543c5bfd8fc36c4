"""Checkpoints: written atomically, read with a clear error when damaged.

A checkpoint is a dict saved with ``torch.save`` holding only tensors and plain Python values
(so it loads with ``weights_only=True``): model, target model, optimizer and scheduler
states, the replay buffer, RNG states, counters and the configuration. It is written to a
temporary file in the same folder, flushed to disk, then renamed over the destination, so a
crash or a full disk never leaves a half-written checkpoint in place of a good one; the
folder is synced after the rename so the new name survives a power cut. A temporary left by a
process killed mid-write (``.NAME.tmp-PID``) is removed by :func:`remove_stale_temporaries`
once that process is gone.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qagent._validation import InputError

FORMAT = "qagent-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries ``.NAME.tmp-PID`` that :func:`save_checkpoint` leaves when its
    process is killed mid-write, for processes that are no longer alive (never a live
    process's, which may still be writing); returns the removed paths."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = _TEMPORARY.match(entry.name)
        if m and entry.is_file() and not _process_alive(int(m["pid"])):
            try:
                entry.unlink()
            except FileNotFoundError:  # another process removed it first
                continue
            removed.append(entry)
    return sorted(removed)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict[str, Any]:
    """Load and check a checkpoint; a missing, truncated or foreign file raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path}: no such file")
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except OSError as e:
        raise InputError(f"checkpoint {path}: cannot be read ({e.strerror or type(e).__name__})") from None
    if empty:
        raise InputError(f"checkpoint {path}: damaged or not a checkpoint (empty file)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        # torch's own messages are no help here (and one of them advises loading untrusted
        # files with weights_only=False, which can run arbitrary code): name the type only
        raise InputError(f"checkpoint {path}: damaged or not a checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"checkpoint {path}: not a QAgent checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise InputError(f"checkpoint {path}: format version {state.get('format_version')!r}, this QAgent reads "
                         f"{FORMAT_VERSION}")
    missing = [k for k in ("model", "config", "counters") if k not in state]
    if missing:
        raise InputError(f"checkpoint {path}: missing {', '.join(missing)}")
    return state


def rng_state(env_state: dict, sample_rng: np.random.Generator) -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state(), "env": env_state,
             "sample": sample_rng.bit_generator.state}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], sample_rng: np.random.Generator) -> dict:
    """Restore Python's, torch's and the sampler's RNGs; returns the environment's RNG state."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    torch.set_rng_state(state["torch"])
    sample_rng.bit_generator.state = state["sample"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    return state["env"]
