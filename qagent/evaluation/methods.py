"""Fuel-break placement methods compared by ``qagent-eval`` and ``qagent-plan``, all with the
same budget. One registry, ``REGISTRY``, lists them (name, label, how to place); the command
lines' ``--methods`` and ``--compare`` choices, the figures' labels and the tables all come
from it, so a new method is one ``Method`` entry: ``none``, ``random``, ``greedy_intensity``,
``burn_probability``, ``dpv``, ``dpv_rounds``, ``domirank``, ``agent`` (``AgentPolicy``, a
trained Q-network or an ensemble: of its candidate plans, each placed with its best cells
checked by DPV from the placement fires, the one that burns least on fires of its own,
:func:`choose_agent_plan`), ``agent_checked`` (the ensemble's one checked plan) and
``agent_network`` (the networks alone). :func:`place_breaks` runs one of them.

No placement sees the fires it is scored on, and values at risk reach only the methods that
can use them (burn probability, DPV and the agent). The evaluation fires, the placements and the bootstrap draw
from separate seeds: :func:`evaluation_rng`, :func:`placement_seed`,
:func:`placement_fire_seed`, :func:`selection_fire_seed`, :func:`bootstrap_seed`.

What each method places and sees, values at risk, and how the seeds are derived (and why they
never collide with the evaluation fires): docs/evaluation.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qagent._validation import InputError
from qagent.agent.models import build_model
from qagent.agent.policy import greedy_topk, rank_blend_topk
from qagent.fire.scenario import DEFAULT_SCENARIO, FireScenario
from qagent.fire.weather import Weather
from qagent.landscape.core import Landscape
from qagent.env.observation import (NUM_CHANNELS, PLACEMENT_MIN_REFERENCE_FIRES, refresh_reference_channels,
                                    static_channels, with_fuel_breaks)
from qagent.train.checkpoint import check_observation_channels, load_checkpoint
from qagent.train.config import Q_VALUE_SETTINGS, q_value_settings

DEFAULT_PLACEMENT_IGNITIONS = 500

# The agent's DPV check (AgentPolicy.place with second_opinion, the agent method): each round
# the RERANK_CANDIDATES_PER_CELL x k best-Q cells are ranked by the sum of their Q rank and
# their rank by downstream protection value (Pais et al. 2021) of the layout so far, from the
# placement fires, which is re-scored RERANK_SCORINGS times in a placement (every round on a
# tile's ~10 rounds, every 5th of a raster's 50). Chosen on validation only (training tiles of
# Worcester and synthetic seeds, with and without values, seed 7; the western 80 % of
# Worcester as one raster): the network alone 26.0 / 39.2 / 81.1 %, with the check 26.8 /
# 42.0 / 83.7 % (8 candidates per cell: 26.9 / 41.3 / 83.1; all cells: 25.9 / 41.8 / 83.9);
# western raster 61.2 -> 61.6 % (values: 94.2 -> 95.1 % with 8 candidates). BENCHMARKS.md.
RERANK_CANDIDATES_PER_CELL = 32
RERANK_SCORINGS = 10

# spawn keys of the seeds derived from a run's seed (never reuse one for another purpose)
_PLACEMENT_KEY, _PLACEMENT_FIRES_KEY, _BOOTSTRAP_KEY, _SELECTION_FIRES_KEY = 1, 2, 3, 4


def _derived_seed(entropy, key: int) -> int:
    """A 64-bit integer seed hashed from ``entropy`` under spawn key ``key``, its high word >= 2^31."""
    lo, hi = (int(w) for w in np.random.SeedSequence(entropy, spawn_key=(key,)).generate_state(2, np.uint32))
    return lo | (hi | 0x8000_0000) << 32


def evaluation_rng(seed: int, landscape_id: int = 0) -> np.random.Generator:
    """The generator of landscape ``landscape_id``'s evaluation fires in a run seeded ``seed``
    (ignitions, then the scenario's weather and durations)."""
    return np.random.default_rng([int(seed), int(landscape_id)])


def placement_seed(seed: int, landscape_id: int = 0) -> int:
    """The seed every placement method gets for landscape ``landscape_id`` in a run seeded
    ``seed`` (docs/evaluation.md, "Seeds"); never the state of the evaluation fires."""
    return _derived_seed([int(seed), int(landscape_id)], _PLACEMENT_KEY)


def placement_fire_seed(seed: int) -> int:
    """The seed of burn-probability placement fires for a placement seed ``seed``: a hash of it
    (``burn_probability_breaks`` draws ignitions with ``default_rng(s)`` and weather with
    ``default_rng([s, 1])``; neither is an evaluation generator ``default_rng([seed, i])``)."""
    return _derived_seed(int(seed), _PLACEMENT_FIRES_KEY)


def selection_fire_seed(seed: int) -> int:
    """The seed of the agent's selection fires (``choose_agent_plan``) for a placement seed
    ``seed``: apart from the placement fires its candidates were placed with and from every
    evaluation generator."""
    return _derived_seed(int(seed), _SELECTION_FIRES_KEY)


def bootstrap_seed(seed: int) -> int:
    """The seed of qagent-plan's bootstrap resamples: apart from the fires' and placements' streams."""
    return _derived_seed(int(seed), _BOOTSTRAP_KEY)


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
            check_observation_channels(state, path)
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

    def members(self) -> list["AgentPolicy"]:
        """Each network of the ensemble as a policy of its own (one for a single network)."""
        return [AgentPolicy([model], self.cells_per_step, self.grid_size, [path])
                for model, path in zip(self.models, self.checkpoints)]

    def policy_for(self, landscape, budget_cells: int, values=None) -> "AgentPolicy":
        """The policy that places on ``landscape``: this one (``DefaultAgent`` chooses)."""
        return self

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
              existing_breaks: torch.Tensor | None = None, values=None,
              refresh_rounds: int | None = None,
              second_opinion: Callable[[torch.Tensor], torch.Tensor] | None = None,
              candidates_per_cell: int = RERANK_CANDIDATES_PER_CELL, score_weight: float = 1.0) -> torch.Tensor:
        """Break ``budget_cells`` cells, ``cells_per_round`` at a time (default: the k the agent
        was trained with; larger rounds trade a little fidelity for speed on big rasters), the
        observation updated after each round. ``values`` (float [H, W], None: every cell worth
        1) fill the value_at_risk channel. With ``refresh_rounds`` R the burn_probability and
        downstream_protection channels are recomputed every R rounds from the same reference
        fires on the landscape with the breaks placed so far (``refresh_reference_channels``);
        None: computed once, before any break. ``second_opinion``: a function of the closed
        cells (bool [H, W]: existing breaks and those placed so far) giving a score per cell
        [H, W] (the agent method passes DPV from its placement fires); each round then takes
        the cells of ``rank_blend_topk`` among the ``candidates_per_cell`` x k best-Q cells, the
        score's rank weighted ``score_weight``, the score recomputed RERANK_SCORINGS times in all
        (every ceil(rounds / RERANK_SCORINGS) rounds); None: the k best-Q cells. Returns the bool
        [H, W] mask of new breaks. On a whole
        raster on the CPU, ``qagent._host_memory.retain_freed_blocks()`` first (qagent-plan does)
        makes each pass about three times faster."""
        if isinstance(budget_cells, bool) or not isinstance(budget_cells, (int, np.integer)) or budget_cells < 0:
            raise InputError(f"budget_cells: must be an integer number of cells >= 0, got {budget_cells!r}")
        if cells_per_round is not None and (isinstance(cells_per_round, bool) or
                                            not isinstance(cells_per_round, (int, np.integer)) or cells_per_round < 1):
            raise InputError(f"cells_per_round: must be an integer >= 1 (or None for the agent's k), "
                             f"got {cells_per_round!r}")
        if refresh_rounds is not None and (isinstance(refresh_rounds, bool) or
                                           not isinstance(refresh_rounds, (int, np.integer)) or refresh_rounds < 1):
            raise InputError(f"refresh_rounds: must be an integer >= 1 (or None: never), got {refresh_rounds!r}")
        if isinstance(candidates_per_cell, bool) or not isinstance(candidates_per_cell, (int, np.integer)) \
                or candidates_per_cell < 1:
            raise InputError(f"candidates_per_cell: must be an integer >= 1, got {candidates_per_cell!r}")
        if isinstance(score_weight, bool) or not isinstance(score_weight, (int, float)) or \
                not math.isfinite(score_weight) or score_weight < 0:
            raise InputError(f"score_weight: must be a finite number >= 0, got {score_weight!r}")
        device = next(self.models[0].parameters()).device
        k = cells_per_round or self.cells_per_step
        static = static_channels(landscape, weather, values=values,
                                 min_reference_fires=PLACEMENT_MIN_REFERENCE_FIRES).to(device)
        breaks = torch.zeros(landscape.shape, dtype=torch.bool, device=device)
        existing = (existing_breaks.to(device) if existing_breaks is not None
                    else torch.zeros_like(breaks))
        valid = landscape.burnable_mask().to(device) & ~existing
        budget = min(int(budget_cells), int(valid.sum()))
        placed = rounds = 0
        total_rounds = math.ceil(budget / k)
        score_every = max(1, math.ceil(total_rounds / RERANK_SCORINGS))
        score = None
        while placed < budget:
            if refresh_rounds is not None and rounds > 0 and rounds % refresh_rounds == 0:
                static = refresh_reference_channels(static, landscape, weather, breaks | existing, values=values,
                                                    min_reference_fires=PLACEMENT_MIN_REFERENCE_FIRES)
            obs = with_fuel_breaks(static, breaks | existing).unsqueeze(0)
            q = self.q_values(obs, valid.unsqueeze(0))[0]
            take = min(k, budget - placed)
            if second_opinion is None:
                cells = greedy_topk(q.reshape(1, -1), valid.reshape(1, -1), take)[0]
            else:
                if rounds % score_every == 0:
                    score = torch.as_tensor(second_opinion(breaks | existing)).to(device)
                    if tuple(score.shape) != tuple(landscape.shape):
                        raise InputError(f"second_opinion: must give a finite score per cell of shape "
                                         f"{tuple(landscape.shape)}, got shape {tuple(score.shape)}")
                    if not bool(torch.isfinite(score).all()):
                        raise InputError("second_opinion: must give a finite score per cell, got non-finite values")
                cells = rank_blend_topk(q, score, valid, take, candidates_per_cell * take, score_weight)
            breaks.view(-1)[cells] = True
            valid.view(-1)[cells] = False
            placed += take
            rounds += 1
        return breaks


@dataclass(frozen=True)
class PlacementRequest:
    """What a method is asked: ``budget_cells`` breaks on ``landscape`` (reference ``weather``)."""

    landscape: Landscape
    weather: Weather
    budget_cells: int
    seed: int
    agent: AgentPolicy | None = None
    cells_per_round: int | None = None
    placement_ignitions: int = DEFAULT_PLACEMENT_IGNITIONS
    scenario: FireScenario = DEFAULT_SCENARIO
    device: str | torch.device | None = None
    ignition_density: object = None  # [H, W] grid burn_probability's fires ignite proportionally to
    values: object = None  # [H, W] values at risk (None: every cell worth 1): DPV's and the agent's
    refresh_rounds: int | None = None  # the agent's: reference-fire channels recomputed every R rounds


@dataclass(frozen=True)
class Method:
    """A placement method: its registry ``name`` (command lines, tables), ``label`` (figures),
    ``place`` (a PlacementRequest -> bool [H, W] breaks) and whether it needs a checkpoint."""

    name: str
    label: str
    place: Callable[[PlacementRequest], torch.Tensor] = field(repr=False)
    needs_agent: bool = False


def _none(r: PlacementRequest) -> torch.Tensor:
    return torch.zeros(r.landscape.shape, dtype=torch.bool, device=r.landscape.device)


def _random(r: PlacementRequest) -> torch.Tensor:
    from qagent.evaluation import baselines

    return baselines.random_breaks(r.landscape, r.budget_cells, r.seed)


def _greedy_intensity(r: PlacementRequest) -> torch.Tensor:
    from qagent.evaluation import baselines

    return baselines.greedy_intensity_breaks(r.landscape, r.weather, r.budget_cells)


def _burn_probability(r: PlacementRequest) -> torch.Tensor:
    from qagent.evaluation import baselines

    kwargs = {} if r.device is None else {"device": r.device}
    return baselines.burn_probability_breaks(r.landscape, r.scenario, r.budget_cells, n_ignitions=r.placement_ignitions,
                                             seed=placement_fire_seed(r.seed), ignition_density=r.ignition_density,
                                             values=r.values, **kwargs).to(r.landscape.device)


DPV_ROUNDS = 4  # re-scorings of dpv_rounds


def _dpv(r: PlacementRequest, rounds: int = 1) -> torch.Tensor:
    from qagent.evaluation import baselines

    kwargs = {} if r.device is None else {"device": r.device}
    return baselines.dpv_breaks(r.landscape, r.scenario, r.budget_cells, n_ignitions=r.placement_ignitions,
                                seed=placement_fire_seed(r.seed), ignition_density=r.ignition_density,
                                values=r.values, rounds=rounds, **kwargs).to(r.landscape.device)


def _dpv_rounds(r: PlacementRequest) -> torch.Tensor:
    return _dpv(r, rounds=DPV_ROUNDS)


def _domirank(r: PlacementRequest) -> torch.Tensor:
    from qagent.evaluation import baselines

    return baselines.domirank_breaks(r.landscape, r.weather, r.budget_cells)


def _dpv_check(r: PlacementRequest) -> Callable[[torch.Tensor], torch.Tensor]:
    """The agent's second opinion: DPV of the layout so far from the dpv method's placement
    fires and values (``AgentPolicy.place``)."""
    from qagent.fire.spread import downstream_protection_value

    kwargs = {} if r.device is None else {"device": r.device}
    seed = placement_fire_seed(r.seed)
    return lambda closed: downstream_protection_value(
        r.landscape, r.placement_ignitions, r.scenario, None, seed, fuel_breaks=closed.cpu(), values=r.values,
        ignition_density=r.ignition_density, **kwargs)


def _agent_policy(r: PlacementRequest):
    if r.agent is None:
        raise InputError("method agent: needs a checkpoint")
    return r.agent.policy_for(r.landscape, r.budget_cells, r.values)


def _place_with(policy, r: PlacementRequest, dpv_check: bool = True, **options) -> torch.Tensor:
    extra = {} if r.values is None else {"values": r.values}  # a policy without values keeps its old call
    if r.refresh_rounds is not None:
        extra["refresh_rounds"] = r.refresh_rounds
    if dpv_check:
        extra["second_opinion"] = _dpv_check(r)
    return policy.place(r.landscape, r.weather, r.budget_cells, r.cells_per_round, **extra,
                        **options).to(r.landscape.device)


# The agent's candidate plans (choose_agent_plan): its ensemble's plan checked by DPV, the
# same with DPV's rank weighted 2 and 0.5 and with 8 candidates per cell, each network of the
# ensemble checked by DPV, and DPV in rounds. Chosen on validation only (BENCHMARKS.md, "The
# agent chooses among candidate plans"): the ensemble's one checked plan 26.8 / 42.0 / 44.0 %
# on Worcester's training tiles, synthetic and synthetic habitat landscapes, the choice 27.1 /
# 44.9 / 47.3 %; on the western 80 % of Worcester as one raster it picks the ensemble's plan
# or one level with it. With values at risk also the burn-probability x value ranking's plan
# (2026-12-03, BENCHMARKS.md "Burn probability weighted by value"): on the validation tiles
# with houses 99.53 -> 99.57 %, synthetic houses 86.88 -> 86.93 %, the western raster with
# houses the same plan (94.8 %); DPV's one-shot plan added nothing (99.50 %, 86.88 %).
ENSEMBLE_VARIANTS = {"ensemble": {}, "ensemble_dpv_x2": {"score_weight": 2.0},
                     "ensemble_dpv_x0.5": {"score_weight": 0.5}, "ensemble_8_candidates": {"candidates_per_cell": 8}}


def agent_candidate_plans(r: PlacementRequest) -> dict[str, tuple[torch.Tensor, list[str]]]:
    """The agent's candidate plans for request ``r``: name -> (bool [H, W] breaks, the
    checkpoints that placed them; none for the heuristics' plans), in the order of the comment
    above."""
    policy = _agent_policy(r)
    plans = {name: (_place_with(policy, r, **options), list(policy.checkpoints))
             for name, options in ENSEMBLE_VARIANTS.items()}
    members = policy.members()
    if len(members) > 1:
        for i, member in enumerate(members):
            plans[f"network_{i}"] = (_place_with(member, r), list(member.checkpoints))
    plans["dpv_rounds"] = (_dpv_rounds(r), [])
    if r.values is not None:  # the risk ranking: as strong as DPV with values, far behind it without
        plans["burn_probability"] = (_burn_probability(r), [])
    return plans


def burned_measure(result, values=None) -> torch.Tensor:
    """Per fire, what burned: float64 [S] value burned (``result.burned_value``, from a
    ``simulate`` given ``values``) or burned cells (without values): the loss the agent's
    choice and every evaluation score."""
    if values is None:
        return result.burned_cells.double()
    return result.burned_value.double()


@dataclass(frozen=True)
class AgentChoice:
    """What ``choose_agent_plan`` chose: the ``chosen`` candidate's ``breaks`` and
    ``checkpoints`` (none for a heuristic's plan), each candidate's mean loss (value burned, or
    burned cells) on the ``selection_fires`` selection fires (``selection_loss``, in the
    candidates' order) and the checkpoints of the ensemble that proposed them (``ensemble``)."""

    chosen: str
    breaks: torch.Tensor
    checkpoints: list[str]
    selection_loss: dict[str, float]
    selection_fires: int
    ensemble: list[str]


def choose_agent_plan(r: PlacementRequest) -> AgentChoice:
    """The agent's plan: of its candidate plans (``agent_candidate_plans``), the one whose
    breaks leave the least expected loss on ``r.placement_ignitions`` selection fires, drawn
    from the scenario (and the ignition density) with ``selection_fire_seed``: fires no
    candidate was placed with and no evaluation scores; ties go to the earlier candidate.
    Decision-time search with the simulator as the judge, the way the DPV methods use it, over
    the plans the networks propose."""
    from qagent.fire.spread import simulate

    plans = agent_candidate_plans(r)
    fires = r.scenario.draw(r.landscape, r.placement_ignitions, np.random.default_rng(selection_fire_seed(r.seed)),
                            ignition_density=r.ignition_density)
    kwargs = {} if r.device is None else {"device": r.device}
    loss = {}
    for name, (breaks, _) in plans.items():
        result = simulate(r.landscape, fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min),
                          fuel_breaks=breaks, values=r.values, return_burn_count=False, **kwargs)
        loss[name] = float(burned_measure(result, r.values).mean())
    chosen = min(loss, key=loss.get)  # the first of equals
    return AgentChoice(chosen, plans[chosen][0], plans[chosen][1], loss, r.placement_ignitions,
                       list(_agent_policy(r).checkpoints))


def _agent(r: PlacementRequest) -> torch.Tensor:
    return choose_agent_plan(r).breaks


def _agent_checked(r: PlacementRequest) -> torch.Tensor:
    """The ensemble's one plan, the network's best cells checked by DPV from the placement
    fires (the fires and values of the dpv method): the agent's first candidate."""
    return _place_with(_agent_policy(r), r)


def _agent_network(r: PlacementRequest) -> torch.Tensor:
    return _place_with(_agent_policy(r), r, dpv_check=False)


REGISTRY: dict[str, Method] = {m.name: m for m in (
    Method("none", "no treatment", _none),
    Method("random", "random", _random),
    Method("greedy_intensity", "greedy intensity", _greedy_intensity),
    Method("burn_probability", "burn probability", _burn_probability),
    Method("dpv", "DPV", _dpv),
    Method("dpv_rounds", f"DPV, {DPV_ROUNDS} rounds", _dpv_rounds),
    Method("domirank", "DomiRank", _domirank),
    Method("agent", "agent", _agent, needs_agent=True),
    Method("agent_checked", "agent's ensemble plan", _agent_checked, needs_agent=True),
    Method("agent_network", "agent's network alone", _agent_network, needs_agent=True),
)}
METHODS = tuple(REGISTRY)
# what qagent-plan compares the agent's plan with (--compare): every method without a checkpoint
HEURISTICS = tuple(name for name, m in REGISTRY.items() if not m.needs_agent)


def placement_request(landscape: Landscape, weather: Weather, budget_cells: int, seed: int,
                      agent: AgentPolicy | None = None, cells_per_round: int | None = None, *,
                      placement_ignitions: int = DEFAULT_PLACEMENT_IGNITIONS,
                      scenario: FireScenario = DEFAULT_SCENARIO, device=None, ignition_density=None, values=None,
                      refresh_rounds=None) -> PlacementRequest:
    """The ``PlacementRequest`` of ``place_breaks``' arguments (see there)."""
    return PlacementRequest(landscape, weather, budget_cells, seed, agent, cells_per_round, placement_ignitions,
                            scenario, device, ignition_density, values, refresh_rounds)


def place_breaks(method: str, landscape: Landscape, weather: Weather, budget_cells: int, seed: int,
                 agent: AgentPolicy | None = None, cells_per_round: int | None = None, **options) -> torch.Tensor:
    """The bool [H, W] breaks of one method; exactly budget_cells cells (or every burnable cell
    if fewer), never on non-burnable cells. ``seed`` is the placement seed (``placement_seed``);
    keyword ``options`` (``placement_request``): ``placement_ignitions``, ``scenario`` and
    ``ignition_density`` (None: uniform) are burn_probability's, DPV's and the agent's fires,
    ``device`` where they run (default: the landscape's); ``values`` the values at risk DPV and
    the agent use (docs/evaluation.md, "Values at risk"; None: every cell worth 1);
    ``refresh_rounds`` the agent's (``AgentPolicy.place``)."""
    if method not in REGISTRY:
        raise InputError(f"method: unknown {method!r}; choose from {METHODS}")
    return REGISTRY[method].place(placement_request(landscape, weather, budget_cells, seed, agent, cells_per_round,
                                                    **options))
