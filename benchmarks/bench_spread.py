"""Fire-spread benchmark: simulations per second and memory per simulation, QAgent against
pyretechnics' level set, same landscapes, ignitions and weather, in one run.

    python benchmarks/bench_spread.py [--sizes 50 128 256 512] [--json bench_out/spread.json]

``qagent-bench spread`` with pyretechnics (benchmarks/oracle.py) as its peer; see qagent/bench.py.
"""

import sys

import oracle  # benchmarks/oracle.py, beside this script
from qagent.bench import main

if __name__ == "__main__":
    oracle.require_pyretechnics()
    sys.exit(main(["spread", *sys.argv[1:]], peer=oracle, command=" ".join(["python", *sys.argv])))
