"""The pre-norm transformer block the text-reading families share (CLIP's text tower,
DALL-E's decoder): h += attn(LN(h)); h += MLP(LN(h)), with an optional padding mask,
causal attention and a key/value cache for drawing one token at a time."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Past = tuple[torch.Tensor, torch.Tensor]  # keys and values (B, heads, t, width / heads)


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(
        self,
        h: torch.Tensor,
        *,
        keep: torch.Tensor | None = None,
        causal: bool = False,
        past: Past | None = None,
    ) -> tuple[torch.Tensor, Past]:
        """h (B, n, W) at positions p..p+n-1 -> (h', keys/values of positions 0..p+n-1).

        ``keep`` (B, n) bool is False at padding, which is never attended to (no cache);
        ``causal``: position i attends to positions <= i; ``past``: the keys and values
        of positions 0..p-1 from an earlier call.
        """
        b, n, w = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, n, 3, self.heads, w // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, heads, n, W / heads)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        p = k.shape[2] - n
        if keep is not None:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        elif not causal or n == 1:  # one new token may see every earlier one
            a = F.scaled_dot_product_attention(q, k, v)
        elif p == 0:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # query i sits at position p + i and sees keys 0..p + i
            allowed = torch.ones(n, p + n, dtype=torch.bool, device=h.device).tril(p)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        h = h + self.out(a.transpose(1, 2).reshape(b, n, w))
        return h + self.mlp(self.norm2(h)), (k, v)
