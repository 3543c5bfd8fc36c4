"""The default agent QAgent ships: policy checkpoints in ``qagent/pretrained/`` described by
``qagent/pretrained/default_agent.json`` (what they were trained on, how they were chosen, their
validation and held-out figures). ``qagent-plan`` and ``qagent-eval`` use it when no
``--checkpoint`` is given; README "The default agent" says how it was made."""

from __future__ import annotations

import json
from pathlib import Path

from qagent._validation import InputError

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


def default_agent_checkpoints(values: bool = False) -> list[Path]:
    """The default agent's checkpoint files (several: an ensemble whose Q-values are averaged).
    With ``values`` (the objective is value burned: a values raster or synthetic values), the
    card's ``value_checkpoints``, the ensemble trained with values at risk, when it lists them;
    otherwise ``checkpoints``, the ensemble for expected burned area (README "The default
    agent": each won on validation for its objective)."""
    card = default_agent_card()
    names = card["checkpoints"]
    if values and card.get("value_checkpoints"):
        names = card["value_checkpoints"]
    paths = [PRETRAINED_DIR / str(name) for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"default agent: {', '.join(missing)} missing from this installation; pass --checkpoint")
    return paths
