"""One Double DQN update: the pure functions of the loss, and the :class:`Learner` that owns
the networks, the optimizer and everything one gradient step does.

- :func:`double_dqn_target`: y = r + gamma (1 - done) mean(Q_target(s', a*)), a* the top-k
  valid cells of s' by the ONLINE network (van Hasselt et al. 2016), a k-cell action valued
  as the mean of its cells.
- :func:`dqfd_margin`: DQfD's large-margin term (Hester et al. 2018) on demonstration
  transitions, max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E) with l = margin for every cell the
  demonstrator did not choose: for k-cell actions, the mean of the top k of Q + l minus the
  mean Q of the demonstrator's cells.
- :class:`Learner`: the online and target networks (the online one wrapped in
  DistributedDataParallel in a distributed run), AdamW, the warm-up + cosine learning rate
  (:func:`warmup_cosine`) and :meth:`Learner.update`: one gradient step on a replayed batch,
  as micro-batches whose gradients accumulate (``qagent.oom.OOMRetry`` halves them on
  out-of-memory), bf16 autocast where the GPU supports it, DDP's ``no_sync`` on all but the
  last micro-batch, gradient clipping, the scheduler step and the soft target update.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from qagent._validation import InputError
from qagent.agent.models import build_model
from qagent.agent.policy import greedy_topk
from qagent.agent.replay import Batch
from qagent.env.fuel_break_env import StaticObservationCache
from qagent.env.observation import NUM_CHANNELS, OBSERVATION_CHANNELS
from qagent.oom import OOMRetry
from qagent.train.config import TrainConfig

_BURNABLE = OBSERVATION_CHANNELS.index("burnable")  # burnable, unbroken cells


# ----------------------------------------------------------------------------- the loss, pure
def double_dqn_target(q_next_online: torch.Tensor, q_next_target: torch.Tensor, next_valid: torch.Tensor,
                      reward: torch.Tensor, done: torch.Tensor, gamma: float, k: int) -> torch.Tensor:
    """[B] TD targets from the online and target networks' Q-values of the next states
    ([B, H*W]) and their valid cells (bool [B, H*W]): the online network picks a* (its top-k
    valid cells), the target network values it (the mean over a*'s cells). A next state with
    no valid cell left values 0 (the -inf of an all-invalid top-k becomes 0)."""
    best = greedy_topk(q_next_online, next_valid, k)
    value = q_next_target.gather(1, best).mean(1)
    return reward + gamma * (1.0 - done) * torch.nan_to_num(value, neginf=0.0)


def dqfd_margin(q_all: torch.Tensor, q_action: torch.Tensor, actions: torch.Tensor, valid: torch.Tensor,
                margin: float, k: int) -> torch.Tensor:
    """[B] DQfD's large-margin term, >= 0: the mean of the top k valid cells of Q + l (l =
    ``margin`` on every cell but the demonstrator's ``actions`` [B, k]) minus ``q_action``, the
    demonstrated action's value (the mean Q of its cells). ``q_all`` [B, H*W], ``valid`` bool
    [B, H*W]."""
    scored = q_all + torch.full_like(q_all, margin).scatter_(1, actions, 0.0)
    best = scored.masked_fill(~valid, -torch.inf).gather(1, greedy_topk(scored, valid, k))
    return (best.mean(1) - q_action).clamp(min=0)


def warmup_cosine(total_updates: int, warmup_fraction: float, floor: float = 0.1):
    """The learning-rate factor per update for ``LambdaLR``: linear warm-up over
    ``warmup_fraction`` of the updates, then cosine decay to ``floor``. (A plain function, so
    ``LambdaLR`` saves nothing of it: a resumed run's schedule follows its own ``steps``.)"""
    warmup = max(1, int(warmup_fraction * total_updates))

    def factor(update: int) -> float:
        if update < warmup:
            return (update + 1) / warmup
        progress = min(1.0, (update - warmup) / max(1, total_updates - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


# ----------------------------------------------------------------------------- the learner
@dataclass
class DeviceBatch:
    """A replayed batch on the device: observations before and after the step, rebuilt from
    the landscapes' static channels and the break masks."""

    obs: torch.Tensor       # float32 [B, C, H, W]
    next_obs: torch.Tensor  # float32 [B, C, H, W]
    actions: torch.Tensor   # int64 [B, k]
    reward: torch.Tensor    # float32 [B], scaled by reward_scale
    done: torch.Tensor      # float32 [B]
    weights: torch.Tensor   # float32 [B], importance weights
    demo: torch.Tensor      # bool [B]

    def __len__(self) -> int:
        return len(self.reward)


def model_kwargs_of(cfg: TrainConfig) -> dict:
    """The keyword arguments ``build_model`` gets for a configuration."""
    kwargs = dict(cfg.extra.get("model_kwargs", {}))
    if cfg.checkpoint_activations:
        if not cfg.model.startswith("enhanced"):
            raise InputError("checkpoint_activations: only EnhancedQNet models support it")
        kwargs["checkpoint_activations"] = True
    return kwargs


class Learner:
    """The networks, optimizer and learning-rate schedule of a run, and one update of them
    (module docstring). ``distributed``: the online network is wrapped in
    DistributedDataParallel (gradients averaged across ranks at the last micro-batch)."""

    def __init__(self, cfg: TrainConfig, device: torch.device, observations: StaticObservationCache,
                 distributed: bool = False):
        self.cfg, self.device, self.observations, self.distributed = cfg, device, observations, distributed
        self.k = cfg.cells_per_step
        self.model_kwargs = model_kwargs_of(cfg)
        self.model = build_model(cfg.model, NUM_CHANNELS, **self.model_kwargs).to(device)
        self.target = build_model(cfg.model, NUM_CHANNELS, **self.model_kwargs).to(device)
        self.target.load_state_dict(self.model.state_dict())
        self.target.eval()
        self.module = self.model  # what the loss is computed with
        if distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.module = DistributedDataParallel(self.model,
                                                  device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.learning_rate, weight_decay=1e-5)
        total_updates = max(1, int((cfg.steps - cfg.learning_starts) * cfg.updates_per_step))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           warmup_cosine(total_updates, cfg.warmup_fraction))
        self.batch_size = cfg.micro_batch * cfg.accumulation_steps  # the effective batch
        self.oom = OOMRetry(self.batch_size, cfg.micro_batch, optimizer=self.optimizer)
        self.amp = cfg.amp != "off" and device.type == "cuda" and torch.cuda.is_bf16_supported()

    # ------------------------------------------------------------------ one update
    def update(self, batch: Batch) -> tuple[float, torch.Tensor]:
        """One gradient step on ``batch``; returns its loss and the TD errors q - y [B] (for
        the replay's priorities). After the optimizer step: the scheduler steps and the
        target network moves ``tau`` of the way to the online one (its buffers copied)."""
        on_device = self.to_device(batch)
        loss, td = self.oom.run(functools.partial(self._step, on_device))
        self.scheduler.step()
        self._soft_update_target()
        return loss, td

    def to_device(self, batch: Batch) -> DeviceBatch:
        masks = torch.from_numpy(batch.mask_before()).to(self.device)
        actions = torch.from_numpy(batch.action_cells).to(self.device)
        masks_after = masks.clone().view(len(batch), -1)
        masks_after.scatter_(1, actions, True)
        masks_after = masks_after.view_as(masks)
        done = torch.from_numpy(batch.done).to(self.device, torch.float32)
        return DeviceBatch(
            obs=self.observations.observations(batch.landscape_id, masks),
            next_obs=self.observations.observations(batch.landscape_id, masks_after),
            actions=actions,
            reward=torch.from_numpy(batch.reward).to(self.device, torch.float32) * self.cfg.reward_scale,
            done=done,
            weights=torch.from_numpy(batch.weights).to(self.device, torch.float32),
            demo=(torch.from_numpy(batch.demo).to(self.device) if batch.demo is not None
                  else torch.zeros_like(done, dtype=torch.bool)))

    def _step(self, b: DeviceBatch, micro: int, accumulation: int) -> tuple[float, torch.Tensor]:
        """The optimizer step of one attempt, over ``accumulation`` micro-batches of ``micro``
        samples (restartable: ``OOMRetry`` runs it again with a smaller ``micro`` after an
        out-of-memory error)."""
        cfg, n = self.cfg, len(b)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        td = torch.zeros(n, device=self.device)
        starts = list(range(0, n, micro))
        for start in starts:
            sl = slice(start, start + micro)
            last = start == starts[-1]
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                y = self._target_values(b.next_obs[sl], b.reward[sl], b.done[sl])
                valid = b.obs[sl, _BURNABLE] > 0.5
                with (self.module.no_sync() if self.distributed and not last else contextlib.nullcontext()):
                    q_all = self.module(b.obs[sl], valid).flatten(1).float()
                    q = q_all.gather(1, b.actions[sl]).mean(1)
                    per_sample = b.weights[sl] * F.smooth_l1_loss(q, y, reduction="none")
                    if bool(b.demo[sl].any()):
                        margin = dqfd_margin(q_all, q, b.actions[sl], valid.flatten(1), cfg.demo_margin, self.k)
                        per_sample = per_sample + cfg.demo_loss_weight * b.demo[sl] * margin
                    loss = per_sample.sum() / n
                    loss.backward()
            td[sl] = (q - y).detach()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return total, td

    def _target_values(self, next_obs: torch.Tensor, reward: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """:func:`double_dqn_target` of a micro-batch, without gradients; the online network's
        forward runs in eval mode, so next states do not move BatchNorm statistics."""
        next_valid = next_obs[:, _BURNABLE] > 0.5
        with torch.no_grad():
            self.model.eval()
            q_next_online = self.model(next_obs, next_valid).flatten(1).float()
            self.model.train()
            q_next_target = self.target(next_obs, next_valid).flatten(1).float()
            return double_dqn_target(q_next_online, q_next_target, next_valid.flatten(1), reward, done,
                                     self.cfg.gamma, self.k)

    def _soft_update_target(self) -> None:
        with torch.no_grad():
            for p, tp in zip(self.model.parameters(), self.target.parameters()):
                tp.lerp_(p, self.cfg.tau)
            for b, tb in zip(self.model.buffers(), self.target.buffers()):
                tb.copy_(b)

    # ------------------------------------------------------------------ state
    def sync_buffers(self) -> None:
        """BatchNorm statistics of rank 0 everywhere (DDP also does it at each forward)."""
        if self.distributed:
            for b in list(self.model.buffers()) + list(self.target.buffers()):
                torch.distributed.broadcast(b, 0)

    def state_dict(self) -> dict:
        """What a checkpoint holds of the learner (its top-level keys)."""
        return {"model": self.model.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "micro_batch": self.oom.micro_batch}

    def start_from(self, weights: dict) -> None:
        """Start the online and target networks from ``weights`` (a new run's init_weights)."""
        self.model.load_state_dict(weights)
        self.target.load_state_dict(weights)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s keys; the micro-batch only ever shrinks (a run that had
        to halve it keeps the smaller size)."""
        self.model.load_state_dict(state["model"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.oom.micro_batch = min(self.oom.micro_batch, int(state.get("micro_batch", self.oom.micro_batch)))
