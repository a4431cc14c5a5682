"""The KL-regularised autoencoder of latent diffusion (Stable Diffusion's "VAE"), with
diffusers' ``AutoencoderKL`` config keys and state-dict names, so a diffusers repo's
``vae/config.json`` and ``vae/diffusion_pytorch_model.safetensors`` load as they are.

Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models" (2022),
section 3 and appendix G: a convolutional encoder maps an image x (B, 3, H, W) in
[-1, 1] to the mean and log-variance of a diagonal Gaussian q(z | x) over latents
(B, C, H/f, W/f), f = 2**(levels - 1); a decoder maps z back to pixels. A latent
diffusion model works on ``z * scaling_factor`` (scaled to unit variance).

Layout, as in the paper's code and in diffusers:

- encoder: conv_in -> per level ``layers_per_block`` residual blocks and (except the
  last level) a stride-2 3x3 convolution -> mid (residual block, single-head spatial
  self-attention, residual block) -> GroupNorm, SiLU, conv_out to 2C channels;
- quant_conv (1x1, optional) -> (mean, logvar), logvar clamped to [-30, 20];
- post_quant_conv (1x1, optional) -> decoder: conv_in -> mid -> per level, deepest
  first, ``layers_per_block + 1`` residual blocks and (except the last) nearest x2
  upsampling followed by a 3x3 convolution -> GroupNorm, SiLU, conv_out.

Details that matter for parity with diffusers (and the original checkpoints):

- the downsampler pads only right and bottom by one pixel, then convolves 3x3 with
  stride 2 and no padding, so its grid is shifted half a step against torch's
  symmetric padding (which would give the same shapes and different numbers);
- every GroupNorm has eps 1e-6 (torch's default is 1e-5);
- the mid attention has one head of width C, so the logits are scaled by 1/sqrt(C),
  and it adds its input back (a residual); q, k, v and the output projection are
  linear maps over channels (1x1 convolutions in the original checkpoints);
- ``act_fn`` is the residual blocks' nonlinearity only: the activation before each
  conv_out is always SiLU.

Also here: ``vae_from_original`` renames an original-layout (CompVis / single-file
checkpoint) state dict to diffusers' names. Nothing here imports diffusers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from torch import nn

from zoo.registry.errors import CardError, WeightsMismatchError, invalid_config

DOWN_BLOCK = "DownEncoderBlock2D"
UP_BLOCK = "UpDecoderBlock2D"
ORIGINAL_PREFIX = "first_stage_model."

# diffusers' names for the residual blocks' nonlinearity (matched case-insensitively).
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "mish": nn.Mish,
    "gelu": nn.GELU,
    "relu": nn.ReLU,
}

_GROUPNORM_EPS = 1e-6
_LOGVAR_RANGE = (-30.0, 20.0)


# -- config -----------------------------------------------------------------------------


# The scenes' autoencoder shape (klvae's scenes preset; the ldm scenes preset's latents):
# 32x32 RGB -> (4, 8, 8), factor 4, which keeps a small shape's colour and outline (factor
# 8's 4x4 latents blur them away)
SCENES_AUTOENCODER: dict[str, Any] = {
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [32, 64, 64],
    "norm_num_groups": 16,
    "latent_channels": 4,
}

# 64x64 scenes -> the same (4, 8, 8) latents (factor 8): one more level, narrow at 64x64
SCENES_AUTOENCODER_64: dict[str, Any] = {
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [16, 32, 64, 64],
    "norm_num_groups": 16,
    "latent_channels": 4,
}


class KLAutoencoderConfig(BaseModel):
    """diffusers' ``AutoencoderKL`` config.json, with diffusers' defaults.

    Keys starting with ``_`` (``_class_name``, ``_diffusers_version``, ...) are ignored;
    any other key this class does not know is a ``CardError`` naming it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_channels: int = Field(default=3, ge=1, description="image channels in")
    out_channels: int = Field(default=3, ge=1, description="image channels out")
    down_block_types: tuple[Literal["DownEncoderBlock2D"], ...] = Field(
        default=("DownEncoderBlock2D",),
        min_length=1,
        description="one per level; only DownEncoderBlock2D",
    )
    up_block_types: tuple[Literal["UpDecoderBlock2D"], ...] = Field(
        default=("UpDecoderBlock2D",),
        min_length=1,
        description="one per level; only UpDecoderBlock2D",
    )
    block_out_channels: tuple[int, ...] = Field(
        default=(64,), min_length=1, description="channels per level, highest resolution first"
    )
    layers_per_block: int = Field(
        default=1, ge=1, description="residual blocks per encoder level (the decoder has one more)"
    )
    act_fn: str = Field(
        default="silu", description="residual blocks' nonlinearity: silu, swish, mish, gelu, relu"
    )
    latent_channels: int = Field(default=4, ge=1, description="latent channels C")
    norm_num_groups: int = Field(default=32, ge=1, description="GroupNorm groups everywhere")
    sample_size: int | tuple[int, ...] = Field(
        default=32, description="training image side (diffusers uses it for tiling only)"
    )
    scaling_factor: float = Field(
        default=0.18215, gt=0, description="latents are multiplied by it for the diffusion model"
    )
    shift_factor: float | None = Field(
        default=None, description="subtracted from latents before scaling (SD3, Flux)"
    )
    latents_mean: tuple[float, ...] | None = Field(
        default=None, description="per-channel latent mean subtracted before scaling"
    )
    latents_std: tuple[float, ...] | None = Field(
        default=None, description="per-channel latent std divided out after scaling"
    )
    force_upcast: bool = Field(
        default=True, description="the autoencoder should run in float32 (read by the loader)"
    )
    use_quant_conv: bool = Field(default=True, description="1x1 conv after the encoder")
    use_post_quant_conv: bool = Field(default=True, description="1x1 conv before the decoder")
    mid_block_add_attention: bool = Field(
        default=True, description="self-attention in the encoder's and decoder's mid blocks"
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise CardError(
                f"an autoencoder config must be a JSON object, not {type(data).__name__}"
            )
        kept = {k: v for k, v in data.items() if not str(k).startswith("_")}
        for key in kept:
            if key not in cls.model_fields:
                raise CardError(
                    f"unknown autoencoder config key '{key}'; remove it or check its spelling"
                    f" (known: {', '.join(cls.model_fields)})"
                )
        for key, allowed in (("down_block_types", DOWN_BLOCK), ("up_block_types", UP_BLOCK)):
            values = kept.get(key)
            for value in values if isinstance(values, (list, tuple)) else ():
                if value != allowed:
                    raise CardError(
                        f"{key} has '{value}', which this autoencoder does not build;"
                        f" only {allowed} is supported"
                    )
        return kept

    @field_validator("act_fn")
    @classmethod
    def _act_fn(cls, value: str) -> str:
        if value.lower() not in _ACTIVATIONS:
            raise CardError(
                f"act_fn '{value}' is not supported; use one of {', '.join(_ACTIVATIONS)}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KLAutoencoderConfig:
        levels = len(self.block_out_channels)
        for key in ("down_block_types", "up_block_types"):
            if len(getattr(self, key)) != levels:
                raise CardError(
                    f"{key} has {len(getattr(self, key))} entries but block_out_channels has"
                    f" {levels}; give one per level"
                )
        for width in self.block_out_channels:
            if width < 1 or width % self.norm_num_groups:
                raise CardError(
                    f"block_out_channels entry {width} is not a positive multiple of"
                    f" norm_num_groups {self.norm_num_groups}; fix either key"
                )
        for key in ("latents_mean", "latents_std"):
            stats = getattr(self, key)
            if stats is not None and len(stats) != self.latent_channels:
                raise CardError(
                    f"{key} has {len(stats)} entries but latent_channels is"
                    f" {self.latent_channels}; give one per channel"
                )
        if (self.latents_mean is None) != (self.latents_std is None):
            raise CardError("latents_mean and latents_std go together; set both or neither")
        if self.latents_std is not None and min(self.latents_std) <= 0:
            raise CardError("latents_std has an entry <= 0; every std must be positive")
        return self

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str = "autoencoder config"
    ) -> KLAutoencoderConfig:
        """Validate a parsed config.json; every error is a one-line ``CardError`` that
        starts with ``where``."""
        try:
            return cls.model_validate(data)
        except CardError as err:
            raise CardError(f"{where}: {err}") from None
        except ValidationError as err:
            raise invalid_config(where, err) from None

    @classmethod
    def from_file(cls, path: str | Path) -> KLAutoencoderConfig:
        """Read a diffusers ``vae/config.json``.

        Raises:
            CardError: the file is missing, not JSON, or not a supported config.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as err:
            raise CardError(f"{path}: cannot read ({err.strerror}); check the path") from None
        except (UnicodeDecodeError, ValueError) as err:
            raise CardError(f"{path}: not valid JSON ({err}); repair or re-download it") from None
        return cls.from_dict(data, where=str(path))


# -- layers -----------------------------------------------------------------------------


def _group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=_GROUPNORM_EPS)


class ResnetBlock(nn.Module):
    """h = conv2(act(norm2(conv1(act(norm1(x)))))); out = shortcut(x) + h.

    The shortcut is a 1x1 convolution when the width changes, else the identity.
    """

    def __init__(self, c_in: int, c_out: int, groups: int, act: str) -> None:
        super().__init__()
        self.norm1 = _group_norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = _group_norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.nonlinearity = _ACTIVATIONS[act.lower()]()
        self.conv_shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        h = self.conv2(self.nonlinearity(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class SpatialSelfAttention(nn.Module):
    """x + W_o softmax(q k^T / sqrt(C)) v over the H*W positions, one head of width C,
    with q, k, v = W_{q,k,v} GroupNorm(x) at each position."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.group_norm = _group_norm(channels, groups)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.group_norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = (proj(tokens).unsqueeze(1) for proj in (self.to_q, self.to_k, self.to_v))
        attended = F.scaled_dot_product_attention(q, k, v).squeeze(1)  # scale 1/sqrt(C)
        out = self.to_out[0](attended).transpose(1, 2).reshape(b, c, h, w)
        return x + out


class MidBlock(nn.Module):
    """Residual block, self-attention (optional), residual block, at constant width."""

    def __init__(self, channels: int, groups: int, act: str, attention: bool) -> None:
        super().__init__()
        self.attentions = nn.ModuleList(
            [SpatialSelfAttention(channels, groups)] if attention else []
        )
        self.resnets = nn.ModuleList(
            [ResnetBlock(channels, channels, groups, act) for _ in range(2)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x)
        for attention in self.attentions:
            x = attention(x)
        return self.resnets[1](x)


class Downsample(nn.Module):
    """Pad right and bottom by one, then a 3x3 stride-2 convolution: side s -> floor(s/2),
    output pixel i centred on input pixel 2i + 1 (symmetric padding would centre it on
    2i), as in the original LDM code."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One resolution level: residual blocks, then an optional resampler (diffusers keeps
    it in a one-element list named ``downsamplers`` or ``upsamplers``)."""

    def __init__(
        self, c_in: int, c_out: int, layers: int, groups: int, act: str, resample: str | None
    ) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock(c_in if i == 0 else c_out, c_out, groups, act) for i in range(layers)]
        )
        if resample == "down":
            self.downsamplers = nn.ModuleList([Downsample(c_out)])
        elif resample == "up":
            self.upsamplers = nn.ModuleList([Upsample(c_out)])
        self.resample = resample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for resnet in self.resnets:
            x = resnet(x)
        if self.resample == "down":
            x = self.downsamplers[0](x)
        elif self.resample == "up":
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    """(B, in_channels, H, W) -> (B, 2C, H/f, W/f): mean and log-variance, stacked."""

    def __init__(self, cfg: KLAutoencoderConfig) -> None:
        super().__init__()
        widths, groups, act = cfg.block_out_channels, cfg.norm_num_groups, cfg.act_fn
        self.conv_in = nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)
        last = len(widths) - 1
        self.down_blocks = nn.ModuleList(
            Level(
                widths[max(i - 1, 0)],
                widths[i],
                cfg.layers_per_block,
                groups,
                act,
                "down" if i < last else None,
            )
            for i in range(len(widths))
        )
        self.mid_block = MidBlock(widths[-1], groups, act, cfg.mid_block_add_attention)
        self.conv_norm_out = _group_norm(widths[-1], groups)
        self.conv_out = nn.Conv2d(widths[-1], 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down_blocks:
            h = level(h)
        h = self.mid_block(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class Decoder(nn.Module):
    """(B, C, h, w) -> (B, out_channels, h*f, w*f)."""

    def __init__(self, cfg: KLAutoencoderConfig) -> None:
        super().__init__()
        widths = tuple(reversed(cfg.block_out_channels))  # deepest first
        groups, act = cfg.norm_num_groups, cfg.act_fn
        self.conv_in = nn.Conv2d(cfg.latent_channels, widths[0], 3, padding=1)
        last = len(widths) - 1
        self.up_blocks = nn.ModuleList(
            Level(
                widths[max(i - 1, 0)],
                widths[i],
                cfg.layers_per_block + 1,
                groups,
                act,
                "up" if i < last else None,
            )
            for i in range(len(widths))
        )
        # Registered after up_blocks though run before them: diffusers' state-dict order.
        self.mid_block = MidBlock(widths[0], groups, act, cfg.mid_block_add_attention)
        self.conv_norm_out = _group_norm(widths[-1], groups)
        self.conv_out = nn.Conv2d(widths[-1], cfg.out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid_block(self.conv_in(z))
        for level in self.up_blocks:
            h = level(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# -- the autoencoder --------------------------------------------------------------------


class KLAutoencoder(nn.Module):
    """diffusers' ``AutoencoderKL``: same config, same state-dict names and shapes.

    Its children (``encoder``, ``decoder`` and, when configured, ``quant_conv`` and
    ``post_quant_conv``) are the top-level prefixes of diffusers' names, so
    ``dict(vae.named_children())`` is the part mapping ``zoo.weights.apply_weights``
    takes for a diffusers ``vae/diffusion_pytorch_model.safetensors``.
    """

    def __init__(self, config: KLAutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.latent_channels
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1) if config.use_quant_conv else None
        self.post_quant_conv = nn.Conv2d(c, c, 1) if config.use_post_quant_conv else None
        # z_scaled = (z - shift) * scale per channel, shift = shift_factor + latents_mean
        # and scale = scaling_factor / latents_std (plain numbers, outside the state dict).
        mean = config.latents_mean or (0.0,) * c
        std = config.latents_std or (1.0,) * c
        offset = config.shift_factor or 0.0
        self._shift = tuple(m + offset for m in mean)
        self._scale = tuple(config.scaling_factor / s for s in std)

    def _affine(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel shift and scale, (1, C, 1, 1) float32 on ``like``'s device."""
        shape = (1, len(self._shift), 1, 1)
        shift = torch.tensor(self._shift, dtype=torch.float32, device=like.device).view(shape)
        scale = torch.tensor(self._scale, dtype=torch.float32, device=like.device).view(shape)
        return shift, scale

    @property
    def downscale(self) -> int:
        """Pixels per latent along each side, f = 2**(levels - 1)."""
        return 2 ** (len(self.config.block_out_channels) - 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z | x).

        Args:
            x: images (B, in_channels, H, W) in [-1, 1]; H and W multiples of ``downscale``.

        Returns:
            mean and logvar, each (B, C, H/f, W/f); logvar clamped to [-30, 20].
        """
        moments = self.encoder(x)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(*_LOGVAR_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unscaled latents (B, C, h, w) -> images (B, out_channels, h*f, w*f), about [-1, 1]."""
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def latents(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """What a latent diffusion model sees: ``(z - shift - mean) * scaling_factor / std``.

        Args:
            x: images (B, in_channels, H, W) in [-1, 1].
            noise: standard normal (B, C, H/f, W/f) to draw z = mean + std_q * noise from
                q(z | x); None uses z = mean (the mode).

        Returns:
            scaled latents (B, C, H/f, W/f), about unit variance for a trained model.
        """
        mean, logvar = self.encode(x)
        z = mean if noise is None else mean + torch.exp(0.5 * logvar) * noise
        shift, scale = self._affine(z)
        return ((z.float() - shift) * scale).to(z.dtype)

    def images(self, latents: torch.Tensor) -> torch.Tensor:
        """The inverse of ``latents``'s scaling, then ``decode``: (B, C, h, w) -> images."""
        shift, scale = self._affine(latents)
        return self.decode((latents.float() / scale + shift).to(latents.dtype))


# -- original (CompVis / single-file checkpoint) layout ----------------------------------


def _original_names(config: KLAutoencoderConfig) -> dict[str, str]:
    """original name -> diffusers name, for every tensor the config's autoencoder has."""
    names: dict[str, str] = {}

    def pair(old: str, new: str) -> None:
        names[f"{old}.weight"] = f"{new}.weight"
        names[f"{old}.bias"] = f"{new}.bias"

    def resnet(old: str, new: str, c_in: int, c_out: int) -> None:
        for part in ("norm1", "conv1", "norm2", "conv2"):
            pair(f"{old}.{part}", f"{new}.{part}")
        if c_in != c_out:
            pair(f"{old}.nin_shortcut", f"{new}.conv_shortcut")

    def mid(side: str, width: int) -> None:
        resnet(f"{side}.mid.block_1", f"{side}.mid_block.resnets.0", width, width)
        if config.mid_block_add_attention:
            for old, new in (("norm", "group_norm"), ("q", "to_q"), ("k", "to_k"), ("v", "to_v")):
                pair(f"{side}.mid.attn_1.{old}", f"{side}.mid_block.attentions.0.{new}")
            pair(f"{side}.mid.attn_1.proj_out", f"{side}.mid_block.attentions.0.to_out.0")
        resnet(f"{side}.mid.block_2", f"{side}.mid_block.resnets.1", width, width)

    widths, n = config.block_out_channels, len(config.block_out_channels)
    pair("encoder.conv_in", "encoder.conv_in")
    for i in range(n):
        for j in range(config.layers_per_block):
            c_in = widths[max(i - 1, 0)] if j == 0 else widths[i]
            resnet(
                f"encoder.down.{i}.block.{j}",
                f"encoder.down_blocks.{i}.resnets.{j}",
                c_in,
                widths[i],
            )
        if i < n - 1:
            pair(
                f"encoder.down.{i}.downsample.conv", f"encoder.down_blocks.{i}.downsamplers.0.conv"
            )
    mid("encoder", widths[-1])
    pair("encoder.norm_out", "encoder.conv_norm_out")
    pair("encoder.conv_out", "encoder.conv_out")
    if config.use_quant_conv:
        pair("quant_conv", "quant_conv")
    if config.use_post_quant_conv:
        pair("post_quant_conv", "post_quant_conv")
    pair("decoder.conv_in", "decoder.conv_in")
    mid("decoder", widths[-1])
    # The original decoder numbers its levels by resolution (up.0 is the full-size one,
    # run last); diffusers numbers them in the order they run.
    for i in range(n):
        level = n - 1 - i
        c_prev = widths[min(level + 1, n - 1)]
        for j in range(config.layers_per_block + 1):
            c_in = c_prev if j == 0 else widths[level]
            resnet(
                f"decoder.up.{level}.block.{j}",
                f"decoder.up_blocks.{i}.resnets.{j}",
                c_in,
                widths[level],
            )
        if i < n - 1:
            pair(f"decoder.up.{level}.upsample.conv", f"decoder.up_blocks.{i}.upsamplers.0.conv")
    pair("decoder.norm_out", "decoder.conv_norm_out")
    pair("decoder.conv_out", "decoder.conv_out")
    return names


_ATTENTION_WEIGHT = re.compile(r"\.mid\.attn_1\.(q|k|v|proj_out)\.weight$")


def vae_from_original(
    state: Mapping[str, torch.Tensor], config: KLAutoencoderConfig
) -> dict[str, torch.Tensor]:
    """Rename an original-layout autoencoder state dict to diffusers' names.

    Accepts the autoencoder's own keys (``encoder.down.0.block.0.norm1.weight``, ...) or a
    whole single-file checkpoint: when any key starts with ``first_stage_model.``, only
    those keys are taken (the rest belong to the U-Net and text encoder) and the prefix
    is dropped. Keys under ``loss.`` (the discriminator and perceptual network some
    autoencoder checkpoints carry from training) are skipped. The attention's q, k, v and
    proj_out weights, 1x1 convolutions (C, C, 1, 1) there, become linear (C, C).

    Raises:
        WeightsMismatchError: a tensor the config needs is missing, a key is not part of
            the config's autoencoder, or an attention weight is not a 1x1 kernel.
    """
    if any(key.startswith(ORIGINAL_PREFIX) for key in state):
        state = {
            key[len(ORIGINAL_PREFIX) :]: value
            for key, value in state.items()
            if key.startswith(ORIGINAL_PREFIX)
        }
    state = {key: value for key, value in state.items() if not key.startswith("loss.")}
    names = _original_names(config)
    for key in names:
        if key not in state:
            raise WeightsMismatchError(
                f"original autoencoder weights lack '{key}' ({len(names)} expected for this"
                " config); the checkpoint is for another config or is not an autoencoder's"
            )
    for key in state:
        if key not in names:
            raise WeightsMismatchError(
                f"original autoencoder weights have '{key}', which this config's autoencoder"
                " does not have; check the config (levels, layers_per_block, quant convs)"
            )
    out: dict[str, torch.Tensor] = {}
    for old, new in names.items():
        tensor = state[old]
        if _ATTENTION_WEIGHT.search(old) and tensor.dim() > 2:
            if math.prod(tensor.shape[2:]) != 1:
                raise WeightsMismatchError(
                    f"original attention weight '{old}' has shape {tuple(tensor.shape)}, not a"
                    " 1x1 kernel; the checkpoint is not a KL autoencoder's"
                )
            tensor = tensor.flatten(1)
        out[new] = tensor
    return out
