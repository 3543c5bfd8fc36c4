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
Outputs in --out: best.pt (the network of the best validation), final.pt and last.pt (full
checkpoints), training_log.csv, tensorboard/, training_curve.png. An --out that already holds a
run (a checkpoint or training_log.csv) is refused: continue it with --resume OUT/last.pt, or
start over with --overwrite, which deletes that run's checkpoints, log, tensorboard/ and curve
first.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from qagent import _cli
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
                     help="training landscapes: 'synthetic' (default), a tile dataset or a LANDFIRE folder; several "
                          "joined by '+' (e.g. synthetic+DIR) train on each kind alike")
    _cli.add_fuel_argument(run)
    _cli.add_ignition_density_argument(run, "; with a LANDFIRE folder as --landscapes, cropped to each tile "
                                            "(tiles where it is zero on every burnable cell are left out)")
    _cli.add_values_argument(run, "; with a LANDFIRE folder as --landscapes, cut into the same tiles (tiles "
                                  "whose burnable cells hold no value are left out)")
    _cli.add_synthetic_values_argument(run, "mixed, so that the agent learns with and without values")
    run.add_argument("--grid-size", type=_cli.positive_int, metavar="N",
                     help="tile side in cells, N x N cells per landscape (default: the preset's)")
    run.add_argument("--device", help="auto (default: cuda if available, else cpu), cpu, cuda or cuda:N")
    run.add_argument("--steps", type=_cli.positive_int, metavar="N",
                     help="environment steps (transitions, k cells each) to train for, in all (default: the "
                          "preset's, 10,000 for demo)")
    run.add_argument("--out", metavar="DIR", help="output folder (default runs/qagent); refused if it holds "
                                                   "another run, see --resume and --overwrite")
    run.add_argument("--resume", metavar="CKPT",
                     help="continue the run of a checkpoint (OUT/last.pt or final.pt) with its settings; flags "
                          "given override them (e.g. --steps to train longer)")
    run.add_argument("--init-weights", metavar="CKPT",
                     help="start a new run's network from a checkpoint's (a run's best.pt, or the default "
                          "agent's qagent/pretrained/default_agent_0.pt: fine-tune it on your landscapes); the "
                          "model and its preset must match (the default agent's: --preset demo); --resume keeps "
                          "its own weights")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run already in --out: delete its checkpoints, log, tensorboard/ and curve")
    run.add_argument("--seed", type=_cli.seed, metavar="N", help="random seed, an integer >= 0 (default 0)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--distributed", action="store_true",
                     help="DistributedDataParallel across the processes torchrun starts (NCCL on GPUs, gloo on CPUs)")
    ep = p.add_argument_group("episodes")
    ep.add_argument("--budget-fraction", type=_cli.fraction, metavar="F",
                    help="fuel-break budget per episode, a fraction in (0, 1] of the burnable cells (0.05)")
    ep.add_argument("--cells-per-step", type=_cli.positive_int, metavar="K",
                    help="cells broken per step, k (5)")
    ep.add_argument("--ignitions", type=_cli.positive_int, metavar="S",
                    help="fires per episode that estimate the reward, S (32)")
    ep.add_argument("--reward", choices=["relative", "absolute"],
                    help="drop in the expected loss (value burned with values at risk, else burned area) as a "
                         "fraction of the untreated loss (relative, default: every landscape weighs alike) or of "
                         "the landscape's value (absolute)")
    ep.add_argument("--num-envs", type=_cli.positive_int, metavar="N",
                    help="environments stepped together (default: the preset's)")
    lr = p.add_argument_group("learning")
    lr.add_argument("--learning-rate", type=_cli.positive_float, metavar="LR",
                    help="peak learning rate of AdamW, > 0, per gradient update (3e-4)")
    lr.add_argument("--gamma", type=_cli.unit_interval, metavar="G",
                    help="discount per step, in [0, 1] (0: each step's own drop is the target)")
    lr.add_argument("--micro-batch", type=_cli.positive_int, metavar="N",
                    help="samples (transitions) per forward pass (default: the preset's)")
    lr.add_argument("--accumulation-steps", type=_cli.positive_int, metavar="N",
                    help="micro-batches per update; the batch is micro-batch x this (default: the preset's)")
    lr.add_argument("--buffer-capacity", type=_cli.positive_int, metavar="N",
                    help="replay capacity in transitions (default: the preset's)")
    lr.add_argument("--uniform-replay", action="store_true", help="uniform instead of prioritized replay")
    lr.add_argument("--warm-start-episodes", type=_cli.non_negative_int, metavar="N",
                    help="first episodes (per run) follow DomiRank, >= 0 (0)")
    lr.add_argument("--checkpoint-activations", action="store_true",
                    help="recompute activations in the backward pass to save memory (EnhancedQNet)")
    lr.add_argument("--amp", choices=["auto", "bf16", "off"],
                    help="bf16 autocast on CUDA devices that support it (auto), always (bf16) or never (off)")
    info = p.add_argument_group("information")
    info.add_argument("--list-presets", action="store_true", help="print the presets and their memory, then exit")
    info.add_argument("--print-config", action="store_true", help="print the resolved configuration, then exit")
    # --fuel's default comes from the configuration (F40), so that a --config file may set it
    p.set_defaults(fuel=None)
    return p


def format_duration(seconds: float) -> str:
    """42 s, 4 min 02 s, 3 h 05 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_summary(summary: dict) -> str:
    """The few lines qagent-train ends with: counts, wall time, the validation return of the
    agent, DomiRank and random placement in the reward's unit, and where the outputs are."""
    from qagent.train.dqn import return_unit

    def value(x) -> str:
        return f"{x:6.2f}" if x is not None and x == x and abs(x) != float("inf") else "     -"

    best = summary.get("best_validation_return")
    wall = format_duration(summary["wall_s"])
    if abs(summary.get("session_wall_s", summary["wall_s"]) - summary["wall_s"]) >= 1:
        wall += f" in all, {format_duration(summary['session_wall_s'])} in this session"
    lines = [
        f"steps        {summary['env_steps']:,} environment steps, {summary['updates']:,} updates, "
        f"{summary['episodes']:,} episodes",
        f"wall time    {wall}",
        f"validation   {return_unit(summary['reward'])}, mean of {summary['validation_episodes']} episodes:",
        f"  agent      {value(summary.get('final_validation_return'))}  greedy, at the end "
        f"(best {value(best).strip()}: best.pt)",
        f"  DomiRank   {value(summary.get('domirank_return'))}",
        f"  random     {value(summary.get('random_return'))}",
        f"checkpoints  {summary['best_checkpoint']}, {summary['final_checkpoint']}, {summary['last_checkpoint']}",
        f"curve        {summary['plot'] or '-'}",
        f"log          {summary['log']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        if args.list_presets:
            from qagent.train.presets import format_presets_table

            print(format_presets_table())
            return 0
        from qagent.train.checkpoint import resumed_settings
        from qagent.train.config import build_config

        cfg = build_config(
            args.config, base=resumed_settings(args.resume) if args.resume else None,
            preset=args.preset, model=args.model, landscapes=args.landscapes, fuel=args.fuel,
            ignition_density=args.ignition_density, values=args.values, synthetic_values=args.synthetic_values,
            grid_size=args.grid_size, device=args.device, steps=args.steps, out=args.out, seed=args.seed,
            init_weights=args.init_weights,
            budget_fraction=args.budget_fraction, cells_per_step=args.cells_per_step, ignitions=args.ignitions,
            reward=args.reward, num_envs=args.num_envs, learning_rate=args.learning_rate, gamma=args.gamma,
            micro_batch=args.micro_batch, accumulation_steps=args.accumulation_steps,
            buffer_capacity=args.buffer_capacity, prioritized=False if args.uniform_replay else None,
            warm_start_episodes=args.warm_start_episodes,
            checkpoint_activations=True if args.checkpoint_activations else None, amp=args.amp)
        if args.print_config:
            print(json.dumps(cfg.to_dict(), indent=2))
            return 0
        from qagent import distributed
        from qagent.train.dqn import train

        try:
            summary = train(cfg, resume=args.resume, progress=not args.quiet, distributed=args.distributed,
                            overwrite=args.overwrite)
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
    print("\nqagent-train: done\n" + format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
