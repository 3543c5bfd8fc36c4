"""``python -m qagent info``: what was built and where the ops can run."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qagent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print the build (cpu/cuda), torch, CUDA archs, OpenMP threads, devices")
    info.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.command == "info":
        from qagent._ext import build_info

        facts = build_info()
        if args.json:
            print(json.dumps(facts, indent=2))
        else:
            for k, v in facts.items():
                print(f"{k:22s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
