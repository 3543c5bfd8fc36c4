"""Fire-behavior benchmark: cells per second of qagent.fire.behavior against pyretechnics'
burn_all_cells_as_head_fire on the same inputs, in one run (a synthetic landscape unless
``--landfire``; BENCHMARKS.md uses the Worcester LANDFIRE landscape).

    python benchmarks/bench_behavior.py [--landfire DIR] [--json bench_out/behavior.json]

``qagent-bench behavior`` with pyretechnics (benchmarks/oracle.py) as its peer; see qagent/bench.py.
"""

import sys

import oracle  # benchmarks/oracle.py, beside this script
from qagent.bench import main

if __name__ == "__main__":
    oracle.require_pyretechnics()
    sys.exit(main(["behavior", *sys.argv[1:]], peer=oracle, command=" ".join(["python", *sys.argv])))
