"""Fire-behavior benchmark: cells per second of qagent.fire.behavior against pyretechnics'
burn_all_cells_as_head_fire on the Worcester LANDFIRE landscape, same inputs, in one run.

    python benchmarks/bench_behavior.py [--landfire DIR] [--json bench_out/behavior.json]

Same as ``qagent-bench behavior``; see qagent/bench.py.
"""

import sys

from qagent.bench import main

if __name__ == "__main__":
    sys.exit(main(["behavior", *sys.argv[1:]]))
