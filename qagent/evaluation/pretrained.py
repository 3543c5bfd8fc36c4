"""The default agent QAgent ships: policy checkpoints in ``qagent/pretrained/`` described by
``qagent/pretrained/default_agent.json`` (what they were trained on, how they were chosen, their
validation and held-out figures). ``qagent-plan`` and ``qagent-eval`` use it when no
``--checkpoint`` is given; README "The default agent" says how it was made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qagent._validation import InputError
from qagent.landscape.core import valued_fraction as landscape_valued_fraction

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
DEFAULT_AGENT_CARD = PRETRAINED_DIR / "default_agent.json"


def default_agent_card() -> dict:
    """The default agent's description (``default_agent.json``); InputError if it is missing
    or unreadable, naming the file."""
    try:
        card = json.loads(DEFAULT_AGENT_CARD.read_text())
    except FileNotFoundError:
        raise InputError(f"default agent: {DEFAULT_AGENT_CARD} is missing from this installation; "
                         "pass --checkpoint with a trained run's best.pt") from None
    except (OSError, ValueError) as e:
        raise InputError(f"default agent: {DEFAULT_AGENT_CARD} cannot be read ({e})") from None
    if not isinstance(card, dict) or not isinstance(card.get("checkpoints"), list) or not card["checkpoints"]:
        raise InputError(f"default agent: {DEFAULT_AGENT_CARD} lists no checkpoints")
    return card


# The value ensemble learned sparse value (structures): it protects it by breaking the valued
# cells themselves, as DPV does, which a budget can only do when the valued cells are few. With
# synthetic houses (1.2 % of the burnable cells, a 5 % budget) on Worcester's validation tiles
# it removed 98.8 % of the value burned against the area ensemble's 19.6 %; with a dense
# habitat layer (canopy cover, value on 96 % of the burnable cells) on the validation raster
# (western Worcester, seed 7, 20,000 fires) 45.6 % against the area ensemble's 58.9 % (DPV
# 55.9 %); with synthetic habitat (qagent.landscape.synthetic_habitat, value on 60-100 % of the
# burnable cells) on 100 synthetic training landscapes (seed 7, 400 fires) 33.9 % against
# 44.0 % (DPV 35.9 %). An ensemble trained on dense values too (--synthetic-values varied, two
# runs) did not close the gap (40.3 % and 57.1 % on those two sets) and lost on houses (85.8 %
# against 94.8 % on the western raster's; BENCHMARKS.md "A value ensemble trained on dense
# values"). So the value ensemble plays when the valued burnable cells are at most this many
# times the budget (0.24 for the houses, 12-20 for habitat; the threshold between them was not
# validated further).
VALUE_ENSEMBLE_MAX_VALUED_PER_BUDGET = 2.0


def wants_value_ensemble(valued_fraction: float, budget_fraction: float) -> bool:
    """Whether the value ensemble should place breaks for a values layer holding value on
    ``valued_fraction`` of the burnable cells at a budget of ``budget_fraction`` of them."""
    return valued_fraction <= VALUE_ENSEMBLE_MAX_VALUED_PER_BUDGET * budget_fraction


def default_agent_checkpoints(values: bool = False) -> list[Path]:
    """The default agent's checkpoint files (several: an ensemble whose Q-values are averaged).
    With ``values`` (the objective is value burned on sparse value: a structures raster, see
    ``wants_value_ensemble``, or synthetic values), the card's ``value_checkpoints``, the
    ensemble trained with values at risk, when it lists them; otherwise ``checkpoints``, the
    ensemble for expected burned area (README "The default agent": each won on validation for
    its objective)."""
    card = default_agent_card()
    names = card["checkpoints"]
    if values and card.get("value_checkpoints"):
        names = card["value_checkpoints"]
    paths = [PRETRAINED_DIR / str(name) for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"default agent: {', '.join(missing)} missing from this installation; pass --checkpoint")
    return paths


@dataclass
class DefaultAgent:
    """The default agent as one placement policy: the card's area ensemble (``checkpoints``)
    and, when the card lists one, its value ensemble (``value_checkpoints``), the objective of
    each placement choosing between them (``policy_for``): the value ensemble for the value
    burned on sparse value (``wants_value_ensemble``), the area ensemble for the burned area
    (no values, or every cell worth 1) and for dense value. So a set of landscapes with several
    kinds of values (``--synthetic-values mixed`` or ``varied``) gets the ensemble each one's
    values call for. ``valued_fraction``: the valued share of the burnable cells of the whole
    raster the landscapes are tiles of (a TileSource's); None: each landscape's own. Places
    like an ``AgentPolicy`` (``place``, ``cells_per_step``, ``grid_size``)."""

    area: object  # AgentPolicy
    value: object | None = None  # AgentPolicy, or None: the card lists no value ensemble
    valued_fraction: float | None = None

    def __post_init__(self):
        if self.value is not None and self.value.cells_per_step != self.area.cells_per_step:
            raise InputError(f"default agent: its ensembles place {self.area.cells_per_step} and "
                             f"{self.value.cells_per_step} cells per round; they must agree")

    @property
    def cells_per_step(self) -> int:
        return self.area.cells_per_step

    @property
    def grid_size(self) -> int:
        return self.area.grid_size

    @property
    def checkpoints(self) -> list[str]:
        return list(self.area.checkpoints) + (list(self.value.checkpoints) if self.value is not None else [])

    def policy_for(self, landscape, budget_cells: int, values=None):
        """The ensemble that places ``budget_cells`` breaks on ``landscape`` with ``values``
        (None: every cell worth 1)."""
        if self.value is None or values is None:
            return self.area
        burnable = int(landscape.burnable_mask().sum())
        fraction = self.valued_fraction
        if fraction is None:
            fraction = landscape_valued_fraction(values, landscape)
        return self.value if wants_value_ensemble(fraction, budget_cells / max(burnable, 1)) else self.area

    def place(self, landscape, weather, budget_cells: int, cells_per_round: int | None = None, **kwargs):
        """``AgentPolicy.place`` of ``policy_for`` the landscape, budget and ``values``."""
        policy = self.policy_for(landscape, budget_cells, kwargs.get("values"))
        return policy.place(landscape, weather, budget_cells, cells_per_round, **kwargs)


def load_default_agent(device="cpu") -> DefaultAgent:
    """The default agent's ensembles (``default_agent_checkpoints``) on ``device``."""
    from qagent.evaluation.methods import AgentPolicy

    area = AgentPolicy.load(default_agent_checkpoints(values=False), device)
    value = None
    if default_agent_card().get("value_checkpoints"):
        value = AgentPolicy.load(default_agent_checkpoints(values=True), device)
    return DefaultAgent(area, value)
