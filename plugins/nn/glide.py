"""GLIDE's networks: a text transformer and a pixel U-Net whose attention layers read its tokens.

Paper: Nichol, Dhariwal, Ramesh, Shyam, Mishkin, McGrew, Sutskever & Chen, "GLIDE: Towards
Photorealistic Image Generation and Editing with Text-Guided Diffusion Models" (2021),
arXiv:2112.10741, sec. 2.1 and appendix.

The text goes in two ways:

1. the transformer's state at the end-of-text token, projected to the embedding width, is
   added to the timestep embedding (where a class-conditional U-Net adds its class embedding);
2. its per-token states (after a final LayerNorm) are projected, separately for every
   attention layer of the U-Net, to that layer's width and appended to the layer's keys and
   values: the image positions attend to themselves and to the prompt's tokens in one softmax
   (no separate cross-attention layer).

The U-Net is laid out as the improved-DDPM one of ``plugins/nn/unet.py`` (its GroupNorms and
sinusoidal timestep embedding), with ResBlocks whose embedding scales and shifts the normalised
activations (GLIDE's ``use_scale_shift_norm``) and every self-attention replaced by
``TextAttention``.

Where it differs: a few layers tens of channels wide instead of 24 blocks of width 2048;
padding tokens are masked out of the appended keys (GLIDE appends them all); the input may
have extra channels (inpainting: the masked image and the mask; upsampling: the low-resolution
image), which an inpainting model's fine-tuning starts at zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.transformer import Block
from zoo.plugins.nn.unet import Level, norm, timestep_embedding


class ResBlock(nn.Module):
    """Two 3x3 convolutions; the (time + text) embedding scales and shifts the normalised
    activations between them: h = norm(h) (1 + s) + b (improved DDPM's and GLIDE's
    "scale-shift norm"). Adding the embedding before the GroupNorm instead, as
    ``unet.ResBlock`` does, is undone by the norm wherever a group holds one channel."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * cout))
        self.out_norm = norm(cout)
        self.out_layers = nn.Sequential(
            nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1)
        )
        nn.init.zeros_(self.out_layers[-1].weight)  # each block starts as the identity
        nn.init.zeros_(self.out_layers[-1].bias)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_norm(self.in_layers(x)) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class TextTransformer(nn.Module):
    """Token ids (B, L) -> (per-token states (B, L, W), end-of-text state (B, W)).

    Pre-norm transformer blocks over token and learned position embeddings, attending to
    every kept token (not causal); ``keep`` (B, L) bool is False at padding. The pooled state
    is the one at the last kept position, the end-of-text token.
    """

    def __init__(self, vocab_size: int, context: int, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.context = context
        self.token = nn.Embedding(vocab_size, width)
        self.position = nn.Parameter(torch.randn(context, width) * 0.01)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.final_norm = nn.LayerNorm(width)

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.token(ids) + self.position[: ids.shape[1]]
        for block in self.blocks:
            h, _ = block(h, keep=keep)
        h = self.final_norm(h)
        end = keep.long().sum(dim=1).clamp(min=1) - 1
        return h, h[torch.arange(len(h), device=h.device), end]


class TextAttention(nn.Module):
    """Self-attention over the H*W positions with the text tokens' keys and values appended.

    k = [W_k^text s_1..s_L, W_k x_1..x_N], v likewise (GLIDE's ``encoder_kv``); queries come
    from the image alone. Residual, the output projection starting at zero.
    """

    def __init__(self, channels: int, heads: int, text_width: int) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.text_kv = nn.Linear(text_width, 2 * channels)
        self.proj = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, text: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W); text (B, L, text_width) states; keep (B, L) bool."""
        b, c, h, w = x.shape
        n, heads = h * w, self.heads
        q, k, v = self.qkv(self.norm(x).reshape(b, c, n)).chunk(3, dim=1)
        tk, tv = self.text_kv(text).transpose(1, 2).chunk(2, dim=1)  # (B, C, L) each
        k, v = torch.cat([tk, k], dim=2), torch.cat([tv, v], dim=2)

        def split(z: torch.Tensor) -> torch.Tensor:  # (B, C, M) -> (B, heads, M, C/heads)
            return z.reshape(b, heads, c // heads, z.shape[-1]).transpose(2, 3)

        allowed = torch.cat([keep, keep.new_ones(b, n)], dim=1)[:, None, None, :]
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=allowed)
        out = out.transpose(2, 3).reshape(b, c, n)
        return x + self.proj(out).reshape(b, c, h, w)


def _attend(
    attn: nn.Module, h: torch.Tensor, text: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    return attn(h, text, keep) if isinstance(attn, TextAttention) else h


class GlideUNet(nn.Module):
    """eps_theta(x_t, t, text) -> (B, out_channels, H, W).

    Args:
        in_channels: the image's channels, plus any channels concatenated to x_t.
        out_channels: C, or 2C with a learned variance.
        base, mults, num_res_blocks, attention, image_size: as ``unet.UNet``.
        text_width: the width of the text transformer's states.
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
        text_width: int,
        dropout: float = 0.0,
        heads: int = 4,
    ) -> None:
        super().__init__()
        emb_dim = base * 4
        self.base = base
        self.time_embed = nn.Sequential(
            nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.text_embed = nn.Linear(text_width, emb_dim)  # the pooled state, added to emb
        self.stem = nn.Conv2d(in_channels, base, 3, padding=1)

        def attn(width: int, side: int) -> nn.Module:
            return TextAttention(width, heads, text_width) if side in attention else nn.Identity()

        widths = [base * m for m in mults]
        skips, ch, side = [base], base, image_size
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        for i, width in enumerate(widths):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(ch, width, emb_dim, dropout))
                attns.append(attn(width, side))
                ch = width
                skips.append(ch)
            self.down.append(Level(blocks, attns))
            if i < len(widths) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
                side //= 2
        self.mid = nn.ModuleList(
            [
                ResBlock(ch, ch, emb_dim, dropout),
                TextAttention(ch, heads, text_width),
                ResBlock(ch, ch, emb_dim, dropout),
            ]
        )
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, width in reversed(list(enumerate(widths))):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResBlock(ch + skips.pop(), width, emb_dim, dropout))
                attns.append(attn(width, side))
                ch = width
            self.up.append(Level(blocks, attns))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
                side *= 2
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        pooled: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """x (B, in_channels, H, W); t (B,) timesteps; text (B, L, W) and pooled (B, W) from
        ``TextTransformer``; keep (B, L) bool, False at padding."""
        text, pooled = text.to(x.dtype), pooled.to(x.dtype)
        emb = self.time_embed(timestep_embedding(t, self.base).to(x.dtype))
        emb = emb + self.text_embed(pooled)
        h = self.stem(x)
        hs = [h]
        for i, level in enumerate(self.down):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = _attend(attn, block(h, emb), text, keep)
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb), text, keep), emb)
        for i, level in enumerate(self.up):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = _attend(attn, block(torch.cat([h, hs.pop()], dim=1), emb), text, keep)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)

    def text_projections(self) -> list[nn.Linear]:
        """Every attention layer's projection of the text states to its keys and values."""
        return [m.text_kv for m in self.modules() if isinstance(m, TextAttention)]
