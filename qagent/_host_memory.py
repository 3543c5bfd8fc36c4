"""Host memory settings of the command line that runs networks on whole rasters (qagent-plan).

glibc's malloc serves blocks above its mmap threshold (at most 32 MiB by default) with a fresh
``mmap`` and returns them with ``munmap`` when freed. A network's activations on a whole
raster are such blocks (Worcester, 613 x 549 cells: 1.3 MiB per channel, tens of MiB per
layer), so every forward pass mapped them anew and the kernel zeroed and faulted in every page
again: measured on qagent-plan's placement (the default agent, 3 networks x 50 rounds on the
whole Worcester raster, 2 cores), half of the CPU time was the kernel's (40.5 s system against
39.5 s user), and an ensemble's pass took 0.67 s instead of 0.21 s. Raising the mmap and trim
thresholds keeps freed blocks in the heap for the next pass of the same shapes (M_MMAP_THRESHOLD,
M_TRIM_THRESHOLD: mallopt(3)); the price is a higher resident set between passes (about 90 MiB
more in that measurement). Results do not change. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
RETAINED_BLOCK_BYTES = 1 << 30  # blocks up to 1 GiB come from the heap and go back to it


def retain_freed_blocks(threshold_bytes: int = RETAINED_BLOCK_BYTES) -> bool:
    """Serve and keep blocks up to ``threshold_bytes`` in malloc's heap (glibc only). Returns
    whether both thresholds were set; False (nothing changed) off glibc or if glibc refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    value = min(int(threshold_bytes), 2**31 - 1)
    return bool(mallopt(_M_MMAP_THRESHOLD, value)) and bool(mallopt(_M_TRIM_THRESHOLD, value))
