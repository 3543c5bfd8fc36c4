"""Fuel-break placement methods compared by ``qagent-eval``, all with the same budget:

- ``none``: no treatment;
- ``random``: uniform over burnable cells (``qagent.baselines.random_breaks``);
- ``domirank``: DomiRank centrality of the spread network (``qagent.baselines.domirank_breaks``);
- ``greedy_intensity``: the cells of highest head-fire fireline intensity
  (``qagent.baselines.greedy_intensity_breaks``);
- ``agent``: a trained Q-network, placing the k valid cells of highest Q per step and
  observing its own breaks, as in training (``AgentPolicy``).

Heuristics and the agent see the landscape under the scenario's reference weather, never the
fires they are scored on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qagent._validation import InputError
from qagent.agent.models import build_model
from qagent.fire.weather import Weather
from qagent.landscape.core import Landscape
from qagent.landscape.observation import NUM_CHANNELS, static_channels, with_fuel_breaks
from qagent.train.checkpoint import load_checkpoint
from qagent.train.config import Q_VALUE_SETTINGS, q_value_settings

METHODS = ("none", "random", "domirank", "greedy_intensity", "agent")


@dataclass
class AgentPolicy:
    """A trained Q-network as a placement policy, or an ensemble of several (independently
    seeded runs of one configuration) whose Q-values are averaged cell by cell: averaging
    cancels part of each network's own error, the cheap form of the ensembles of Osband et al.
    (2016, "Deep exploration via bootstrapped DQN") and Anschel et al. (2017, "Averaged-DQN")."""

    models: list[torch.nn.Module]
    cells_per_step: int
    grid_size: int
    checkpoints: list[str]

    @classmethod
    def load(cls, paths: str | Path | list[str | Path], device="cpu") -> "AgentPolicy":
        """One checkpoint, or a list of them for an ensemble. Members must have been trained
        with the same k and the same reward (kind, scale and gamma: their Q-values are then in
        the same units); otherwise InputError names the settings that differ."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not paths:
            raise InputError("checkpoint: none given")
        models, settings = [], []
        for path in paths:
            state = load_checkpoint(path, map_location=device)
            if state.get("in_channels", NUM_CHANNELS) != NUM_CHANNELS:
                raise InputError(f"checkpoint {path}: made for {state['in_channels']} observation channels, "
                                 f"this QAgent builds {NUM_CHANNELS}")
            model = build_model(state["model_name"], NUM_CHANNELS, **dict(state.get("model_kwargs", {})))
            try:
                model.load_state_dict(state["model"])
            except RuntimeError as e:
                raise InputError(f"checkpoint {path}: its weights do not fit the {state['model_name']} model "
                                 f"({e})") from None
            models.append(model.to(device).eval())
            settings.append({**q_value_settings(state["config"]), "grid_size": int(state["grid_size"])})
        for name in Q_VALUE_SETTINGS:
            values = [s[name] for s in settings]
            if len(set(values)) > 1:
                raise InputError(f"checkpoints {', '.join(map(str, paths))}: an ensemble needs members trained with "
                                 f"one {name}, these have {values}")
        return cls(models, int(settings[0]["cells_per_step"]), settings[0]["grid_size"], [str(p) for p in paths])

    @torch.no_grad()
    def q_values(self, obs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """float32 [N, H, W] Q-values of observations [N, C, H, W] (valid: bool [N, H, W]), the
        members' mean for an ensemble."""
        q = self.models[0](obs, valid).float()
        for model in self.models[1:]:
            q = q + model(obs, valid).float()
        return q / len(self.models)

    @torch.no_grad()
    def place(self, landscape: Landscape, weather: Weather, budget_cells: int, cells_per_round: int | None = None,
              existing_breaks: torch.Tensor | None = None) -> torch.Tensor:
        """Break ``budget_cells`` cells, ``cells_per_round`` at a time (default: the k the agent
        was trained with; larger rounds trade a little fidelity for speed on big rasters), the
        observation updated after each round. Returns the bool [H, W] mask of new breaks."""
        if isinstance(budget_cells, bool) or not isinstance(budget_cells, (int, np.integer)) or budget_cells < 0:
            raise InputError(f"budget_cells: must be an integer number of cells >= 0, got {budget_cells!r}")
        if cells_per_round is not None and (isinstance(cells_per_round, bool) or
                                            not isinstance(cells_per_round, (int, np.integer)) or cells_per_round < 1):
            raise InputError(f"cells_per_round: must be an integer >= 1 (or None for the agent's k), "
                             f"got {cells_per_round!r}")
        device = next(self.models[0].parameters()).device
        k = cells_per_round or self.cells_per_step
        static = static_channels(landscape, weather).to(device)
        breaks = torch.zeros(landscape.shape, dtype=torch.bool, device=device)
        existing = (existing_breaks.to(device) if existing_breaks is not None
                    else torch.zeros_like(breaks))
        valid = landscape.burnable_mask().to(device) & ~existing
        budget = min(int(budget_cells), int(valid.sum()))
        placed = 0
        while placed < budget:
            obs = with_fuel_breaks(static, breaks | existing).unsqueeze(0)
            q = self.q_values(obs, valid.unsqueeze(0))[0]
            take = min(k, budget - placed)
            cells = q.reshape(-1).masked_fill(~valid.reshape(-1), -torch.inf).topk(take).indices
            breaks.view(-1)[cells] = True
            valid.view(-1)[cells] = False
            placed += take
        return breaks


def place_breaks(method: str, landscape: Landscape, weather: Weather, budget_cells: int, seed: int,
                 agent: AgentPolicy | None = None, cells_per_round: int | None = None) -> torch.Tensor:
    """The bool [H, W] breaks of one method; exactly budget_cells cells (or every burnable cell
    if fewer), never on non-burnable cells."""
    from qagent import baselines

    if method == "none":
        return torch.zeros(landscape.shape, dtype=torch.bool, device=landscape.device)
    if method == "random":
        return baselines.random_breaks(landscape, budget_cells, seed)
    if method == "domirank":
        return baselines.domirank_breaks(landscape, weather, budget_cells)
    if method == "greedy_intensity":
        return baselines.greedy_intensity_breaks(landscape, weather, budget_cells)
    if method == "agent":
        if agent is None:
            raise InputError("method agent: needs a checkpoint")
        return agent.place(landscape, weather, budget_cells, cells_per_round).to(landscape.device)
    raise InputError(f"method: unknown {method!r}; choose from {METHODS}")
