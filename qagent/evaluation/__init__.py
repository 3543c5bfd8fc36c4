"""Evaluation and planning: fuel-break placement methods compared on held-out landscapes
(``qagent-eval``) and the agent's plan for a whole LANDFIRE landscape (``qagent-plan``).

- ``baselines``: the reference placements (DomiRank, burn probability, DPV, greedy by fire
  behavior, random), computed from the fire layer. The trainer's validation and warm start
  use its DomiRank, so it sits below ``qagent.train`` and imports nothing from it.
- ``methods``: the registry of placement methods (the baselines and trained agents)
- ``evaluate``: the evaluation fires, the comparison, its statistics and outputs
- ``figures``: the figures of ``qagent-eval`` and ``qagent-plan``
- ``cli``: the two commands

This file imports none of them, so that importing ``baselines`` does not load the modules
that load checkpoints through ``qagent.train``: import from the modules themselves
(``from qagent.evaluation.evaluate import evaluate``).
"""
