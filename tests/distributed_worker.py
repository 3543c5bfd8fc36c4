"""Run by tests/test_distributed.py under torchrun (2 CPU processes, gloo); not a test itself.

    torchrun --standalone --nproc_per_node 2 tests/distributed_worker.py train OUT STEPS [RESUME]
    torchrun --standalone --nproc_per_node 2 tests/distributed_worker.py burn_probability OUT
    torchrun --standalone --nproc_per_node 2 tests/distributed_worker.py eval OUT
"""

import sys

import torch

from qagent import distributed


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "train":
        from qagent.train.config import build_config
        from qagent.train.dqn import train

        cfg = build_config(None, preset="demo", grid_size=12, num_envs=2, ignitions=4, cells_per_step=2, micro_batch=8,
                           buffer_capacity=500, learning_starts=16, eval_every=10**9, eval_landscapes=2,
                           checkpoint_every=10**9, log_every=10**9, device="cpu", steps=int(sys.argv[3]), out=out)
        train(cfg, resume=sys.argv[4] if len(sys.argv) > 4 else None, progress=False, distributed=True)
    elif mode == "burn_probability":
        from qagent.fire import burn_probability
        from qagent.fire.scenario import DEFAULT_SCENARIO
        from qagent.landscape import synthetic
        import numpy as np

        distributed.setup("cpu")
        ls = synthetic(30, 30, seed=4)
        weather, duration = DEFAULT_SCENARIO.sample(101, np.random.default_rng(0))
        p = burn_probability(ls, 101, weather, duration, seed=9, distributed=True)
        if distributed.current().is_main:
            torch.save(p, f"{out}/burn_probability.pt")
    elif mode == "eval":
        from qagent.evaluation.cli import eval_main

        distributed.setup("cpu")
        eval_main(["--landscapes", "synthetic", "--grid-size", "16", "--count", "5", "--ignitions", "20",
                   "--methods", "none", "random", "greedy_intensity", "--figures", "0", "--out", out, "--distributed"])
    distributed.cleanup()


if __name__ == "__main__":
    main()
