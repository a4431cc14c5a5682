"""The U-Net of Stable Diffusion (1.x and 2.x), with diffusers' config keys and tensor names.

A latent-diffusion denoiser: residual blocks with a timestep embedding, spatial transformers
that cross-attend to a text encoder's token states, skip connections from each down level
to its up level (Rombach et al. 2022). ``SDUNetConfig`` reads a diffusers
``unet/config.json``; ``SDUNet``'s state dict has exactly the names of diffusers'
``UNet2DConditionModel`` for the configurations both cover, so a repo's
``diffusion_pytorch_model.safetensors`` loads as it is. SD 1.x: conv projections in and out
of the transformers, ``attention_head_dim`` counts heads (8); SD 2.x: linear projections and
per-level head counts of 64 channels each. A 9-channel input (latent, mask, masked-image
latent) is the inpainting variant. ControlNet residuals can be added to the skips and the
middle (``down_residuals``, ``mid_residual``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from torch import nn

from zoo.registry.errors import CardError, WeightsMismatchError, invalid_config

DOWN_TYPES = ("CrossAttnDownBlock2D", "DownBlock2D")
UP_TYPES = ("CrossAttnUpBlock2D", "UpBlock2D")

# diffusers keys this network does not implement: accepted only at these (default) values
_FIXED: dict[str, Any] = {
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "only_cross_attention": False,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "dropout": 0.0,
    "act_fn": "silu",
    "reverse_transformer_layers_per_block": None,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "dual_cross_attention": False,
    "class_embed_type": None,
    "addition_embed_type": None,
    "addition_time_embed_dim": None,
    "num_class_embeds": None,
    "resnet_time_scale_shift": "default",
    "resnet_skip_time_act": False,
    "resnet_out_scale_factor": 1.0,
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "time_embedding_act_fn": None,
    "timestep_post_act": None,
    "time_cond_proj_dim": None,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "projection_class_embeddings_input_dim": None,
    "attention_type": "default",
    "class_embeddings_concat": False,
    "mid_block_only_cross_attention": None,
    "cross_attention_norm": None,
    "addition_embed_type_num_heads": 64,
}


def _per_level(value: int | list[int], levels: int, key: str) -> list[int]:
    if isinstance(value, int):
        return [value] * levels
    if len(value) != levels:
        raise CardError(f"unet config: {key} has {len(value)} entries for {levels} levels")
    return list(value)


class SDUNetConfig(BaseModel):
    """A diffusers ``UNet2DConditionModel`` config.json, for the parts SD 1.x/2.x use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_size: int | list[int] | None = None
    in_channels: int = Field(default=4, ge=1)
    out_channels: int = Field(default=4, ge=1)
    freq_shift: float = 0
    down_block_types: list[str] = Field(
        default_factory=lambda: ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    )
    up_block_types: list[str] = Field(
        default_factory=lambda: ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3
    )
    block_out_channels: list[int] = Field(default_factory=lambda: [320, 640, 1280, 1280])
    layers_per_block: int = Field(default=2, ge=1)
    norm_num_groups: int = Field(default=32, ge=1)
    norm_eps: float = 1e-5
    cross_attention_dim: int = Field(default=1280, ge=1)
    transformer_layers_per_block: int | list[int] = 1
    attention_head_dim: int | list[int] = 8
    num_attention_heads: int | list[int] | None = None
    use_linear_projection: bool = False
    upcast_attention: bool = False

    @field_validator("down_block_types")
    @classmethod
    def _down(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in DOWN_TYPES:
                raise ValueError(f"down block '{name}' is not supported ({', '.join(DOWN_TYPES)})")
        return v

    @field_validator("up_block_types")
    @classmethod
    def _up(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in UP_TYPES:
                raise ValueError(f"up block '{name}' is not supported ({', '.join(UP_TYPES)})")
        return v

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "unet config") -> SDUNetConfig:
        """Read a diffusers config dict: ``_``-keys are ignored, unsupported features refused.

        Raises:
            CardError: one line naming the key (an unknown key, or a feature set to a value
                this network does not implement).
        """
        kept: dict[str, Any] = {}
        for key, value in raw.items():
            if key.startswith("_"):
                continue
            if key in _FIXED:
                default = _FIXED[key]
                same = value == default or (isinstance(value, list) and set(value) == {default})
                if not same:
                    raise CardError(
                        f"{where}: {key} = {value!r} is not supported (only {default!r})"
                    )
                continue
            kept[key] = value
        try:
            config = cls(**kept)
        except ValidationError as err:
            raise invalid_config(where, err) from None
        levels = len(config.block_out_channels)
        if len(config.down_block_types) != levels or len(config.up_block_types) != levels:
            raise CardError(
                f"{where}: {levels} block_out_channels but {len(config.down_block_types)} down "
                f"and {len(config.up_block_types)} up blocks"
            )
        for c in config.block_out_channels:
            if c % config.norm_num_groups:
                raise CardError(
                    f"{where}: {c} channels do not split into {config.norm_num_groups} groups"
                )
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> SDUNetConfig:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise CardError(f"{path}: cannot read the unet config ({err})") from None
        return cls.from_dict(raw, where=str(path))

    def heads(self) -> list[int]:
        """Attention heads per level (diffusers reads ``attention_head_dim`` as the head
        count when ``num_attention_heads`` is not given, as SD 1.x and 2.x configs are)."""
        levels = len(self.block_out_channels)
        value = self.num_attention_heads or self.attention_head_dim
        return _per_level(value, levels, "attention heads")

    def transformer_depths(self) -> list[int]:
        return _per_level(
            self.transformer_layers_per_block,
            len(self.block_out_channels),
            "transformer_layers_per_block",
        )


def timestep_embedding(t: torch.Tensor, dim: int, shift: float) -> torch.Tensor:
    """Sinusoidal features of (B,) timesteps: cos half then sin half (flip_sin_to_cos)."""
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(exponent / (half - shift))
    angles = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the timestep added between, a 1x1 shortcut if widths differ."""

    def __init__(self, cin: int, cout: int, temb: int, groups: int, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class Attention(nn.Module):
    """Multi-head attention with diffusers' names (to_q, to_k, to_v, to_out.0)."""

    def __init__(self, dim: int, context_dim: int | None, heads: int, upcast: bool) -> None:
        super().__init__()
        self.heads = heads
        self.upcast = upcast
        kv = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(kv, dim, bias=False)
        self.to_v = nn.Linear(kv, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if context is None else context
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(self.to_k(ctx)), split(self.to_v(ctx))
        if self.upcast:  # SD 2.1 computes attention in float32 (fp16 overflows there)
            out = F.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(q.dtype)
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(b, n, d)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


class TransformerBlock(nn.Module):
    """Self-attention, cross-attention to the text, a GEGLU MLP; pre-LayerNorm residuals."""

    def __init__(self, dim: int, heads: int, context_dim: int, upcast: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, None, heads, upcast)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context_dim, heads, upcast)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """diffusers' Transformer2DModel on a feature map: norm, project in, blocks, project
    out, plus the input. SD 1.x projects with 1x1 convs, SD 2.x with linear layers."""

    def __init__(
        self, channels: int, heads: int, depth: int, context_dim: int, cfg: SDUNetConfig
    ) -> None:
        super().__init__()
        self.linear = cfg.use_linear_projection
        self.norm = nn.GroupNorm(cfg.norm_num_groups, channels, eps=1e-6)
        proj: type[nn.Module] = nn.Linear if self.linear else nn.Conv2d
        args: tuple[int, ...] = (channels, channels) if self.linear else (channels, channels, 1)
        self.proj_in = proj(*args)
        self.transformer_blocks = nn.ModuleList(
            TransformerBlock(channels, heads, context_dim, cfg.upcast_attention)
            for _ in range(depth)
        )
        self.proj_out = proj(*args)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.norm(x)
        if not self.linear:
            y = self.proj_in(y)
        y = y.permute(0, 2, 3, 1).reshape(b, h * w, c)
        if self.linear:
            y = self.proj_in(y)
        for block in self.transformer_blocks:
            y = block(y, context)
        if self.linear:
            y = self.proj_out(y)
        y = y.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()
        if not self.linear:
            y = self.proj_out(y)
        return y + x


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class DownLevel(nn.Module):
    """One down level: (resnet, transformer?) x layers, then a stride-2 conv unless last."""

    def __init__(
        self, cin: int, cout: int, cfg: SDUNetConfig, level: int, temb: int, last: bool
    ) -> None:
        super().__init__()
        attend = cfg.down_block_types[level] == "CrossAttnDownBlock2D"
        n = cfg.layers_per_block
        g, eps = cfg.norm_num_groups, cfg.norm_eps
        self.resnets = nn.ModuleList(
            ResnetBlock(cin if i == 0 else cout, cout, temb, g, eps) for i in range(n)
        )
        if attend:
            heads, depth = cfg.heads()[level], cfg.transformer_depths()[level]
            self.attentions = nn.ModuleList(
                SpatialTransformer(cout, heads, depth, cfg.cross_attention_dim, cfg)
                for _ in range(n)
            )
        else:
            self.attentions = None  # type: ignore[assignment]
        self.downsamplers = None if last else nn.ModuleList([Downsample(cout)])

    def forward(
        self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpLevel(nn.Module):
    """One up level: layers+1 resnets, each fed the concatenation with a skip (newest first),
    transformers after each if cross-attending, then a 2x nearest upsample unless last."""

    def __init__(
        self,
        cin: int,
        prev: int,
        cout: int,
        cfg: SDUNetConfig,
        level: int,
        temb: int,
        last: bool,
    ) -> None:
        super().__init__()
        n = cfg.layers_per_block + 1
        g, eps = cfg.norm_num_groups, cfg.norm_eps
        resnets = []
        for i in range(n):
            skip = cin if i == n - 1 else cout
            first = prev if i == 0 else cout
            resnets.append(ResnetBlock(first + skip, cout, temb, g, eps))
        self.resnets = nn.ModuleList(resnets)
        if cfg.up_block_types[level] == "CrossAttnUpBlock2D":
            # up level i mirrors down level L-1-i: its heads and depth
            mirror = len(cfg.block_out_channels) - 1 - level
            heads, depth = cfg.heads()[mirror], cfg.transformer_depths()[mirror]
            self.attentions = nn.ModuleList(
                SpatialTransformer(cout, heads, depth, cfg.cross_attention_dim, cfg)
                for _ in range(n)
            )
        else:
            self.attentions = None  # type: ignore[assignment]
        self.upsamplers = None if last else nn.ModuleList([Upsample(cout)])

    def forward(
        self,
        x: torch.Tensor,
        skips: list[torch.Tensor],
        temb: torch.Tensor,
        context: torch.Tensor,
        size: tuple[int, int] | None,
    ) -> torch.Tensor:
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, size)
        return x


class MidBlock(nn.Module):
    def __init__(self, channels: int, cfg: SDUNetConfig, temb: int) -> None:
        super().__init__()
        g, eps = cfg.norm_num_groups, cfg.norm_eps
        heads, depth = cfg.heads()[-1], cfg.transformer_depths()[-1]
        self.resnets = nn.ModuleList(
            [ResnetBlock(channels, channels, temb, g, eps) for _ in range(2)]
        )
        self.attentions = nn.ModuleList(
            [SpatialTransformer(channels, heads, depth, cfg.cross_attention_dim, cfg)]
        )

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class SDUNet(nn.Module):
    """The denoiser eps(x_t, t, text states) (or v, as the scheduler config says)."""

    def __init__(self, config: SDUNetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.block_out_channels
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(config.in_channels, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        levels = len(ch)
        self.down_blocks = nn.ModuleList(
            DownLevel(ch[max(i - 1, 0)], ch[i], config, i, temb, i == levels - 1)
            for i in range(levels)
        )
        self.mid_block = MidBlock(ch[-1], config, temb)
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList(
            UpLevel(
                rev[min(i + 1, levels - 1)],
                rev[max(i - 1, 0)],
                rev[i],
                config,
                i,
                temb,
                i == levels - 1,
            )
            for i in range(levels)
        )
        self.conv_norm_out = nn.GroupNorm(config.norm_num_groups, ch[0], eps=config.norm_eps)
        self.conv_out = nn.Conv2d(ch[0], config.out_channels, 3, padding=1)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        context: torch.Tensor,
        down_residuals: list[torch.Tensor] | None = None,
        mid_residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, in_channels, H, W), t (B,) or scalar timesteps, context (B, tokens, dim)."""
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        ch = self.config.block_out_channels
        emb = timestep_embedding(t, ch[0], self.config.freq_shift).to(x.dtype)
        temb = self.time_embedding(emb)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down_blocks:
            h, got = block(h, temb, context)
            skips += got
        if down_residuals is not None:
            skips = [s + r for s, r in zip(skips, down_residuals, strict=True)]
        h = self.mid_block(h, temb, context)
        if mid_residual is not None:
            h = h + mid_residual
        factor = 2 ** (len(ch) - 1)
        uneven = any(d % factor for d in x.shape[-2:])
        for block in self.up_blocks:
            n = len(block.resnets)
            mine, skips = skips[-n:], skips[:-n]
            size = tuple(skips[-1].shape[-2:]) if uneven and skips else None
            h = block(h, mine, temb, context, size)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# -- original (CompVis / single-file checkpoint) layout ----------------------------------

ORIGINAL_PREFIX = "model.diffusion_model."
EMA_PREFIX = "model_ema."
# LitEma's bookkeeping buffers beside the averaged weights
_EMA_BOOKKEEPING = ("decay", "num_updates")

_TOP_NAMES = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_RESNET_NAMES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_LEVEL_NAME = re.compile(
    r"^(down|up)_blocks\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.+)$"
)
_MID_NAME = re.compile(r"^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$")


def _resnet_leaf(rest: str) -> str:
    part, _, leaf = rest.partition(".")
    return f"{_RESNET_NAMES[part]}.{leaf}"


def _original_name(name: str, config: SDUNetConfig) -> str:
    """diffusers name -> original name.

    The original numbers the down path's steps ``input_blocks.k``: k = 0 is conv_in, then
    per level ``layers_per_block`` resnets (``.0``, with the transformer after it as ``.1``)
    and, except at the last level, the downsampler (``.0.op``). The up path's
    ``output_blocks.k`` has ``layers_per_block + 1`` steps per level, the upsampler sitting
    in the level's last step after the resnet and the transformer (``.1`` or ``.2``).
    The middle is ``middle_block.0`` (resnet), ``.1`` (transformer), ``.2`` (resnet).
    """
    per = config.layers_per_block + 1
    for new, old in _TOP_NAMES.items():
        if name.startswith(new + "."):
            return old + name[len(new) :]
    mid = _MID_NAME.match(name)
    if mid:
        kind, index, rest = mid.group(1), int(mid.group(2)), mid.group(3)
        if kind == "attentions":
            return f"middle_block.1.{rest}"
        return f"middle_block.{2 * index}.{_resnet_leaf(rest)}"
    level = _LEVEL_NAME.match(name)
    if level is None:
        raise ValueError(f"no original name for U-Net tensor '{name}'")
    side, i, kind, j, rest = level.groups()
    i, j = int(i), int(j)
    if side == "down":
        if kind == "downsamplers":  # rest: conv.weight / conv.bias
            return f"input_blocks.{1 + i * per + per - 1}.0.op.{rest.partition('.')[2]}"
        k = 1 + i * per + j
    else:
        if kind == "upsamplers":  # after the transformer when the level has one
            slot = 2 if config.up_block_types[i] == "CrossAttnUpBlock2D" else 1
            return f"output_blocks.{i * per + per - 1}.{slot}.{rest}"
        k = i * per + j
    blocks = "input_blocks" if side == "down" else "output_blocks"
    if kind == "attentions":
        return f"{blocks}.{k}.1.{rest}"
    return f"{blocks}.{k}.0.{_resnet_leaf(rest)}"


def _ema_name(original: str) -> str:
    """LitEma's buffer name for ``diffusion_model.<original>``: the dots dropped."""
    return "diffusion_model" + original.replace(".", "")


def unet_from_original(
    state: Mapping[str, torch.Tensor], config: SDUNetConfig, ema: bool = False
) -> dict[str, torch.Tensor]:
    """Rename an original-layout (CompVis / single-file checkpoint) U-Net state dict to
    diffusers' names, checking every name and shape against ``SDUNet(config)``.

    Accepts the U-Net's own keys (``input_blocks.1.0.in_layers.0.weight``, ...) or a whole
    single-file checkpoint: when any key starts with ``model.diffusion_model.``, only those
    are taken and the prefix is dropped. With ``ema=True`` the exponential moving average
    is taken instead: LitEma's keys, ``model_ema.`` + ``diffusion_model`` + the original
    name without its dots (``model_ema.diffusion_modelinput_blocks10in_layers0weight``),
    with or without the ``model_ema.`` prefix; its ``decay`` and ``num_updates`` are skipped.
    The original and diffusers' tensors have the same shapes (SD 1.x's transformer
    projections are 1x1 convolutions in both, SD 2.x's linear in both).

    Raises:
        WeightsMismatchError: a tensor the config needs is missing, a key is not part of
            the config's U-Net, a shape differs from the config's, or ``ema=True`` for a
            checkpoint without an EMA copy.
    """
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in SDUNet(config).state_dict().items()}
    names = {_original_name(new, config): new for new in shapes}
    what = "original U-Net weights"
    if ema:
        if any(key.startswith(EMA_PREFIX) for key in state):
            state = {k[len(EMA_PREFIX) :]: state[k] for k in state if k.startswith(EMA_PREFIX)}
        state = {k: state[k] for k in state if k not in _EMA_BOOKKEEPING}
        if not any(key.startswith("diffusion_model") for key in state):
            raise WeightsMismatchError(
                "the checkpoint has no EMA copy of the U-Net (model_ema.* keys);"
                " load it without ema to take its model.diffusion_model weights"
            )
        names = {_ema_name(old): new for old, new in names.items()}
        what = "original U-Net EMA weights"
    elif any(key.startswith(ORIGINAL_PREFIX) for key in state):
        state = {
            k[len(ORIGINAL_PREFIX) :]: state[k] for k in state if k.startswith(ORIGINAL_PREFIX)
        }
    for key in names:
        if key not in state:
            raise WeightsMismatchError(
                f"{what} lack '{key}' ({len(names)} expected for this config);"
                " the checkpoint is for another config (levels, layers_per_block, block types)"
            )
    for key in state:
        if key not in names:
            raise WeightsMismatchError(
                f"{what} have '{key}', which this config's U-Net does not have;"
                " check the config (levels, layers_per_block, transformer depths, block types)"
            )
    out: dict[str, torch.Tensor] = {}
    for old, new in names.items():
        tensor = state[old]
        if tuple(tensor.shape) != shapes[new]:
            raise WeightsMismatchError(
                f"{what} have '{old}' of shape {tuple(tensor.shape)} where the config needs"
                f" {shapes[new]}; check block_out_channels, cross_attention_dim, in_channels"
                " and use_linear_projection (SD 1.x: false, SD 2.x: true)"
            )
        out[new] = tensor
    return out
