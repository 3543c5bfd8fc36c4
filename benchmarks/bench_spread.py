"""Fire-spread benchmark: simulations per second and memory per simulation, QAgent against
pyretechnics' level set, same landscapes, ignitions and weather, in one run.

    python benchmarks/bench_spread.py [--sizes 50 128 256 512] [--json bench_out/spread.json]

Same as ``qagent-bench spread``; see qagent/bench.py.
"""

import sys

from qagent.bench import main

if __name__ == "__main__":
    sys.exit(main(["spread", *sys.argv[1:]]))
