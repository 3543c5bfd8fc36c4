"""Evaluation and planning: fuel-break placement methods compared on held-out landscapes
(``qagent-eval``) and the agent's plan for a whole LANDFIRE landscape (``qagent-plan``)."""

from qagent.evaluation.evaluate import evaluate, format_table, summarize
from qagent.evaluation.methods import METHODS, AgentPolicy, place_breaks

__all__ = ["METHODS", "AgentPolicy", "place_breaks", "evaluate", "summarize", "format_table"]
