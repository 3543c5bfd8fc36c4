"""What a training run writes besides its checkpoints, and the rule for its output folder.

- :class:`RunLog`: ``training_log.csv`` (one row per ``log_every`` environment steps,
  ``LOG_FIELDS``), TensorBoard scalars and, at the end, ``training_curve.png``
  (:func:`training_curve_figure`, in the reward's unit, :func:`return_unit`). A resumed run
  continues the log exactly at its checkpoint.
- :func:`check_output` / :func:`delete_run`: a folder holds one run; another run's files
  are refused unless ``--resume`` continues it or ``--overwrite`` replaces it.
- :func:`progress_bar`, :func:`progress_postfix`, :func:`memory_report`: the progress bar,
  its text and the memory line of the log messages (``memory_report`` is defined in
  ``qagent.train.presets``, beside ``format_bytes``, so that ``qagent.train.checkpoint``,
  which this module imports, can log it without importing this module).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qagent._validation import InputError
from qagent.env.fuel_break_env import REWARD_UNITS
from qagent.train.checkpoint import remove_stale_temporaries
from qagent.train.presets import format_bytes, memory_report  # noqa: F401  (memory_report: re-exported)

log = logging.getLogger("qagent.train")


class WallClock:
    """A run's wall time in seconds over all its sessions: the seconds its checkpoint had
    counted (``before``) plus this session's since ``started`` (a ``time.perf_counter()``)."""

    def __init__(self, before: float, started: float):
        self.before, self.started = float(before), started

    def session_s(self) -> float:
        return time.perf_counter() - self.started

    def wall_s(self) -> float:
        return self.before + self.session_s()


LOG_FIELDS = ["env_steps", "updates", "episodes", "wall_s", "epsilon", "learning_rate", "loss", "episode_return",
              "random_return", "domirank_return", "validation_return", "sims_per_s", "micro_batch"]


@dataclass
class RunLog:
    """CSV, TensorBoard and the end-of-run plot. ``resume_at`` (the env_steps of the checkpoint a
    run resumes from) continues an existing log exactly there: rows written after that
    checkpoint (by a run that was then killed) are dropped from the CSV and hidden in
    TensorBoard, so no step appears twice."""

    out: Path
    resume_at: int | None = None
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self._csv_path = self.out / "training_log.csv"
        self._fields = list(LOG_FIELDS)
        resuming = self.resume_at is not None and self._csv_path.exists()
        if resuming:
            self._truncate_csv(self.resume_at)
        self._csv = open(self._csv_path, "a" if resuming else "w", newline="")
        self._writer = csv.DictWriter(self._csv, fieldnames=self._fields)
        if not resuming:
            self._writer.writeheader()
            self._csv.flush()
        try:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if self.resume_at is None else self.resume_at + 1  # hides events at steps >= purge
            self._tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=purge)
        except Exception as e:  # tensorboard is optional at run time
            log.warning("TensorBoard logging disabled: %s", e)
            self._tb = None

    def _truncate_csv(self, env_steps: int) -> None:
        """Rewrite the CSV (atomically) with the current columns, keeping the rows up to
        ``env_steps``."""
        rows = _read_csv(self._csv_path)
        kept = [r for r in rows if _float(r.get("env_steps")) <= env_steps]
        tmp = self._csv_path.with_name(f".{self._csv_path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._csv_path)
        if len(kept) < len(rows):
            log.info("%s: dropped %d rows logged after the checkpoint's %d environment steps", self._csv_path,
                     len(rows) - len(kept), env_steps)

    def write(self, row: dict) -> None:
        self.rows.append(row)
        self._writer.writerow({k: row.get(k) for k in self._fields})
        self._csv.flush()
        if self._tb is not None:
            for k, v in row.items():
                if k != "env_steps" and isinstance(v, (int, float)) and v is not None and math.isfinite(v):
                    self._tb.add_scalar(k, v, row["env_steps"])

    def close(self) -> None:
        self._csv.close()
        if self._tb is not None:
            self._tb.close()

    def plot(self, path: Path, reward: str = "absolute") -> Path | None:
        """Write the training curve (:func:`training_curve_figure`) of this log to ``path``."""
        rows = _read_csv(self._csv_path)
        if not rows:
            return None
        fig = training_curve_figure(rows, reward)
        fig.savefig(path, dpi=120)
        return path


# Legend entries of the training curve.
CURVE_LABELS = {"episode_return": "training episodes (epsilon-greedy, mean of the last 50)",
                "validation_return": "agent, greedy (validation episodes)",
                "domirank_return": "DomiRank (validation episodes)",
                "random_return": "random placement (validation episodes)"}


def return_unit(reward: str) -> str:
    """What an episode return (x100) measures, for a reward kind: the curve's y-axis label."""
    return f"% of the {REWARD_UNITS[reward]} saved per episode"


def training_curve_figure(rows: list[dict], reward: str, fig=None):
    """The training curve as a matplotlib Figure (drawn into ``fig`` if given): the training
    episodes' and the greedy agent's validation return against environment steps, with the
    validation returns of DomiRank and of random placement (on the same episodes) as horizontal
    references; y in the reward's unit (:func:`return_unit`) from 0. ``rows`` are
    training_log.csv rows (text or numbers)."""
    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    x = np.array([_float(r.get("env_steps")) for r in rows])
    for key, style in [("episode_return", "-"), ("validation_return", "o-")]:
        y = np.array([_float(r.get(key)) for r in rows])
        ok = np.isfinite(y) & np.isfinite(x)
        if ok.any():
            ax.plot(x[ok], y[ok], style, label=CURVE_LABELS[key])
    for key, color in [("domirank_return", "tab:red"), ("random_return", "gray")]:
        values = [v for v in (_float(r.get(key)) for r in rows) if math.isfinite(v)]
        if values:
            ax.axhline(values[-1], color=color, linestyle="--", label=CURVE_LABELS[key])
    ax.set_xlabel("environment steps")
    ax.set_ylabel(return_unit(reward))
    top = ax.get_ylim()[1]  # returns are never negative (breaks never add burned area): y from 0
    ax.set_ylim(0.0, 1.1 * top if top > 0 else 1.0)
    ax.set_title("QAgent training")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def _float(value) -> float:
    """A CSV cell as a float (NaN when empty)."""
    if value in ("", None):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def progress_bar(cfg, env_steps: int):
    """The tqdm progress bar of a run, in environment steps, starting at ``env_steps``."""
    from tqdm import tqdm

    return tqdm(total=cfg.steps, initial=env_steps, unit="step", dynamic_ncols=True, desc=f"qagent-train {cfg.preset}")


def progress_postfix(row: dict, reward: str) -> str:
    """The progress bar's text after the counts: the training episodes' return in its unit,
    the loss, epsilon and simulations per second."""
    ret = row.get("episode_return")
    saved = f"saved {ret:.2f} % of {REWARD_UNITS[reward]}" if ret is not None else "no episode finished yet"
    loss = f"{row['loss']:.3g}" if row.get("loss") is not None else "-"
    return f"{saved} per episode, loss {loss}, eps {row.get('epsilon', 0):.2f}, {row.get('sims_per_s', 0):.0f} sims/s"





# ----------------------------------------------------------------------------- output folder
CHECKPOINT_NAMES = ("best.pt", "final.pt", "last.pt")
LOG_NAME, CURVE_NAME, TENSORBOARD_NAME = "training_log.csv", "training_curve.png", "tensorboard"


def run_files(out: Path) -> list[Path]:
    """The files of a run in ``out``: its checkpoints (rank shards included) and its log."""
    if not out.is_dir():
        return []
    found = [out / n for n in (*CHECKPOINT_NAMES, LOG_NAME) if (out / n).is_file()]
    return found + sorted(p for p in out.glob("rank*.pt") if p.name[4:-3].isdigit() and p.is_file())


def check_output(out: Path, resume: str | Path | None, overwrite: bool) -> list[Path]:
    """Make sure a run never overwrites another run's saved work; returns the old run's files
    that ``overwrite`` is to delete (with :func:`delete_run`, once the new run has been set
    up without error).

    A folder already holding a run (a checkpoint or training_log.csv) is refused unless the
    run continues there (``resume`` is a checkpoint in ``out``) or ``overwrite`` is set.
    Temporaries of checkpoint writers that died (``.NAME.tmp-PID``) are removed in any case."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder")
    same_folder = resume is not None and Path(resume).resolve().parent == out.resolve()
    if same_folder and overwrite:
        raise InputError(f"--overwrite would delete the run that --resume {resume} continues; drop one of the two")
    existing = [] if same_folder else run_files(out)
    if existing and not overwrite:
        raise InputError(
            f"--out {out} already holds a run ({', '.join(p.name for p in existing)}); continue it with --resume "
            f"{out / 'last.pt'}, start over with --overwrite (deletes its checkpoints, {LOG_NAME}, "
            f"{TENSORBOARD_NAME}/ and {CURVE_NAME}), or choose another --out")
    for path in remove_stale_temporaries(out):
        log.info("removed %s, left by a checkpoint write that was killed", path)
    return existing


def delete_run(out: Path, files: list[Path]) -> None:
    """Delete an old run's checkpoints and log (``files``), its tensorboard/ and its curve, so
    that nothing stale mixes with the new run."""
    for path in [*files, out / CURVE_NAME]:
        path.unlink(missing_ok=True)
    shutil.rmtree(out / TENSORBOARD_NAME, ignore_errors=True)
    log.info("--overwrite: deleted the earlier run in %s (%s, %s/, %s)", out, ", ".join(p.name for p in files),
             TENSORBOARD_NAME, CURVE_NAME)
