"""``qagent-train``: train a fuel-break placement agent.

Examples:
  qagent-train --preset demo                      a few minutes on a CPU, synthetic landscapes
  qagent-train --preset auto --device cuda        the largest preset that fits the GPU
  qagent-train --landscapes tiles/ --steps 500000 train on a tile dataset (qagent-tiles)
  qagent-train --config run.toml --resume runs/qagent/last.pt
  qagent-train --list-presets
  torchrun --nproc_per_node 4 $(which qagent-train) --distributed --preset high
                                                  DistributedDataParallel on 4 GPUs (README)

Settings are merged in this order: defaults, the memory preset, --config TOML, flags.
Outputs in --out: best.pt, final.pt, last.pt (checkpoints), training_log.csv, tensorboard/,
training_curve.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from qagent._validation import InputError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qagent-train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    run = p.add_argument_group("run")
    run.add_argument("--config", metavar="TOML", help="settings file (see qagent/train/config.py)")
    run.add_argument("--preset", choices=["auto", "demo", "low", "medium", "high"],
                     help="memory preset: batch, environments, buffer, model, grid (default demo; "
                          "auto picks from the GPU's free memory)")
    run.add_argument("--model", choices=["qnet", "enhanced", "enhanced_efficient", "dueling"],
                     help="Q-network (default: the preset's)")
    run.add_argument("--landscapes", metavar="DIR|synthetic",
                     help="training landscapes: 'synthetic' (default), a tile dataset or a LANDFIRE folder")
    run.add_argument("--grid-size", type=int, metavar="N", help="tile side in cells (default: the preset's)")
    run.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    run.add_argument("--steps", type=int, help="environment steps (transitions) to train for")
    run.add_argument("--out", metavar="DIR", help="output folder (default runs/qagent)")
    run.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (e.g. OUT/last.pt)")
    run.add_argument("--seed", type=int, help="random seed (default 0)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--distributed", action="store_true",
                     help="DistributedDataParallel across the processes torchrun starts (NCCL on GPUs, gloo on CPUs)")
    ep = p.add_argument_group("episodes")
    ep.add_argument("--budget-fraction", type=float, help="fuel-break budget, fraction of burnable cells (0.05)")
    ep.add_argument("--cells-per-step", type=int, help="cells broken per step, k (5)")
    ep.add_argument("--ignitions", type=int, help="fires per episode that estimate the reward, S (32)")
    ep.add_argument("--reward", choices=["relative", "absolute"],
                    help="drop in expected burned area as a fraction of the untreated burned area (relative, "
                         "default: every landscape weighs alike) or of the landscape (absolute)")
    ep.add_argument("--num-envs", type=int, help="environments stepped together (default: the preset's)")
    lr = p.add_argument_group("learning")
    lr.add_argument("--learning-rate", type=float, help="peak learning rate (3e-4)")
    lr.add_argument("--gamma", type=float, help="discount (0: each step's own drop is the target)")
    lr.add_argument("--micro-batch", type=int, help="samples per forward pass (default: the preset's)")
    lr.add_argument("--accumulation-steps", type=int, help="micro-batches per update (default: the preset's)")
    lr.add_argument("--buffer-capacity", type=int, help="replay transitions (default: the preset's)")
    lr.add_argument("--uniform-replay", action="store_true", help="uniform instead of prioritized replay")
    lr.add_argument("--warm-start-episodes", type=int, help="first episodes follow DomiRank (0)")
    lr.add_argument("--checkpoint-activations", action="store_true", help="recompute activations (EnhancedQNet)")
    lr.add_argument("--amp", choices=["auto", "bf16", "off"], help="bf16 autocast on CUDA (auto)")
    info = p.add_argument_group("information")
    info.add_argument("--list-presets", action="store_true", help="print the presets and their memory, then exit")
    info.add_argument("--print-config", action="store_true", help="print the resolved configuration, then exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        if args.list_presets:
            from qagent.train.presets import format_presets_table

            print(format_presets_table())
            return 0
        from qagent.train.config import build_config

        cfg = build_config(
            args.config, preset=args.preset, model=args.model, landscapes=args.landscapes, grid_size=args.grid_size,
            device=args.device, steps=args.steps, out=args.out, seed=args.seed, budget_fraction=args.budget_fraction,
            cells_per_step=args.cells_per_step, ignitions=args.ignitions, reward=args.reward, num_envs=args.num_envs,
            learning_rate=args.learning_rate, gamma=args.gamma, micro_batch=args.micro_batch,
            accumulation_steps=args.accumulation_steps, buffer_capacity=args.buffer_capacity,
            prioritized=False if args.uniform_replay else None, warm_start_episodes=args.warm_start_episodes,
            checkpoint_activations=True if args.checkpoint_activations else None, amp=args.amp)
        if args.print_config:
            print(json.dumps(cfg.to_dict(), indent=2))
            return 0
        from qagent import distributed
        from qagent.env.fuel_break_env import REWARD_UNITS
        from qagent.train.dqn import train

        try:
            summary = train(cfg, resume=args.resume, progress=not args.quiet, distributed=args.distributed)
        finally:
            if args.distributed:
                distributed.cleanup()
        if summary["rank"] != 0:
            return 0
    except InputError as e:
        print(f"qagent-train: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qagent-train: interrupted; the last checkpoint is in the output folder", file=sys.stderr)
        return 130
    print(f"\nrandom policy: {summary['random_return']:.3f} %   agent (greedy, validation): "
          f"{summary['final_validation_return']:.3f} % of the {REWARD_UNITS[summary['reward']]} saved per episode")
    print(f"checkpoints: {summary['best_checkpoint']}, {summary['final_checkpoint']}; curve: {summary['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
