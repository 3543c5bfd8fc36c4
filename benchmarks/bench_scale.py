"""Scale benchmark (issue 13): CPU time per fire and peak memory against grid size, 64 x 64 to
8192 x 8192, with per-fire weather and one weather; the previous behaviour (eager parameters)
and pyretechnics on the same fires where they run; burned cells per second of large fires; the
Worcester experiment (the same fires on a 64 x 64 window and the whole raster); 100,000 fires
with burn probability written. Writes a log-log PNG.

    python benchmarks/bench_scale.py [--sides 64 256 1024 4096] [--json bench_out/scale.json]

Same as ``qagent-bench scale``; see qagent/bench.py.
"""

import sys

from qagent.bench import main

if __name__ == "__main__":
    sys.exit(main(["scale", *sys.argv[1:]]))
