"""Q-networks for fuel-break placement: observation channels in, one Q-value per cell out.

Every model maps observations ``obs`` [B, C, H, W] (float, roughly in [0, 1]) to Q-values
[B, H, W], one per cell: the value of putting a fuel break there. The models are fully
convolutional (stride 1, "same" padding, global pooling only where a scalar is needed), so
one set of weights runs on any grid, from 1 x 1 to a 613 x 549 landscape, odd sizes
included. How a k-cell action is valued from the cell values (the mean of its cells' Q) and
which cells are legal is the trainer's business; ``valid_mask`` only enters the dueling
aggregation.

Models (``build_model(name, in_channels, **kwargs)``; ``MODEL_NAMES``), with their parameter
counts at their default settings and the agent's 15 observation channels
(``qagent.env.observation.NUM_CHANNELS``; tests/test_models.py checks the figures):

- ``"qnet"``, :class:`QNet`: a plain stack of 3x3 conv - BatchNorm - ReLU layers and a 1x1
  head (119,809 parameters).
- ``"enhanced"``, :class:`EnhancedQNet`: residual blocks (He et al. 2016), CBAM attention
  (Woo et al. 2018) in every block and a multi-scale context module of parallel dilated
  convolutions (Yu & Koltun 2016; the ASPP of Chen et al. 2017) (350,749 parameters).
- ``"enhanced_efficient"``: the same network with residual blocks only, no attention and no
  multi-scale module, for less memory (306,817 parameters).
- ``"dueling"``, :class:`DuelingQNet`: a residual trunk with a per-cell advantage head and a
  pooled state-value head, Q = V + A - mean(A) (Wang et al. 2016) (241,154 parameters).

Where these networks come from (QNetFires): docs/history.md.

Design notes (why CBAM and dilated convolutions rather than self-attention or a U-Net, the
memory at 613 x 549, BatchNorm under gradient accumulation, activation checkpointing, and
references): docs/models.md. In brief: every layer costs O(C H W) memory, linear in the
cells; BatchNorm's statistics are per micro-batch (over B x H x W values per channel), so a
step depends slightly on the micro-batch size; ``EnhancedQNet(checkpoint_activations=True)``
recomputes each stage's activations in the backward pass, restoring BatchNorm's running
statistics, so a checkpointed step equals a plain one (tested).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from qagent._validation import InputError

MODEL_NAMES: tuple[str, ...] = ("qnet", "enhanced", "enhanced_efficient", "dueling")


def build_model(name: str, in_channels: int, **kwargs) -> nn.Module:
    """The model called ``name`` (one of ``MODEL_NAMES``) for ``in_channels`` observation
    channels; ``kwargs`` go to its constructor (``"enhanced_efficient"`` is ``EnhancedQNet``
    with ``use_attention=False, use_multiscale=False`` unless ``kwargs`` say otherwise)."""
    if name == "qnet":
        return QNet(in_channels, **kwargs)
    if name == "enhanced":
        return EnhancedQNet(in_channels, **kwargs)
    if name == "enhanced_efficient":
        return EnhancedQNet(in_channels, **{"use_attention": False, "use_multiscale": False, **kwargs})
    if name == "dueling":
        return DuelingQNet(in_channels, **kwargs)
    raise InputError(f"model: unknown name {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- building blocks
def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected a positive integer, got {value!r}")


def _check_obs(obs: torch.Tensor, in_channels: int) -> None:
    if not isinstance(obs, torch.Tensor) or obs.dim() != 4 or not obs.is_floating_point():
        shape = tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__
        raise InputError(f"obs: expected a float tensor [B, C, H, W], got {shape}")
    if obs.shape[1] != in_channels:
        raise InputError(f"obs: has {obs.shape[1]} channels (shape {tuple(obs.shape)}), "
                         f"the model expects {in_channels}")


def _conv_bn_relu(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution ("same" padding, no bias: BatchNorm's shift replaces it), BN, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ChannelAttention(nn.Module):
    """CBAM channel attention (Woo et al. 2018, eq. 2), squeeze-and-excitation with both
    average and max pooling: M_c = sigmoid(MLP(avgpool(F)) + MLP(maxpool(F))), F' = M_c * F.
    Memory: two [B, C] vectors and one gated copy of F."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        squeezed = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, squeezed), nn.ReLU(inplace=True), nn.Linear(squeezed, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))
        return x * gate[:, :, None, None]


class SpatialAttention(nn.Module):
    """CBAM spatial attention (Woo et al. 2018, eq. 3): M_s = sigmoid(conv7x7([mean_c(F);
    max_c(F)])), F' = M_s * F. Memory: a 2-channel and a 1-channel map and one gated copy of F."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN [-CBAM], plus the identity shortcut when ``residual`` (He et al.
    2016, the basic block), then ReLU. CBAM sits on the residual branch before the addition,
    as in Woo et al. (2018), Fig. 3."""

    def __init__(self, channels: int, *, residual: bool = True, attention: bool = False):
        super().__init__()
        self.residual = residual
        self.branch = nn.Sequential(
            _conv_bn_relu(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            *((ChannelAttention(channels), SpatialAttention()) if attention else ()),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x)
        return F.relu(x + y if self.residual else y)


class MultiScaleContext(nn.Module):
    """Parallel 3x3 convolutions with dilations 1, 2, 4, 8 (each ``channels // 4`` outputs),
    concatenated, fused by a 1x1 conv-BN-ReLU and added to the input: context from ~17 cells
    around each cell in one module (Yu & Koltun 2016; ASPP, Chen et al. 2017). Zero padding
    equal to the dilation keeps every grid size, down to 1 x 1."""

    DILATIONS = (1, 2, 4, 8)

    def __init__(self, channels: int):
        super().__init__()
        width = max(1, channels // len(self.DILATIONS))
        self.branches = nn.ModuleList(_conv_bn_relu(channels, width, dilation=d) for d in self.DILATIONS)
        self.fuse = nn.Sequential(
            nn.Conv2d(width * len(self.DILATIONS), channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([branch(x) for branch in self.branches], dim=1))


def _cell_head(channels: int) -> nn.Sequential:
    """1x1 conv - ReLU - 1x1 conv to one value per cell."""
    mid = max(1, channels // 2)
    return nn.Sequential(nn.Conv2d(channels, mid, 1), nn.ReLU(inplace=True), nn.Conv2d(mid, 1, 1))


@contextlib.contextmanager
def _batchnorm_stats_restored(module: nn.Module) -> Iterator[None]:
    """Run a block of code and then restore the running statistics of ``module``'s BatchNorm
    layers: the recomputation of a checkpointed stage must not count the batch twice."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [[buf.clone() for buf in (m.running_mean, m.running_var, m.num_batches_tracked)] for m in layers]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in zip(layers, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


# ----------------------------------------------------------------------------- models
class QNet(nn.Module):
    """The basic Q-network: ``depth`` layers of 3x3 conv-BN-ReLU with ``hidden`` channels and
    a 1x1 conv to one Q-value per cell. Receptive field 2 * depth + 1 cells.

    ``forward(obs [B, C, H, W], valid_mask=None) -> Q [B, H, W]``; ``valid_mask`` is accepted
    for a uniform call signature across models and not used."""

    def __init__(self, in_channels: int, hidden: int = 64, depth: int = 4):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden", hidden), ("depth", depth)):
            _check_positive(name, value)
        self.in_channels = in_channels
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, hidden), *(_conv_bn_relu(hidden, hidden) for _ in range(depth - 1))
        )
        self.head = nn.Conv2d(hidden, 1, 1)

    def forward(self, obs: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_obs(obs, self.in_channels)
        return self.head(self.features(obs)).squeeze(1)


class EnhancedQNet(nn.Module):
    """Residual Q-network with optional CBAM attention and multi-scale context.

    stem (3x3 conv-BN-ReLU to ``hidden`` channels) -> ``num_blocks // 2`` residual blocks ->
    multi-scale context (if ``use_multiscale``) -> the remaining blocks -> 1x1 head.
    ``use_residual=False`` drops the shortcuts (plain conv blocks, for ablations),
    ``use_attention`` puts CBAM in every block. With ``checkpoint_activations`` each stage
    (block or context module) is recomputed in the backward pass while training instead of
    storing its activations (see the module docstring).

    ``forward(obs [B, C, H, W], valid_mask=None) -> Q [B, H, W]``; ``valid_mask`` is not used.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int = 64,
        num_blocks: int = 4,
        use_attention: bool = True,
        use_residual: bool = True,
        use_multiscale: bool = True,
        checkpoint_activations: bool = False,
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden", hidden), ("num_blocks", num_blocks)):
            _check_positive(name, value)
        self.in_channels = in_channels
        self.checkpoint_activations = checkpoint_activations
        self.stem = _conv_bn_relu(in_channels, hidden)
        stages: list[nn.Module] = [
            ResidualBlock(hidden, residual=use_residual, attention=use_attention) for _ in range(num_blocks)
        ]
        if use_multiscale:
            stages.insert(num_blocks // 2, MultiScaleContext(hidden))
        self.stages = nn.ModuleList(stages)
        self.head = _cell_head(hidden)

    def forward(self, obs: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_obs(obs, self.in_channels)
        x = self.stem(obs)
        recompute = self.checkpoint_activations and self.training and torch.is_grad_enabled()
        for stage in self.stages:
            if recompute:
                x = checkpoint(
                    stage,
                    x,
                    use_reentrant=False,
                    context_fn=lambda stage=stage: (contextlib.nullcontext(), _batchnorm_stats_restored(stage)),
                )
            else:
                x = stage(x)
        return self.head(x).squeeze(1)


class DuelingQNet(nn.Module):
    """Dueling Q-network (Wang et al. 2016, eq. 9): a residual trunk (stem and ``num_blocks``
    residual blocks), a per-cell advantage head A [B, H, W] and a state-value head V [B] on
    the trunk's global average and max pooled features, combined as

        Q(s, a) = V(s) + A(s, a) - mean over valid a' of A(s, a').

    Subtracting the mean makes V and A identifiable; taking it over the valid (placeable)
    cells only, when ``valid_mask`` is given, keeps V the mean Q of the actions the agent can
    actually take. ``valid_mask``: bool [B, H, W] or [H, W] (shared by the batch); a sample
    with no valid cell gets no subtraction.

    ``forward(obs [B, C, H, W], valid_mask=None) -> Q [B, H, W]``.
    """

    def __init__(self, in_channels: int, hidden: int = 64, num_blocks: int = 3):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden", hidden), ("num_blocks", num_blocks)):
            _check_positive(name, value)
        self.in_channels = in_channels
        self.trunk = nn.Sequential(_conv_bn_relu(in_channels, hidden),
                                   *(ResidualBlock(hidden) for _ in range(num_blocks)))
        self.advantage = _cell_head(hidden)
        self.value = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, obs: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_obs(obs, self.in_channels)
        features = self.trunk(obs)
        advantage = self.advantage(features).squeeze(1)
        value = self.value(torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)).squeeze(1)
        if valid_mask is None:
            mean_advantage = advantage.mean(dim=(1, 2))
        else:
            mask = self._check_mask(valid_mask, advantage.shape).to(advantage.dtype)
            count = mask.sum(dim=(1, 2)).clamp_min(1.0)
            mean_advantage = (advantage * mask).sum(dim=(1, 2)) / count
        return value[:, None, None] + advantage - mean_advantage[:, None, None]

    @staticmethod
    def _check_mask(valid_mask: torch.Tensor, q_shape: torch.Size) -> torch.Tensor:
        if not isinstance(valid_mask, torch.Tensor) or valid_mask.dtype != torch.bool:
            raise InputError(
                f"valid_mask: expected a bool tensor, got {getattr(valid_mask, 'dtype', type(valid_mask))}")
        if tuple(valid_mask.shape) not in (tuple(q_shape), tuple(q_shape[1:])):
            raise InputError(f"valid_mask: shape {tuple(valid_mask.shape)} is neither "
                             f"[B, H, W] = {tuple(q_shape)} nor [H, W]")
        return valid_mask.expand(q_shape)
