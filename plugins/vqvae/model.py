"""VQ-VAE: an autoencoder with a discrete bottleneck, and a PixelCNN prior over its codes.

Paper: van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning"
(2017), arXiv:1711.00937; the seeds, §1.2.4 and §1.4. The encoder maps an image to a grid
of vectors z_e(x) (B, D, g, g); each vector is replaced by its nearest codebook entry,
z_q = e_k with k = argmin_j ||z_e - e_j||; the decoder maps z_q back to an image. The
nearest-neighbour step has no gradient, so the decoder's gradient is copied to the
encoder unchanged (straight-through: z_e + sg[z_q - z_e]). Loss (the seeds' formula (2)):

    L = ||x - D(z_q)||^2 + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2,   beta = 0.25

(reconstruction, codebook loss pulling the entries towards the encoder outputs,
commitment loss keeping the encoder near its entries). During that training the prior
over codes is uniform. A second stage fits an autoregressive prior p(k) = prod_t
p(k_t | k_<t) over the code grid in raster order with cross-entropy (the seeds' formula
(3)) on the codes of training images; sampling draws codes from it one at a time and
decodes them. The prior is a gated PixelCNN (van den Oord et al., "Conditional Image
Generation with PixelCNN Decoders" (2016), arXiv:1606.05328): a vertical stack that sees
the rows above and a horizontal stack that sees the current row to the left, joined by
gated units tanh(W_f * x) . sigmoid(W_g * x); the first layer's masks exclude the
current position (mask A), later layers include it (mask B) (van den Oord et al.,
"Pixel Recurrent Neural Networks" (2016), arXiv:1601.06759). The two stacks remove the
blind spot of a plain masked-convolution PixelCNN.

Where it differs, at toy scale: 32x32 images on an 8x8 grid of K = 128 codes of width
D = 32 (the paper: 128x128 ImageNet on 32x32 codes, K = 512); channels 64 (the paper:
256); reconstruction is mean squared error on [0, 1] pixels; the codebook learns through
the codebook loss (no EMA updates) but codes no batch has chosen for ``restart_after``
steps are moved onto a random encoder output of the current batch during the first part
of training (random restarts, as in Dhariwal et al., "Jukebox" (2020), arXiv:2005.00341;
not in the paper); the PixelCNN is unconditional, has a few gated layers and no skip
connections, and its masks are applied by cutting the kernels to the allowed window
(the same function as a masked full kernel, without the zero weights); both stages run
in one ``zoo train`` call, one after the other.

Latents (the ``Autoencoder`` side): ``encode`` returns the quantised latents z_q (B, D,
g, g) float, so that ``zoo interpolate`` mixes them linearly; ``codes`` returns the
indices (B, g, g) int64. ``decode`` takes either: float z_q (B, D, g, g), or integer
codes (B, g, g) or (B, g * g) in raster order, the form the ``ar`` sampler hands over.
``random_latents`` are codes drawn uniformly (the prior of the first stage), looked up.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.autoencoder import ResBlock
from zoo.plugins.vqvae.config import VQVAEConfig
from zoo.registry.contracts import Autoencoder, AutoregressiveGenerator
from zoo.registry.errors import RequestError

# -- the VQ-VAE ---------------------------------------------------------------------------


class Encoder(nn.Module):
    """(B, C, S, S) in [0, 1] -> z_e (B, D, S/4, S/4): two stride-2 4x4 convs, residual blocks."""

    def __init__(self, c: VQVAEConfig) -> None:
        super().__init__()
        h = c.hidden
        self.net = nn.Sequential(
            nn.Conv2d(c.channels, h, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(h, h, 4, stride=2, padding=1),
            *[ResBlock(h) for _ in range(c.res_blocks)],
            nn.ReLU(),
            nn.Conv2d(h, c.code_dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


class Decoder(nn.Module):
    """z (B, D, g, g) -> images (B, C, 4g, 4g), about [0, 1] (unclamped; clamp to show)."""

    def __init__(self, c: VQVAEConfig) -> None:
        super().__init__()
        h = c.hidden
        self.net = nn.Sequential(
            nn.Conv2d(c.code_dim, h, 3, padding=1),
            *[ResBlock(h) for _ in range(c.res_blocks)],
            nn.ReLU(),
            nn.ConvTranspose2d(h, h, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(h, c.channels, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z) + 0.5


class VectorQuantizer(nn.Module):
    """The codebook: K entries e_j of width D, and the nearest-entry bottleneck."""

    def __init__(self, codebook_size: int, code_dim: int) -> None:
        super().__init__()
        self.codebook = nn.Embedding(codebook_size, code_dim)
        nn.init.uniform_(self.codebook.weight, -1 / codebook_size, 1 / codebook_size)

    def codes(self, z_e: torch.Tensor) -> torch.Tensor:
        """z_e (B, D, g, g) -> k (B, g, g) int64, k = argmin_j ||z_e - e_j||^2 per cell."""
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        e = self.codebook.weight
        # ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2; ||z||^2 is the same for every j of a row
        dist = (e * e).sum(1)[None] - 2 * flat @ e.t()
        return dist.argmin(1).view(b, h, w)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """k (B, g, g) int64 -> z_q (B, D, g, g)."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def forward(
        self, z_e: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """z_e -> (z_q with the straight-through gradient, codes, codebook loss, commitment loss).

        codebook loss = ||sg[z_e] - e||^2 (moves the entries), commitment loss = ||z_e -
        sg[e]||^2 (moves the encoder), both as means over cells and dimensions.
        """
        codes = self.codes(z_e)
        z_q = self.lookup(codes)
        codebook_loss = F.mse_loss(z_q, z_e.detach())
        commit_loss = F.mse_loss(z_e, z_q.detach())
        z_q_st = z_e + (z_q - z_e).detach()  # forward: z_q; backward: identity onto z_e
        return z_q_st, codes, codebook_loss, commit_loss


class VQVAE(nn.Module):
    """Encoder, codebook and decoder."""

    def __init__(self, c: VQVAEConfig) -> None:
        super().__init__()
        self.encoder = Encoder(c)
        self.quantizer = VectorQuantizer(c.codebook_size, c.code_dim)
        self.decoder = Decoder(c)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass: {"recon" (unclamped), "z_e", "codes", "codebook", "commit"}."""
        z_e = self.encoder(x)
        z_q, codes, codebook_loss, commit_loss = self.quantizer(z_e)
        return {
            "recon": self.decoder(z_q),
            "z_e": z_e,
            "codes": codes,
            "codebook": codebook_loss,
            "commit": commit_loss,
        }


# -- the gated PixelCNN prior ----------------------------------------------------------------


class CausalConv2d(nn.Conv2d):
    """A same-size convolution that sees only the cells a PixelCNN mask allows.

    ``stack="vertical"``: the k x k window's rows above the centre; ``"horizontal"``: the
    1 x k window's cells left of the centre. With ``centre`` (mask B) it also sees the
    centre row (vertical) or the centre cell (horizontal); without it (mask A) it does
    not. Instead of multiplying a full kernel by a 0/1 mask, the kernel is cut to the
    allowed block and the input padded above / to the left only: the same function,
    without the always-zero weights.
    """

    def __init__(self, cin: int, cout: int, k: int, stack: str, centre: bool) -> None:
        r = k // 2
        reach = r + (1 if centre else 0)  # rows (vertical) or columns (horizontal) it sees
        super().__init__(cin, cout, (reach, k) if stack == "vertical" else (1, reach))
        # F.pad order (left, right, top, bottom); with mask A the output comes out one
        # row / column too long and its last one (which would see the centre) is cut
        self.pad = (r, r, r, 0) if stack == "vertical" else (r, 0, 0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return super().forward(F.pad(x, self.pad))[..., :h, :w]


def gate(x: torch.Tensor) -> torch.Tensor:
    """tanh(a) * sigmoid(b) for the two halves (a, b) of the channels."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated PixelCNN layer: (v, h) -> (v', h').

    After any layer, v (vertical stack) at cell (i, j) depends only on the codes in rows
    < i, and h (horizontal stack) on those and the codes (i, < j): the first layer's
    masks (A) exclude row i from v and cell (i, j) from h; later layers' masks (B) only
    pass on v from rows <= i and h from cells (i, <= j), which already obey the rule.
    The vertical features join the horizontal stack through a 1x1 convolution at the
    same cell, so no shift is needed.
    """

    def __init__(self, channels: int, kernel: int, first: bool) -> None:
        super().__init__()
        c = channels
        self.v = CausalConv2d(c, 2 * c, kernel, "vertical", centre=not first)
        self.h = CausalConv2d(c, 2 * c, kernel, "horizontal", centre=not first)
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        self.residual = not first  # the first layer's input holds the code at (i, j) itself

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fv = self.v(v)
        fh = self.h(h) + self.v_to_h(fv)
        out = self.h_out(gate(fh))
        return gate(fv), (h + out if self.residual else out)


class PixelCNN(nn.Module):
    """Codes (B, r, g) int64 -> logits (B, K, r, g); the logits at cell (i, j) depend only on
    the codes before it in raster order (rows < i, and row i left of j)."""

    def __init__(self, c: VQVAEConfig) -> None:
        super().__init__()
        w = c.prior_channels
        self.embed = nn.Embedding(c.codebook_size, w)
        self.layers = nn.ModuleList(
            GatedLayer(w, c.prior_first_kernel if i == 0 else c.prior_kernel, first=i == 0)
            for i in range(c.prior_layers)
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(w, w, 1), nn.ReLU(), nn.Conv2d(w, c.codebook_size, 1)
        )

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.from_embeddings(self.embed(codes).permute(0, 3, 1, 2))

    def from_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The network after the code embedding: (B, channels, r, g) -> logits (B, K, r, g)."""
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h)


# -- the generator ---------------------------------------------------------------------------


class VQVAEGenerator(AutoregressiveGenerator, Autoencoder):
    family = "vqvae"
    capabilities = ("unconditional",)
    config_class = VQVAEConfig

    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__(config)
        self.vqvae = VQVAE(config)
        self.prior = PixelCNN(config)

    def networks(self) -> dict[str, nn.Module]:
        return {"vqvae": self.vqvae, "prior": self.prior}

    def _param(self) -> torch.Tensor:
        return self.vqvae.quantizer.codebook.weight

    # -- AutoregressiveGenerator: codes in raster order, drawn from the PixelCNN

    def sequence_length(self) -> int:
        return self.config.tokens

    def vocab_size(self) -> int:
        return self.config.codebook_size

    def next_logits(
        self, tokens: torch.Tensor, context: dict[str, Any], state: dict[str, Any]
    ) -> torch.Tensor:
        """Logits (B, K) of code t = tokens.shape[1] given the codes before it.

        The grid is filled with the known codes in raster order (zeros after them, which
        the PixelCNN never reads for cell t) and only the rows up to t's row are run:
        rows below cannot reach it. Nothing is cached.
        """
        g, length = self.config.grid, self.config.tokens
        if tokens.ndim != 2 or tokens.shape[1] >= length:
            raise RequestError(
                f"next_logits takes (B, t) codes with t < {length}; got {tuple(tokens.shape)}"
            )
        b, t = tokens.shape
        row = t // g
        grid = torch.zeros(b, (row + 1) * g, dtype=torch.long, device=self._param().device)
        grid[:, :t] = tokens.to(grid.device)
        logits = self.prior(grid.view(b, row + 1, g))
        return logits[:, :, row, t % g].float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images (B, C, S, S) in [0, 1] from z_q (B, D, g, g) float, or from integer codes
        (B, g, g) or (B, g * g) in raster order."""
        c = self.config
        if latents.is_floating_point():
            if latents.ndim != 4 or tuple(latents.shape[1:]) != self.latent_shape():
                raise RequestError(
                    f"vqvae decodes latents of shape (B, {c.code_dim}, {c.grid}, {c.grid}) or "
                    f"codes of shape (B, {c.tokens}); got {tuple(latents.shape)}"
                )
            z_q = latents.to(self._param())
        else:
            z_q = self.vqvae.quantizer.lookup(self._check_codes(latents))
        return self.vqvae.decoder(z_q).clamp(0, 1)

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        c = self.config
        shape = tuple(codes.shape[1:])
        if codes.ndim not in (2, 3) or shape not in ((c.tokens,), (c.grid, c.grid)):
            raise RequestError(
                f"vqvae decodes codes of shape (B, {c.tokens}) or (B, {c.grid}, {c.grid}); "
                f"got {tuple(codes.shape)}"
            )
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= c.codebook_size):
            raise RequestError(f"codes must lie in 0..{c.codebook_size - 1}")
        return codes.to(self._param().device, torch.long).reshape(-1, c.grid, c.grid)

    # -- Autoencoder: the VQ-VAE alone

    def _check_images(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config
        if images.ndim != 4 or tuple(images.shape[1:]) != (c.channels, c.image_size, c.image_size):
            raise RequestError(
                f"vqvae encodes images of shape (B, {c.channels}, {c.image_size}, "
                f"{c.image_size}); got {tuple(images.shape)}"
            )
        return images.to(self._param())

    def codes(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> code indices (B, g, g) int64."""
        return self.vqvae.quantizer.codes(self.vqvae.encoder(self._check_images(images)))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> quantised latents z_q (B, D, g, g)."""
        return self.vqvae.quantizer.lookup(self.codes(images))

    def latent_shape(self) -> tuple[int, ...]:
        c = self.config
        return (c.code_dim, c.grid, c.grid)

    def random_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """z_q of codes drawn uniformly from the K entries, (n, D, g, g): what the VQ-VAE alone
        assumes; sampling through the prior is ``zoo sample``."""
        g = self.config.grid
        codes = torch.randint(self.config.codebook_size, (n, g, g), generator=generator)
        with torch.no_grad():
            return self.vqvae.quantizer.lookup(codes.to(self._param().device))
