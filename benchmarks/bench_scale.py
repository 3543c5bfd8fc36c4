"""Scale benchmark (issue 13): CPU time per fire and peak memory against grid size, 64 x 64 to
8192 x 8192, with per-fire weather and one weather; the previous behaviour (eager parameters)
and pyretechnics on the same fires where they run; burned cells per second of large fires; with
``--landfire``, the Worcester experiment (the same fires on a 64 x 64 window and the whole
raster) and 100,000 fires with burn probability written. Writes a log-log PNG.

    python benchmarks/bench_scale.py [--sides 64 256 1024 4096] [--landfire DIR] [--json bench_out/scale.json]

``qagent-bench scale`` with pyretechnics (benchmarks/oracle.py) as its peer; see qagent/bench.py.
"""

import sys

import oracle  # benchmarks/oracle.py, beside this script
from qagent.bench import main

if __name__ == "__main__":
    oracle.require_pyretechnics()
    sys.exit(main(["scale", *sys.argv[1:]], peer=oracle, command=" ".join(["python", *sys.argv])))
