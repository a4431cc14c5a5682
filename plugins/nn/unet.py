"""A pixel-space U-Net denoiser for diffusion (Ho et al. 2020; Nichol & Dhariwal 2021).

eps_theta(x_t, t, y): residual blocks at each resolution, each taking the timestep (and the
class, when there is one) as a learned embedding added inside the block; self-attention at
chosen resolutions; skip connections from the down path to the up path. The output layer
starts at zero, so an untrained denoiser predicts eps = 0.

Where it differs from the papers: GroupNorm groups fall back to fewer groups for narrow
layers (the zoo's models are small); the class embedding has one extra row, the null class
of classifier-free guidance (Ho & Salimans 2022), which training picks with the label
dropout probability.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from zoo.plugins.nn.unet_config import UNetShapeConfig


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps t (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups that divide ``channels``."""
    groups = math.gcd(32, channels)
    return nn.GroupNorm(groups, channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with the (time + class) embedding added between them."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, cout))
        self.out_layers = nn.Sequential(
            norm(cout), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1)
        )
        nn.init.zeros_(self.out_layers[-1].weight)  # each block starts as the identity
        nn.init.zeros_(self.out_layers[-1].bias)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions, with a residual connection."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).chunk(3, dim=1)

        def split(z: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, heads, N, C/heads)
            return z.reshape(b, self.heads, c // self.heads, h * w).transpose(2, 3)

        out = F.scaled_dot_product_attention(split(q), split(k), split(v))
        out = out.transpose(2, 3).reshape(b, c, h * w)
        return x + self.proj(out).reshape(b, c, h, w)


class Level(nn.Module):
    """The blocks of one resolution on one path: ResBlocks, each followed by attention or not."""

    def __init__(self, blocks: list[nn.Module], attns: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attns = nn.ModuleList(attns)


def build_down_path(
    base: int,
    mults: tuple[int, ...],
    num_res_blocks: int,
    attention: tuple[int, ...],
    image_size: int,
    emb_dim: int,
    dropout: float,
    heads: int,
) -> tuple[nn.ModuleList, nn.ModuleList, list[int]]:
    """The down path's levels and downsamplers, and the channels of every map it keeps
    (the stem's first): a U-Net's skip connections, an encoder's last width."""
    widths = [base * m for m in mults]
    kept = [base]
    ch, side = base, image_size
    down, downsample = nn.ModuleList(), nn.ModuleList()
    for i, width in enumerate(widths):
        blocks, attns = [], []
        for _ in range(num_res_blocks):
            blocks.append(ResBlock(ch, width, emb_dim, dropout))
            attns.append(Attention(width, heads) if side in attention else nn.Identity())
            ch = width
            kept.append(ch)
        down.append(Level(blocks, attns))
        if i < len(widths) - 1:
            downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            kept.append(ch)
            side //= 2
    return down, downsample, kept


def run_down_path(
    down: nn.ModuleList, downsample: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor
) -> list[torch.Tensor]:
    """Every map the down path makes from the stem's output ``h`` (the last is its end)."""
    hs = [h]
    for i, level in enumerate(down):
        for block, attn in zip(level.blocks, level.attns, strict=True):
            h = attn(block(h, emb))
            hs.append(h)
        if i < len(downsample):
            h = downsample[i](h)
            hs.append(h)
    return hs


class UNet(nn.Module):
    """eps_theta(x_t, t, y) -> (B, out_channels, H, W).

    Args:
        in_channels, out_channels: image channels in; C (or 2C with a learned variance) out.
        base: channels at full resolution; level i has ``base * mults[i]``.
        mults: one entry per resolution (the image side halves between levels).
        num_res_blocks: ResBlocks per level on the down path (one more on the up path).
        attention: the image sides at which self-attention follows each ResBlock.
        num_classes: 0 for an unconditional model; else labels 0..num_classes-1 and the
            null class ``num_classes``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base: int,
        mults: tuple[int, ...],
        num_res_blocks: int,
        attention: tuple[int, ...],
        image_size: int,
        num_classes: int = 0,
        dropout: float = 0.0,
        heads: int = 4,
    ) -> None:
        super().__init__()
        emb_dim = base * 4
        self.base = base
        self.time_embed = nn.Sequential(
            nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.class_embed = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.stem = nn.Conv2d(in_channels, base, 3, padding=1)

        self.down, self.downsample, skips = build_down_path(
            base, mults, num_res_blocks, attention, image_size, emb_dim, dropout, heads
        )
        widths = [base * m for m in mults]
        ch, side = skips[-1], image_size >> (len(mults) - 1)
        self.mid = nn.ModuleList(
            [
                ResBlock(ch, ch, emb_dim, dropout),
                Attention(ch, heads),
                ResBlock(ch, ch, emb_dim, dropout),
            ]
        )
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResBlock(ch + skips.pop(), width, emb_dim, dropout))
                attns.append(Attention(width, heads) if side in attention else nn.Identity())
                ch = width
            self.up.append(Level(blocks, attns))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
                side *= 2
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, C, H, W), t (B,) timesteps, y (B,) int64 labels (num_classes = null)."""
        emb = self.time_embed(timestep_embedding(t, self.base).to(x.dtype))
        if self.class_embed is not None:
            if y is None:
                raise ValueError("this U-Net is class-conditional: pass labels y")
            emb = emb + self.class_embed(y)
        hs = run_down_path(self.down, self.downsample, self.stem(x), emb)
        h = hs[-1]
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for i, level in enumerate(self.up):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(torch.cat([h, hs.pop()], dim=1), emb))
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)


class NoisyClassifierNet(nn.Module):
    """The U-Net's down path and middle as a classifier of noisy samples: (x_t, t) -> logits.

    Dhariwal & Nichol (2021) guide with a classifier built from the denoiser's encoder half,
    trained on x_t at every t of the forward process; the time embedding enters each ResBlock
    as in the U-Net, and the last map is averaged over positions before a linear head.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        base: int,
        mults: tuple[int, ...],
        num_res_blocks: int,
        attention: tuple[int, ...],
        image_size: int,
        dropout: float = 0.0,
        heads: int = 4,
    ) -> None:
        super().__init__()
        emb_dim = base * 4
        self.base = base
        self.time_embed = nn.Sequential(
            nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.stem = nn.Conv2d(in_channels, base, 3, padding=1)
        self.down, self.downsample, kept = build_down_path(
            base, mults, num_res_blocks, attention, image_size, emb_dim, dropout, heads
        )
        ch = kept[-1]
        self.mid = ResBlock(ch, ch, emb_dim, dropout)
        self.num_features = ch
        self.pool = nn.Sequential(norm(ch), nn.SiLU())
        self.head = nn.Linear(ch, num_classes)

    def features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, num_features): the averaged last map of x (B, C, H, W) at timesteps t (B,)."""
        emb = self.time_embed(timestep_embedding(t, self.base).to(x.dtype))
        h = run_down_path(self.down, self.downsample, self.stem(x), emb)[-1]
        h = self.pool(self.mid(h, emb))
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x, t))


def noisy_encoder(config: UNetShapeConfig, out_features: int) -> NoisyClassifierNet:
    """The encoder half of ``config``'s U-Net with a linear head to ``out_features``: the
    noise-aware classifier's logits, or a noise-aware CLIP's image embedding."""
    return NoisyClassifierNet(
        in_channels=config.channels,
        num_classes=out_features,
        base=config.base_channels,
        mults=config.channel_mults,
        num_res_blocks=config.num_res_blocks,
        attention=config.attention_resolutions,
        image_size=config.image_size,
    )
