"""StackGAN: text-to-image synthesis in two stages.

Paper: Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis with
Stacked Generative Adversarial Networks" (2017), arXiv:1612.03242.

- Text embedding: the paper uses a pretrained, frozen char-CNN-RNN encoder; here
  the frozen text tower of the zoo's CLIP for the dataset (``text_encoder``,
  clip-scenes), loaded through the zoo and kept out of this model's weights. The
  CLIP's tokenizer is this model's: prompts meet its rules (``check_prompt``), and a
  StackGAN trained on a BPE CLIP reads any text.
- Conditioning Augmentation: c ~ N(mu(e), diag(sigma(e)^2)) with mu, log sigma^2 a
  linear map of the embedding e, plus kl_weight * KL(N(mu, sigma^2) || N(0, I)) in
  G's loss; it makes the few embeddings a dataset has cover a smooth neighbourhood.
- Stage-I: [z, c] -> a low-resolution image (image_size / 2) with the scene's
  rough shapes and colours. Stage-II: encodes the Stage-I image, reads the text
  again through its own CA, adds it to every position, refines with residual
  blocks and upsamples to image_size.
- Discriminators are matching-aware: they see the compressed text beside the
  image features, and are taught that real images with *mismatched* text are
  fake too, so G must follow the text, not only look real.
- Training as in the paper: Stage-I first, then Stage-II with Stage-I frozen
  (``stage1_fraction`` of the steps each), Adam 2e-4, betas (0.5, 0.999).

Where it differs: 16x16 -> 32x32 scenes (the paper: 64 -> 256 birds and
flowers); batch norm uses running statistics at sampling; the CA noise and z of
an image come from its seed. The KL weight is 0.005, not the paper's 1 (KL
summed over c_dim): at 1 the KL holds mu near 0, c is mostly noise and G
ignores the text. The text embedding is scaled to unit-variance components and
the CA layer keeps a fan-in initialisation (see ``embed``). Stage-I colour of
"a large <colour> <shape>" after 1500 steps (chance 0.17): 0.17 as in the paper,
0.26 with the scaling, 0.22 at weight 0.02 without it, 0.96 with both changes.
``--stage 1`` returns the Stage-I image, scaled up (nearest neighbour) to the
output size so both stages share a shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan import dcgan_init, to_unit
from zoo.plugins.nn.text import PerRequest
from zoo.plugins.stackgan.config import StackGANConfig, StackGANOptions
from zoo.registry.contracts import Conditions, OneShotGenerator
from zoo.registry.errors import RequestError
from zoo.registry.options import Options
from zoo.registry.seeds import stream_seed

EXAMPLE_PROMPT = "a large red circle above a small blue square"


def up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CondAugment(nn.Module):
    """e (B, text_dim) -> (c, mu, logvar); c = mu + sigma * eps with eps given or drawn."""

    def __init__(self, text_dim: int, c_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, 2 * c_dim)

    def forward(
        self, e: torch.Tensor, eps: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = F.leaky_relu(self.fc(e), 0.2).chunk(2, dim=1)
        eps = torch.randn_like(mu) if eps is None else eps
        return mu + torch.exp(0.5 * logvar) * eps, mu, logvar


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)), summed over dimensions, mean over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()


class Stage1(nn.Module):
    """(z, e, eps) -> image at image_size / 2 in [-1, 1], mu, logvar."""

    def __init__(self, c: StackGANConfig):
        super().__init__()
        self.ca = CondAugment(c.text_dim, c.c_dim)
        ups = (c.image_size // 2).bit_length() - 3  # 4x4 -> image_size / 2
        ch = c.g_channels * 2**ups
        self.fc = nn.Sequential(
            nn.Linear(c.latent_dim + c.c_dim, ch * 16, bias=False),
            nn.BatchNorm1d(ch * 16),
            nn.ReLU(True),
        )
        layers = []
        for _ in range(ups):
            layers.append(up(ch, ch // 2))
            ch //= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(ch, c.channels, 3, 1, 1), nn.Tanh())
        self.width = c.g_channels * 2**ups
        dcgan_init(self)
        self.ca.fc.reset_parameters()  # fan-in init: the text is heard from the first step

    def forward(self, z: torch.Tensor, e: torch.Tensor, eps: torch.Tensor | None = None) -> Any:
        c, mu, logvar = self.ca(e, eps)
        h = self.fc(torch.cat([z, c], 1)).view(len(z), self.width, 4, 4)
        return self.body(h), mu, logvar


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Stage2(nn.Module):
    """(Stage-I image, e, eps) -> image at image_size in [-1, 1], mu, logvar."""

    def __init__(self, c: StackGANConfig):
        super().__init__()
        ch = c.g_channels * 2
        self.ca = CondAugment(c.text_dim, c.c_dim)
        self.encode = nn.Sequential(  # image_size/2 -> image_size/4
            nn.Conv2d(c.channels, c.g_channels, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(c.g_channels, ch, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        )
        self.joint = nn.Sequential(
            nn.Conv2d(ch + c.c_dim, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)
        )
        self.res = nn.Sequential(ResBlock(ch), ResBlock(ch))
        self.decode = nn.Sequential(
            up(ch, ch // 2),
            up(ch // 2, ch // 4),
            nn.Conv2d(ch // 4, c.channels, 3, 1, 1),
            nn.Tanh(),
        )
        dcgan_init(self)
        self.ca.fc.reset_parameters()

    def forward(self, low: torch.Tensor, e: torch.Tensor, eps: torch.Tensor | None = None) -> Any:
        c, mu, logvar = self.ca(e, eps)
        h = self.encode(low)
        h = self.joint(torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1))
        return self.decode(self.res(h)), mu, logvar


class StackGANNetwork(nn.Module):
    def __init__(self, c: StackGANConfig):
        super().__init__()
        self.stage1 = Stage1(c)
        self.stage2 = Stage2(c)


class StackGANGenerator(OneShotGenerator):
    family = "stackgan"
    capabilities = ("text",)
    config_class = StackGANConfig
    options_class = StackGANOptions

    def __init__(self, config: StackGANConfig) -> None:
        super().__init__(config)
        self.net = StackGANNetwork(config)
        self._prompt = PerRequest()

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def example_request(self) -> dict[str, Any]:
        return {"prompt": EXAMPLE_PROMPT}

    def component_refs(self) -> dict[str, str]:
        return {"text_encoder": self.config.text_encoder}

    def text_encoder(self) -> Any:
        """The frozen CLIP of ``config.text_encoder`` (a component the app loads)."""
        return self.component("text_encoder")

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Texts -> e (B, text_dim): the encoder's unit vectors scaled by sqrt(text_dim).

        The scale gives e's components unit variance, as a fan-in initialised layer
        expects; left as unit vectors (components ~ 0.09), the CA's mu starts far
        below its unit noise and G learns to ignore the text.
        """
        with torch.inference_mode():
            e = self.text_encoder().encode_text(texts)
        if e.shape[1] != self.config.text_dim:
            raise RequestError(
                f"{self.config.text_encoder} gives {e.shape[1]}-d text embeddings; this model "
                f"expects {self.config.text_dim}"
            )
        return e.clone() * self.config.text_dim**0.5

    def _read_prompt(self, prompt: str) -> torch.Tensor:
        """(1, text_dim) embedding of a prompt that meets the text encoder's rules."""
        self.text_encoder().check_prompt(prompt, EXAMPLE_PROMPT)
        return self.embed([prompt])

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """The prompt's embedding per image and each image's CA noise (two draws: a stage each)."""
        if not isinstance(options, StackGANOptions):
            options = StackGANOptions()
        prompt = conditions.prompt
        if prompt is None:
            raise RequestError(
                f"stackgan draws what a caption says: pass --prompt '{EXAMPLE_PROMPT}'"
            )
        e = self._prompt(conditions, lambda: self._read_prompt(prompt)).expand(len(seeds), -1)
        eps = []
        for s in seeds:
            g = torch.Generator().manual_seed(stream_seed(s, "stackgan.augmentation"))
            eps.append(torch.randn(2, self.config.c_dim, generator=g))
        eps_t = torch.stack(eps)
        return {"text": e, "eps1": eps_t[:, 0], "eps2": eps_t[:, 1], "stage": options.stage or 2}

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        e = conditions.get("text")
        if e is None:
            raise RequestError("stackgan needs conditions['text'] (one embedding per image)")
        dev, dt = z.device, z.dtype
        e = e.to(dev, dt)
        eps1 = conditions.get("eps1")
        eps2 = conditions.get("eps2")
        low, _, _ = self.net.stage1(z, e, None if eps1 is None else eps1.to(dev, dt))
        if conditions.get("stage", 2) == 1:
            size = self.config.image_size
            return to_unit(F.interpolate(low, size=(size, size), mode="nearest"))
        high, _, _ = self.net.stage2(low, e, None if eps2 is None else eps2.to(dev, dt))
        return to_unit(high)
