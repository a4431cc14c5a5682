"""CLIP: contrastive language-image pre-training, at toy size, for offline metrics.

Paper: Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision" (2021), arXiv:2103.00020. An image tower and a text
tower each map to a shared space; after L2 normalisation the logits of a batch
are s * I T^T with a learned scale s = exp(t) (init 1/0.07, capped at 100), and
the loss is the symmetric cross-entropy of matching images to their captions
and captions to their images (InfoNCE, van den Oord et al. 2018). The text
tower, the scale, the loss and retrieval are ``plugins/nn/clip.py``'s, shared with
the noise-aware CLIP of CLIP guidance (the noisy-clip family).

The CLIP score (Hessel et al. 2021, arXiv:2104.08718) of an image and a text is
max(100 cos(I, T), 0); ``score`` computes it with these towers.

Where it differs from CLIP: the image tower is a small VGG-style CNN (3x3 conv,
batchnorm, ReLU, 2x2 max-pool per stage; the last map flattened so positions
survive), not a ResNet or ViT; the text tower is a 2-block pre-norm
transformer reading a leading start token with bidirectional attention (as
BERT's [CLS]) instead of a causal end token, over CLIP's byte-level BPE learned
from the training captions (``tokenizer: bpe``) or, in the models trained
first, a word vocabulary stored in the config (``tokenizer: words``);
and captions describing the same attributes count as positives in training
(see the recipe).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.clip.config import ClipConfig
from zoo.plugins.nn.clip import ClipTexts, TowerPair
from zoo.plugins.nn.text import make_tokenizer
from zoo.registry.contracts import ReferenceNetwork
from zoo.registry.errors import RequestError


class ImageTower(nn.Module):
    """Images (B, C, S, S) in [0, 1] -> (B, D) unnormalised embeddings."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = config.channels
        for w in config.widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)]
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.body = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.widths)
        self.project = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * side * side, config.num_features),
            nn.ReLU(inplace=True),
            nn.Linear(config.num_features, config.num_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.body(2 * x - 1))


class ClipNetwork(ClipTexts, ReferenceNetwork):
    """A trained CLIP as the metrics see it: image features, text embeddings, CLIP score."""

    family = "clip"
    config_class = ClipConfig
    evaluator = "zoo.plugins.clip.evaluate:evaluate_reference"

    def __init__(self, config: ClipConfig) -> None:
        super().__init__(config)
        self.net = TowerPair(ImageTower(config), config)
        self.tokenizer = make_tokenizer(config)

    def networks(self) -> dict[str, nn.Module]:
        return {"clip": self.net}

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config
        want = (c.channels, c.image_size, c.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != want:
            raise RequestError(
                f"clip takes images (B, {want[0]}, {want[1]}, {want[2]}); got "
                f"{tuple(images.shape)}; resize them to {c.image_size}x{c.image_size} first"
            )
        return images.to(device=self._device(), dtype=self.net.log_scale.dtype)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, num_features) unit-length image embeddings."""
        return F.normalize(self.net.image(self._prepare(images)), dim=-1)

    def score(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """CLIP score of each image with its text: (B,) max(100 cos, 0)."""
        if len(texts) != len(images):
            raise RequestError(
                f"score takes one text per image; got {len(texts)} for {len(images)}"
            )
        cos = (self.features(images) * self.encode_text(texts)).sum(-1)
        return (100 * cos).clamp(min=0)
