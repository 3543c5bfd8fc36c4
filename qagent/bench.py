"""``qagent-bench``: kernel benchmarks (fire behavior, spread, cost against grid size).

    qagent-bench --info                 build facts (like python -m qagent info)
    qagent-bench behavior [--landfire DIR]       synthetic landscape unless --landfire
    qagent-bench spread [--sizes 50 128 256 512] ...
    qagent-bench scale [--sides 64 ... 8192] [--fires 300] [--landfire DIR] [--plot PNG]

Each benchmark prints a table and writes JSON (``--json PATH``). The installed command
measures QAgent alone. The comparisons with pyretechnics (same landscapes, ignitions and
weather, in the same process; "per core" ratios use QAgent with one thread, pyretechnics
being single-threaded) need its wrapper, which lives with the tests' reference data in a
checkout: ``python benchmarks/bench_behavior.py`` (``bench_spread.py``, ``bench_scale.py``)
passes it to :func:`main` as ``peer``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from qagent._cli import non_negative_int, positive_float, positive_int
from qagent._cli import seed as seed_type

SYNTHETIC_BEHAVIOR_SIDE = 512  # the behavior benchmark's landscape without --landfire
NO_PEER = ("pyretechnics: not compared (qagent-bench measures QAgent alone; in a checkout with pyretechnics "
           "installed, python benchmarks/bench_{what}.py adds the comparison)")

# The benchmark weather: a dry, windy afternoon (moistures as fractions of ovendry weight).
BENCH_WEATHER = dict(wind_speed_10m=20.0, upwind_direction=250.0, fuel_moisture_dead_1hr=0.06,
                     fuel_moisture_dead_10hr=0.08, fuel_moisture_dead_100hr=0.10,
                     fuel_moisture_live_herbaceous=0.60, fuel_moisture_live_woody=0.90, foliar_moisture=1.0)


def machine_facts() -> dict:
    from qagent._ext import build_info

    facts = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "host": platform.node(),
             "cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()}
    facts.update(build_info())
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    return facts


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _timed(fn, min_seconds: float = 1.0, max_reps: int = 50):
    """Median wall time of fn() over repeats filling about min_seconds (at least 3 runs)."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_seconds and len(times) < max_reps):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _with_threads(n: int):
    class _Ctx:
        def __enter__(self):
            self.old = torch.get_num_threads()
            torch.set_num_threads(n)  # also sets OpenMP's thread count for our ops

        def __exit__(self, *exc):
            torch.set_num_threads(self.old)

    return _Ctx()


def _print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    widths = [max(len(title), *(len(_fmt(r.get(key))) for r in rows)) for key, title in columns]
    print("  ".join(title.rjust(w) for (_, title), w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_fmt(r.get(key)).rjust(w) for (key, _), w in zip(columns, widths)))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


# ---------------------------------------------------------------------------------- behavior
def bench_behavior(landfire: Path | None, repeat_seconds: float, *, peer=None, seed: int = 1) -> dict:
    """Cells per second of qagent.fire.behavior on a LANDFIRE landscape (``landfire``, a folder)
    or a synthetic one (None: ``SYNTHETIC_BEHAVIOR_SIDE`` square, ``seed``); with ``peer``
    (benchmarks/oracle.py), also of pyretechnics' burn_all_cells_as_head_fire on the same
    inputs, and their agreement."""
    from qagent.fire import Weather, behavior

    if landfire is not None:
        from qagent.landscape.landfire import load_landfire

        ls, name = load_landfire(landfire), landfire.name
    else:
        from qagent.landscape import synthetic

        ls, name = synthetic(SYNTHETIC_BEHAVIOR_SIDE, SYNTHETIC_BEHAVIOR_SIDE, seed), f"synthetic seed {seed}"
    weather = Weather(**BENCH_WEATHER)
    cells = ls.num_cells
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        with _with_threads(threads):
            t, out = _timed(lambda: behavior(ls, weather), repeat_seconds)
        rows.append({"engine": "qagent", "device": "cpu", "threads": threads, "seconds": t, "cells_per_s": cells / t})
    if torch.cuda.is_available():
        lc = ls.to("cuda")
        t, _ = _timed(lambda: behavior(lc, weather), repeat_seconds)
        rows.append({"engine": "qagent", "device": "cuda", "threads": None, "seconds": t, "cells_per_s": cells / t})
    columns = [("engine", "engine"), ("device", "device"), ("threads", "threads"), ("seconds", "seconds"),
               ("cells_per_s", "cells/s")]
    summary = {"landscape": str(landfire) if landfire is not None else name, "shape": list(ls.shape), "rows": rows}
    if peer is None:
        print(f"\nbehavior on {name}: {ls.shape[0]} x {ls.shape[1]} = {cells:,} cells")
        _print_table(rows, columns)
        print(NO_PEER.format(what="behavior"))
        return summary
    grids = {k: v.cpu().numpy() for k, v in (("slope", ls.slope), ("aspect", ls.aspect),
                                             ("fuel_model", ls.fuel_model.float()), ("canopy_cover", ls.canopy_cover),
                                             ("canopy_height", ls.canopy_height),
                                             ("canopy_base_height", ls.canopy_base_height),
                                             ("canopy_bulk_density", ls.canopy_bulk_density))}
    grids.update({k: np.float32(v) for k, v in BENCH_WEATHER.items()})
    t0 = time.perf_counter()
    ref = peer.behavior_head_fire(grids)
    t_ref = time.perf_counter() - t0
    rows.append({"engine": "pyretechnics", "device": "cpu", "threads": 1, "seconds": t_ref,
                 "cells_per_s": cells / t_ref})
    ours_1 = rows[0]["cells_per_s"]
    for r in rows:
        r["vs_pyretechnics"] = r["cells_per_s"] / (cells / t_ref)
    burn = ref["fire_type"] > 0
    rel = np.abs(out.spread_rate.numpy()[burn] - ref["spread_rate"][burn]) / np.maximum(ref["spread_rate"][burn], 1e-6)
    agreement = {"fire_type_equal": float((out.fire_type.numpy() == ref["fire_type"]).mean()),
                 "spread_rate_within_0.5pct": float((rel <= 0.005).mean())}
    print(f"\nbehavior on {name}: {ls.shape[0]} x {ls.shape[1]} = {cells:,} cells")
    _print_table(rows, columns + [("vs_pyretechnics", "x pyretechnics")])
    print(f"agreement with pyretechnics: {agreement}; one-thread speed-up {ours_1 / (cells / t_ref):,.0f}x")
    return summary | {"agreement": agreement}


# ---------------------------------------------------------------------------------- spread
def bench_spread(sizes: list[int], duration_min: float, sims: int, pyretechnics_sims: int,
                 pyretechnics_max_size: int, repeat_seconds: float, seed: int, *, peer=None) -> dict:
    """Simulations per second and memory per simulation on synthetic landscapes (seeded), one
    weather, random burnable ignitions; QAgent with 1 and all threads (and CUDA when present);
    with ``peer`` (benchmarks/oracle.py), pyretechnics' level set on the smaller grids with the
    same inputs."""
    from qagent.fire import Weather, sample_ignitions, simulate
    from qagent.landscape import synthetic

    weather = Weather(**BENCH_WEATHER)
    results = []
    for size in sizes:
        ls = synthetic(size, size, seed)
        n = max(8, int(sims * (50 / size) ** 2)) if size > 50 else sims
        ign = sample_ignitions(ls, n, seed)
        row_common = {"grid": f"{size}x{size}", "duration_min": duration_min}
        for threads in sorted({1, os.cpu_count() or 1}):
            with _with_threads(threads):
                simulate(ls, ign[: min(n, 16)], weather, duration_min)  # warm-up
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                t, r = _timed(lambda: simulate(ls, ign, weather, duration_min), repeat_seconds, max_reps=5)
                rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            results.append({**row_common, "engine": "qagent", "device": "cpu", "threads": threads, "sims": n,
                            "sims_per_s": n / t, "mean_burned_fraction": float(r.burned_cells.float().mean()) / size**2,
                            "scratch_bytes_per_thread": _retained_scratch_bytes() / threads,
                            "peak_rss_growth_mib": (rss1 - rss0) / 1024})
        if torch.cuda.is_available():
            lc = ls.to("cuda")
            n_gpu = n * 50
            ign_gpu = sample_ignitions(ls, n_gpu, seed).to("cuda")
            simulate(lc, ign_gpu[:64], weather, duration_min)
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            t, r = _timed(lambda: simulate(lc, ign_gpu, weather, duration_min), repeat_seconds, max_reps=5)
            peak = torch.cuda.max_memory_allocated() - base
            results.append({**row_common, "engine": "qagent", "device": "cuda", "threads": None, "sims": n_gpu,
                            "sims_per_s": n_gpu / t,
                            "mean_burned_fraction": float(r.burned_cells.float().mean()) / size**2,
                            "gpu_peak_bytes_per_sim": peak / n_gpu})
        if peer is not None and size <= pyretechnics_max_size and pyretechnics_sims > 0:
            grids = _peer_grids(ls)
            times, burned = [], []
            for k in range(pyretechnics_sims):
                cell = int(ign[k])
                # pyretechnics' own default time step (0.4 cells per step): the fair speed reference
                out = peer.spread_level_set(grids, ls.cell_size_m, divmod(cell, size), duration_min,
                                       max_cells_per_timestep=0.4)
                times.append(out["wall_time_s"])
                burned.append(int(out["burned"].sum()))
            mean_t = float(np.mean(times))
            results.append({**row_common, "engine": "pyretechnics", "device": "cpu", "threads": 1,
                            "sims": pyretechnics_sims, "sims_per_s": 1.0 / mean_t,
                            "mean_burned_fraction": float(np.mean(burned)) / size**2})
            ours = simulate(ls, ign[:pyretechnics_sims], weather, duration_min)
            same = float(ours.burned_cells.float().mean()) / size**2
            results[-1]["qagent_mean_burned_fraction_same_ignitions"] = same
    by_grid: dict[str, float] = {r["grid"]: r["sims_per_s"] for r in results if r["engine"] == "pyretechnics"}
    for r in results:
        if r["grid"] in by_grid and r["engine"] == "qagent":
            per = r["sims_per_s"] / (r["threads"] or 1) if r["device"] == "cpu" else r["sims_per_s"]
            r["vs_pyretechnics" + ("_per_core" if r["device"] == "cpu" else "")] = per / by_grid[r["grid"]]
    print(f"\nspread: synthetic landscapes (seed {seed}), wind {BENCH_WEATHER['wind_speed_10m']} km/h, "
          f"{duration_min:g} min, 32-direction stencil")
    _print_table(results, [("grid", "grid"), ("engine", "engine"), ("device", "device"), ("threads", "threads"),
                           ("sims", "sims"), ("sims_per_s", "sims/s"), ("mean_burned_fraction", "burned frac"),
                           ("scratch_bytes_per_thread", "scratch kept B/thread"),
                           ("gpu_peak_bytes_per_sim", "GPU B/sim"),
                           ("vs_pyretechnics_per_core", "x pyret/core"), ("vs_pyretechnics", "x pyret")])
    if peer is None:
        print(NO_PEER.format(what="spread"))
    return {"sizes": sizes, "duration_min": duration_min, "weather": BENCH_WEATHER, "rows": results}


def _retained_scratch_bytes() -> int:
    """Bytes of CPU spread scratch the threads kept after the last call (csrc/cpu/spread_cpu.cpp:
    pages of the cells fires touched, capped at 64 MiB per thread)."""
    from qagent import _ext

    return int(_ext.load().spread_scratch_bytes())


def _peer_grids(ls) -> dict:
    """The landscape's layers and BENCH_WEATHER as the peer's (pyretechnics') named inputs."""
    g = {k: getattr(ls, k).cpu().numpy() for k in ("slope", "aspect", "canopy_cover", "canopy_height",
                                                    "canopy_base_height", "canopy_bulk_density")}
    g["fuel_model"] = ls.fuel_model.cpu().numpy().astype(np.float32)
    g.update({k: np.float32(v) for k, v in BENCH_WEATHER.items()})
    return g


# ---------------------------------------------------------------------------------- scale
SCALE_SIDES = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
_BASE_SIDE = 1024  # synthetic landscapes larger than this are tiles of one 1024 x 1024 landscape


def _rss_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Restart the peak resident set (Linux: /proc/self/clear_refs 5), so ru_maxrss measures
    from here."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _exact_rss_accounting() -> None:
    """Make glibc return large blocks to the system when freed (a fixed mmap threshold of
    1 MiB instead of one that grows with the blocks freed), so the resident set growth of a
    call counts its large allocations instead of reusing memory an earlier call freed."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _peak_growth_mib(fn):
    """(result, peak resident memory growth in MiB during fn(), or None where the peak cannot be
    restarted)."""
    reset = _reset_peak()
    before = _rss_kib()
    out = fn()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out, ((peak - before) / 1024 if reset else None)


def _cpu_timed(fn, min_seconds: float, max_reps: int = 20):
    """Smallest CPU time of this thread over repeats of fn() (at least 2, about min_seconds in
    all): with one compute thread, CPU time is the work itself, not the waits for a core this
    shared machine imposes on wall time."""
    best, reps, start = float("inf"), 0, time.perf_counter()
    out = None
    while reps < 2 or (time.perf_counter() - start < min_seconds and reps < max_reps):
        out = None  # the previous result is not kept alive during the next run (peak memory)
        t0 = time.thread_time()
        out = fn()
        best = min(best, time.thread_time() - t0)
        reps += 1
    return best, out


def _mem_available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_LAYERS = ("slope", "aspect", "elevation", "fuel_model", "canopy_cover", "canopy_height", "canopy_base_height",
           "canopy_bulk_density")


def large_fire_weather():
    """The weather of the large-fire runs: 30 km/h wind, dry fuels (24 h fires; issue 13's
    burned cells per second)."""
    from qagent.fire import Weather

    return Weather(30.0, 225.0, 0.04, 0.05, 0.06, 0.5, 0.8, 1.0)


def large_fire_grass(side: int):
    """The large-fire runs' uniform landscape: side x side cells of grass (GR2), 10 % slope."""
    from qagent.landscape import Landscape

    def full(value: float) -> torch.Tensor:
        return torch.full((side, side), value, dtype=torch.float32)

    return Landscape(slope=full(0.1), aspect=full(180.0), elevation=full(0.0),
                     fuel_model=torch.full((side, side), 102, dtype=torch.int32),
                     canopy_cover=full(0.0), canopy_height=full(0.0), canopy_base_height=full(0.0),
                     canopy_bulk_density=full(0.0))


def large_fire_ignitions(landscape, fires: int, seed: int) -> torch.Tensor:
    """``fires`` ignitions of the large-fire runs: the burnable cell nearest the centre and
    ``fires - 1`` burnable cells drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    height, width = landscape.shape
    cells = landscape.burnable_cells()
    centre = cells[torch.argmin((cells // width - height // 2).abs() + (cells % width - width // 2).abs())]
    return torch.cat([centre.reshape(1), cells[torch.from_numpy(rng.integers(0, len(cells), fires - 1))]])


def scale_landscape(side: int, base):
    """A side x side landscape: the top-left corner of ``base``, or ``base`` tiled (layers
    repeated) where it is smaller. Every size holds the same top-left 64 x 64 block, where the
    benchmark's fires start."""
    from qagent.landscape import Landscape

    reps_r, reps_c = -(-side // base.height), -(-side // base.width)
    layers = {}
    for name in _LAYERS:
        t = getattr(base, name)
        layers[name] = (t.repeat(reps_r, reps_c) if reps_r * reps_c > 1 else t)[:side, :side].contiguous()
    return Landscape(**layers, cell_size_m=base.cell_size_m)


def _landfire_base(landfire: Path):
    """The LANDFIRE raster from its centre to its south-east corner, so that tiles of it start
    with the raster's central 64 x 64 window (burnable, away from the nodata border)."""
    from qagent.landscape import Landscape
    from qagent.landscape.landfire import load_landfire

    ls = load_landfire(landfire)
    r0, c0 = ls.height // 2 - 32, ls.width // 2 - 32
    return Landscape(**{n: getattr(ls, n)[r0:, c0:].clone() for n in _LAYERS}, cell_size_m=ls.cell_size_m)


def _scale_series(base, sides: list[int], fires: int, seed: int, repeat_seconds: float, eager_max_side: int,
                  eager_fires: int, label: str) -> list[dict]:
    """Per-fire CPU time and peak memory of the same fires on grids of each side."""
    from qagent import _ext
    from qagent.fire.scenario import DEFAULT_SCENARIO

    one_weather = DEFAULT_SCENARIO.reference_weather()
    rows = []
    for side in sides:
        need = side * side * (8 * 4 + 24 + 4 + 4) * 1.5  # layers, terrain, counts, tiling, margin
        if side > 4096 and _mem_available_bytes() < need:
            print(f"  {side} x {side}: skipped ({need / 2**30:.1f} GiB needed, "
                  f"{_mem_available_bytes() / 2**30:.1f} available)")
            continue
        t0 = time.perf_counter()
        ls = scale_landscape(side, base)
        ls.terrain_tensor()
        build_s = time.perf_counter() - t0
        ign, weather, duration = _scale_fires(ls, fires, seed)
        row = {"landscape": label, "side": side, "cells": side * side, "build_s": build_s,
               "landscape_mib": (8 * 4 + 24) * side * side / 2**20}
        row["per_fire_weather"] = _per_fire(ls, ign, weather, duration, repeat_seconds)
        row["per_fire_weather_no_counts"] = _per_fire(ls, ign, weather, duration, repeat_seconds,
                                                      return_burn_count=False)
        row["one_weather"] = _per_fire(ls, ign, one_weather, duration, repeat_seconds)
        row["per_call_us"] = _per_call_us(ls, ign, weather, duration, min(100, fires))
        if side <= eager_max_side:
            k = min(fires, eager_fires)
            row["eager_per_fire_weather"] = _per_fire(ls, ign[:k], _subset(weather, k), duration[:k],
                                                      repeat_seconds, params="eager")
        row["retained_scratch_mib"] = _ext.load().spread_scratch_bytes() / 2**20
        rows.append(row)
        pf, ow = row["per_fire_weather"], row["one_weather"]
        eager = row.get("eager_per_fire_weather")
        print(f"  {side:5d}^2: per-fire weather {pf['us_per_fire']:8.1f} us/fire"
              f" (peak +{_fmt(pf['peak_growth_mib'])} MiB),"
              f" one weather {ow['us_per_fire']:7.1f} us/fire, one fire per call {row['per_call_us']:6.0f} us,"
              f" eager (before) {_fmt(eager['us_per_fire'] if eager else None)} us/fire;"
              f" mean burned {pf['mean_burned']:.1f} cells; landscape built in {build_s:.1f} s")
        del ls
    for row in rows:
        for key in ("per_fire_weather", "one_weather"):
            row[key]["vs_smallest"] = row[key]["us_per_fire"] / rows[0][key]["us_per_fire"]
            row[key]["us_per_burned_cell"] = row[key]["us_per_fire"] / max(row[key]["mean_burned"], 1e-9)
    return rows


def _scale_fires(ls, n: int, seed: int):
    """n default-scenario fires igniting on burnable cells of rows and columns 16-47 (the
    middle of the top-left 64 x 64 block, the same cells at every grid size)."""
    from qagent.fire.scenario import DEFAULT_SCENARIO

    burnable = ls.burnable_mask()[16:48, 16:48]
    rows, cols = torch.nonzero(burnable, as_tuple=True)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(rows), n)
    ign = (rows[pick] + 16) * ls.width + cols[pick] + 16
    weather, duration = DEFAULT_SCENARIO.sample(n, rng)
    return ign.to(torch.int64), weather, duration


def _subset(weather, k: int):
    from qagent.fire import WeatherSamples

    return WeatherSamples(*(getattr(weather, f)[:k] for f in weather.__dataclass_fields__))


def _per_fire(ls, ign, weather, duration, repeat_seconds: float, **kw) -> dict:
    from qagent.fire import simulate

    (t, r), mem = _peak_growth_mib(lambda: _cpu_timed(lambda: simulate(ls, ign, weather, duration, **kw),
                                                      repeat_seconds))
    n = len(ign)
    return {"us_per_fire": t / n * 1e6, "mean_burned": float(r.burned_cells.float().mean()),
            "peak_growth_mib": mem, "fires": n}


def _per_call_us(ls, ign, weather, duration, calls: int) -> float:
    """CPU time of simulate called with one fire at a time (burn counts off)."""
    from qagent.fire import simulate

    singles = [(ign[i:i + 1], type(weather)(*(getattr(weather, f)[i:i + 1] for f in weather.__dataclass_fields__)),
                duration[i:i + 1]) for i in range(calls)]
    simulate(ls, *singles[0], return_burn_count=False)
    t0 = time.thread_time()
    for i, w, d in singles:
        simulate(ls, i, w, d, return_burn_count=False)
    return (time.thread_time() - t0) / calls * 1e6


def bench_scale(sides: list[int], fires: int, repeat_seconds: float, seed: int, landfire: Path | None,
                large_side: int, large_fires: int, pyretechnics_fires: int, pyretechnics_max_side: int,
                eager_max_side: int, eager_fires: int, throughput_fires: int, plot: Path | None,
                out_dir: Path | None, *, peer=None) -> dict:
    """Cost per fire against grid size (issue 13): the same default-scenario fires on grids of
    64 x 64 up to 8192 x 8192 cells, with per-fire weather and with one weather, one thread;
    the previous behaviour (eager parameters over the whole grid) and, with ``peer``
    (benchmarks/oracle.py), pyretechnics' level set on the same fires where they can run;
    burned cells per second of large fires; with ``landfire`` (a LANDFIRE folder), the
    issue's Worcester experiment and 100,000 fires with burn probability written, all threads."""
    from qagent import _ext
    from qagent.fire import burn_probability, simulate
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.landscape import synthetic

    _exact_rss_accounting()
    result: dict = {"sides": [], "landfire_sides": [], "worcester": None, "large_fires": [], "pyretechnics": [],
                    "throughput": None}
    with _with_threads(1):
        # ---------------------------------------------------------------- grid sizes
        t0 = time.perf_counter()
        base = synthetic(_BASE_SIDE, _BASE_SIDE, seed)
        print(f"\nscale: synthetic base {_BASE_SIDE} x {_BASE_SIDE} (seed {seed}) in {time.perf_counter() - t0:.1f} s; "
              f"{fires} default-scenario fires in the top-left 64 x 64 block, 1 thread, CPU time")
        result["sides"] = _scale_series(base, sides, fires, seed, repeat_seconds, eager_max_side, eager_fires,
                                        f"synthetic seed {seed}")
        if landfire is not None and landfire.is_dir():
            lf_sides = [x for x in sides if x <= 4096]
            print(f"\nscale: {landfire.name} tiled from its central 64 x 64 window (small fires), {fires} fires, "
                  "1 thread, CPU time")
            result["landfire_sides"] = _scale_series(_landfire_base(landfire), lf_sides, fires, seed, repeat_seconds,
                                                     eager_max_side, eager_fires, f"{landfire.name} tiled")

        # ---------------------------------------------------------------- pyretechnics
        if peer is None:
            print(NO_PEER.format(what="scale"))
        elif pyretechnics_fires > 0:
            for side in [x for x in sides if x <= pyretechnics_max_side]:
                ls = scale_landscape(side, base)
                ign, weather, duration = _scale_fires(ls, pyretechnics_fires, seed)
                grids = _peer_grids(ls)
                times, burned = [], []
                for k in range(pyretechnics_fires):
                    g = dict(grids)
                    for name in weather.__dataclass_fields__:
                        g[name] = np.float32(getattr(weather, name)[k])
                    out = peer.spread_level_set(g, ls.cell_size_m, divmod(int(ign[k]), side), float(duration[k]),
                                           max_cells_per_timestep=0.4)
                    times.append(out["wall_time_s"])
                    burned.append(int(out["burned"].sum()))
                ours = _per_fire(ls, ign, weather, duration, repeat_seconds)
                r = {"side": side, "fires": pyretechnics_fires, "pyretechnics_ms_per_fire": float(np.mean(times)) * 1e3,
                     "pyretechnics_mean_burned": float(np.mean(burned)), "qagent_us_per_fire": ours["us_per_fire"],
                     "qagent_mean_burned": ours["mean_burned"]}
                r["qagent_vs_pyretechnics"] = r["pyretechnics_ms_per_fire"] * 1e3 / r["qagent_us_per_fire"]
                result["pyretechnics"].append(r)
                print(f"  pyretechnics {side}^2: {r['pyretechnics_ms_per_fire']:.0f} ms/fire (mean burned "
                      f"{r['pyretechnics_mean_burned']:.1f}); qagent {r['qagent_us_per_fire']:.1f} us/fire "
                      f"({r['qagent_mean_burned']:.1f}): {r['qagent_vs_pyretechnics']:,.0f} x")

        # ---------------------------------------------------------------- large fires
        if large_fires > 0:
            windy = large_fire_weather()
            for name, ls in (("uniform grass (GR2), 10 % slope", large_fire_grass(large_side)),
                             (f"synthetic seed {seed}", scale_landscape(large_side, base))):
                ign = large_fire_ignitions(ls, large_fires, seed)
                for params in ("lazy", "eager"):
                    t, r = _cpu_timed(lambda: simulate(ls, ign, windy, 1440.0, params=params), repeat_seconds,
                                      max_reps=3)
                    burned = int(r.burned_cells.sum())
                    row = {"landscape": name, "side": large_side, "fires": large_fires, "params": params,
                           "burned_cells": burned, "seconds": t, "cells_per_s": burned / t}
                    result["large_fires"].append(row)
                    print(f"  {large_fires} large fires (24 h, 30 km/h) on {name} {large_side}^2, {params} parameters: "
                          f"{burned:,} burned cells in {t:.2f} s CPU: {burned / t / 1e6:.2f} M cells/s per core")
                del ls

        # ---------------------------------------------------------------- Worcester
        if landfire is not None and landfire.is_dir():
            result["worcester"] = _worcester_experiment(landfire, fires, seed, repeat_seconds)

    # ---------------------------------------------------------------- throughput (all threads)
    if throughput_fires > 0 and landfire is not None and landfire.is_dir():
        from qagent.landscape.landfire import load_landfire, save_geotiff

        ls = load_landfire(landfire)
        weather, duration = DEFAULT_SCENARIO.sample(throughput_fires, np.random.default_rng(seed))
        out = (out_dir or Path("bench_out")) / "burn_probability_worcester.tif"
        out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        p = burn_probability(ls, throughput_fires, weather, duration, seed=seed)
        t_fires = time.perf_counter() - t0
        save_geotiff(ls, out, p)
        t_all = time.perf_counter() - t0
        result["throughput"] = {"fires": throughput_fires, "threads": torch.get_num_threads(),
                                "fires_s": t_fires, "total_s": t_all, "geotiff": str(out),
                                "mean_burned": float(p.sum()), "fires_per_s": throughput_fires / t_fires}
        print(f"  {throughput_fires:,} default-scenario fires on {landfire.name} ({ls.height} x {ls.width}), "
              f"{torch.get_num_threads()} threads: burn probability in {t_fires:.2f} s, GeoTIFF written, "
              f"{t_all:.2f} s in all ({throughput_fires / t_fires:,.0f} fires/s)")

    if plot is not None:
        _plot_scale(result, plot)
        print(f"wrote {plot}")
    return result


def _worcester_experiment(landfire: Path, fires: int, seed: int, repeat_seconds: float) -> dict:
    """Issue 13's experiment: the same fires, ignited at the same cells of the Worcester raster,
    on a 64 x 64 window (its centre) and on the whole raster; per-fire and one weather."""
    from qagent.fire import sample_ignitions
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.landscape import Landscape
    from qagent.landscape.landfire import load_landfire

    ls = load_landfire(landfire)
    r0, c0 = ls.height // 2 - 32, ls.width // 2 - 32
    window = Landscape(**{n: getattr(ls, n)[r0:r0 + 64, c0:c0 + 64].clone() for n in (
        "slope", "aspect", "elevation", "fuel_model", "canopy_cover", "canopy_height", "canopy_base_height",
        "canopy_bulk_density")}, cell_size_m=ls.cell_size_m)
    ign_w = sample_ignitions(window, fires, seed)
    ign_full = (ign_w // 64 + r0) * ls.width + ign_w % 64 + c0
    weather, duration = DEFAULT_SCENARIO.sample(fires, np.random.default_rng(seed))
    one = DEFAULT_SCENARIO.reference_weather()
    out = {"shape": list(ls.shape), "fires": fires}
    for name, l, ign in (("window_64", window, ign_w), ("whole", ls, ign_full)):
        out[name] = {"per_fire_weather": _per_fire(l, ign, weather, duration, repeat_seconds),
                     "one_weather": _per_fire(l, ign, one, duration, repeat_seconds)}
        k = 20
        out[name]["eager_per_fire_weather"] = _per_fire(l, ign[:k], _subset(weather, k), duration[:k], repeat_seconds,
                                                        params="eager")
        out[name]["eager_one_weather"] = _per_fire(l, ign, one, duration, repeat_seconds, params="eager")
    for key in ("per_fire_weather", "one_weather", "eager_per_fire_weather", "eager_one_weather"):
        out[f"{key}_whole_vs_window"] = out["whole"][key]["us_per_fire"] / out["window_64"][key]["us_per_fire"]
    print(f"  Worcester {ls.height} x {ls.width}, {fires} fires at the same cells, 1 thread:")
    for key in ("per_fire_weather", "one_weather", "eager_per_fire_weather", "eager_one_weather"):
        print(f"    {key:24s} 64x64 {out['window_64'][key]['us_per_fire']:9.1f} us/fire, whole "
              f"{out['whole'][key]['us_per_fire']:9.1f} us/fire: x{out[f'{key}_whole_vs_window']:.2f} "
              f"(mean burned {out['window_64'][key]['mean_burned']:.1f} / {out['whole'][key]['mean_burned']:.1f})")
    return out


def _plot_scale(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["sides"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
    landfire_rows = result.get("landfire_sides") or []
    for series, name, color in ((rows, "synthetic", "C0"), (landfire_rows, "LANDFIRE tiled", "C1")):
        if not series:
            continue
        sides = [r["side"] for r in series]
        ax.loglog(sides, [r["per_fire_weather"]["us_per_fire"] for r in series], "o-", color=color,
                  label=f"{name}: per-fire weather")
        ax.loglog(sides, [r["one_weather"]["us_per_fire"] for r in series], "s:", color=color,
                  label=f"{name}: one weather")
        eager = [r for r in series if "eager_per_fire_weather" in r]
        if eager:
            ax.loglog([r["side"] for r in eager], [r["eager_per_fire_weather"]["us_per_fire"] for r in eager], "x--",
                      color=color, alpha=0.6, label=f"{name}: per-fire weather, eager (before)")
    if result["pyretechnics"]:
        ax.loglog([r["side"] for r in result["pyretechnics"]],
                  [r["pyretechnics_ms_per_fire"] * 1e3 for r in result["pyretechnics"]], "^-", color="C3",
                  label="pyretechnics level set (synthetic fires)")
    ax.set_xlabel("grid side (cells)")
    ax.set_ylabel("CPU time per fire (us), 1 thread")
    ax.set_ylim(top=max(ax.get_ylim()[1], 1e5))
    ax.set_title("cost per default-scenario fire")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    mem = [(r["side"], r["per_fire_weather"]["peak_growth_mib"], r["landscape_mib"]) for r in rows
           if r["per_fire_weather"]["peak_growth_mib"] is not None]
    if mem:
        bx.loglog([m[0] for m in mem], [max(m[1], 0.1) for m in mem], "o-",
                  label="peak growth of a call (synthetic, floor 0.1)")
        bx.loglog([m[0] for m in mem], [m[2] for m in mem], "k--", label="the landscape (layers + terrain)")
        bx.loglog([m[0] for m in mem], [m[0] ** 2 * 4 / 2**20 for m in mem], "k:", label="one [H, W] int32 grid")
    bx.set_xlabel("grid side (cells)")
    bx.set_ylabel("MiB")
    bx.set_title("memory")
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None, *, peer=None, command: str | None = None) -> int:
    """``qagent-bench``. ``peer``: the pyretechnics wrapper (benchmarks/oracle.py, a module with
    ``behavior_head_fire`` and ``spread_level_set``) to compare with; None measures QAgent
    alone. ``command``: the command line recorded in the JSON (default ``qagent-bench ARGS``)."""
    parser = argparse.ArgumentParser(prog="qagent-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--info", action="store_true", help="print the build and devices, then exit")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", type=Path, help="write the results as JSON here")
    sub = parser.add_subparsers(dest="what")
    b = sub.add_parser("behavior", parents=[common],
                       help="cells/s of fire behavior on a synthetic or LANDFIRE landscape")
    b.add_argument("--landfire", type=Path, help="folder of LANDFIRE GeoTIFFs (default: a synthetic "
                   f"{SYNTHETIC_BEHAVIOR_SIDE} x {SYNTHETIC_BEHAVIOR_SIDE} landscape)")
    b.add_argument("--seed", type=seed_type, default=1, help="seed of the synthetic landscape")
    b.add_argument("--repeat-seconds", type=positive_float, default=2.0)
    s = sub.add_parser("spread", parents=[common], help="simulations/s and memory of fire spread")
    s.add_argument("--sizes", type=positive_int, nargs="+", default=[50, 128, 256, 512])
    s.add_argument("--duration-min", type=positive_float, default=1440.0, help="minutes of spread (default 24 h)")
    s.add_argument("--sims", type=positive_int, default=2000, help="simulations at 50x50 (fewer on larger grids)")
    s.add_argument("--pyretechnics-sims", type=non_negative_int, default=5,
                   help="level-set runs per grid for the reference (with the peer)")
    s.add_argument("--pyretechnics-max-size", type=positive_int, default=128, help="largest grid run with pyretechnics")
    s.add_argument("--repeat-seconds", type=positive_float, default=2.0)
    s.add_argument("--seed", type=seed_type, default=1)
    c = sub.add_parser("scale", parents=[common],
                       help="cost per fire and memory against grid size, 64^2 to 8192^2 (issue 13)")
    c.add_argument("--sides", type=positive_int, nargs="+", default=SCALE_SIDES,
                   help="grid sides; 8192 runs where memory allows (about 6 GiB)")
    c.add_argument("--fires", type=positive_int, default=300, help="default-scenario fires per grid size")
    c.add_argument("--repeat-seconds", type=positive_float, default=1.0)
    c.add_argument("--seed", type=seed_type, default=1)
    c.add_argument("--landfire", type=Path,
                   help="LANDFIRE folder for the Worcester experiment and the throughput run (default: none)")
    c.add_argument("--large-side", type=positive_int, default=1024, help="grid side of the large-fire runs")
    c.add_argument("--large-fires", type=non_negative_int, default=4, help="24-hour windy fires for burned cells/s")
    c.add_argument("--pyretechnics-fires", type=non_negative_int, default=3,
                   help="level-set runs per grid size, same fires (with the peer)")
    c.add_argument("--pyretechnics-max-side", type=positive_int, default=128)
    c.add_argument("--eager-max-side", type=positive_int, default=1024,
                   help="largest grid run with eager parameters (the previous behaviour)")
    c.add_argument("--eager-fires", type=positive_int, default=20, help="fires of the eager runs")
    c.add_argument("--throughput-fires", type=non_negative_int, default=100_000,
                   help="fires on the whole LANDFIRE raster with burn probability written, all threads")
    c.add_argument("--plot", type=Path, default=Path("bench_out/scale.png"), help="log-log PNG of the results")
    c.add_argument("--out-dir", type=Path, default=Path("bench_out"), help="where the GeoTIFF goes")
    args = parser.parse_args(argv)

    facts = machine_facts()
    if args.info or args.what is None:
        for k, v in facts.items():
            print(f"{k:22s} {v}")
        return 0
    print(f"{facts['date']}  {facts['cpu']} ({facts['cores']} cores), {facts.get('gpu', 'no GPU')}, "
          f"qagent {facts['build']} build, torch {facts['torch_version']}")
    if args.what == "behavior":
        if args.landfire is not None and not args.landfire.is_dir():
            print(f"qagent-bench: no LANDFIRE folder at {args.landfire} (--landfire)", file=sys.stderr)
            return 2
        result = bench_behavior(args.landfire, args.repeat_seconds, peer=peer, seed=args.seed)
    elif args.what == "spread":
        result = bench_spread(args.sizes, args.duration_min, args.sims, args.pyretechnics_sims,
                              args.pyretechnics_max_size, args.repeat_seconds, args.seed, peer=peer)
    else:
        if args.landfire is not None and not args.landfire.is_dir():
            print(f"qagent-bench: no LANDFIRE folder at {args.landfire} (--landfire)", file=sys.stderr)
            return 2
        result = bench_scale(sorted(set(args.sides)), args.fires, args.repeat_seconds, args.seed, args.landfire,
                             args.large_side, args.large_fires, args.pyretechnics_fires, args.pyretechnics_max_side,
                             args.eager_max_side, args.eager_fires, args.throughput_fires, args.plot, args.out_dir,
                             peer=peer)
    if command is None:
        command = "qagent-bench " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"benchmark": args.what, "command": command,
              "machine": facts, **result}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
