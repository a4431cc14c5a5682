"""CLIP: contrastive language-image pre-training, at toy size, for offline metrics.

Paper: Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision" (2021), arXiv:2103.00020. An image tower and a text
tower each map to a shared space; after L2 normalisation the logits of a batch
are s * I T^T with a learned scale s = exp(t) (init 1/0.07, capped at 100), and
the loss is the symmetric cross-entropy of matching images to their captions
and captions to their images (InfoNCE, van den Oord et al. 2018).

The CLIP score (Hessel et al. 2021, arXiv:2104.08718) of an image and a text is
max(100 cos(I, T), 0); ``score`` computes it with these towers.

Where it differs from CLIP: the image tower is a small VGG-style CNN (3x3 conv,
batchnorm, ReLU, 2x2 max-pool per stage; the last map flattened so positions
survive), not a ResNet or ViT; the text tower is a 2-block pre-norm
transformer over a word vocabulary (the scenes' synonym tables and templates,
stored in the config) instead of byte-pair tokens, reading a leading BOS token
with bidirectional attention (as BERT's [CLS]) instead of a causal EOS token;
and captions describing the same attributes count as positives in training
(see the recipe).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.clip.config import ClipConfig
from zoo.plugins.nn.text import PAD, WordTokenizer
from zoo.plugins.nn.transformer import Block
from zoo.registry.contracts import ReferenceNetwork
from zoo.registry.errors import RequestError

MAX_LOGIT_SCALE = 100.0  # CLIP clips exp(t) here so training stays stable


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


class TextTower(nn.Module):
    """Token ids (B, T), BOS first, 0-padded -> (B, D) unnormalised embeddings."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        width = config.text_width
        self.token = nn.Embedding(len(WordTokenizer(config.vocabulary)), width)
        self.position = nn.Parameter(0.02 * torch.randn(config.max_tokens, width))
        self.blocks = nn.ModuleList(
            Block(width, config.text_heads) for _ in range(config.text_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.project = nn.Linear(width, config.num_features, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        keep = ids != PAD
        h = self.token(ids) + self.position[: ids.shape[1]]
        for block in self.blocks:
            h, _ = block(h, keep=keep)
        return self.project(self.norm(h[:, 0]))  # BOS has attended to the whole text


class ClipModel(nn.Module):
    """Both towers and the learned log logit scale t (s = exp(t))."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.image = ImageTower(config)
        self.text = TextTower(config)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

    def logit_scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()


class ClipNetwork(ReferenceNetwork):
    """A trained CLIP as the metrics see it: image features, text embeddings, CLIP score."""

    family = "clip"
    config_class = ClipConfig
    evaluator = "zoo.plugins.clip.evaluate:evaluate_reference"

    def __init__(self, config: ClipConfig) -> None:
        super().__init__(config)
        self.net = ClipModel(config)
        self.tokenizer = WordTokenizer(config.vocabulary)

    def networks(self) -> dict[str, nn.Module]:
        return {"clip": self.net}

    def _device(self) -> torch.device:
        return self.net.log_scale.device

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Texts -> ids (N, T) int64: BOS, then one id per word (UNK if unknown), 0-padded
        to the longest (``WordTokenizer``: a plural the vocabulary lacks falls back to its
        singular, "circles" -> circle); texts longer than ``max_tokens`` - 1 words are cut.
        """
        if isinstance(texts, str):
            raise RequestError(
                "encode_text takes a list of strings, not one string; wrap it: [text]"
            )
        return self.tokenizer(texts, self.config.max_tokens).to(self._device())

    def check_prompt(self, text: str, example: str | None = None) -> None:
        """Refuse a prompt with a word outside the vocabulary, no word, or more words than
        ``max_tokens`` - 1 (``WordTokenizer.check_prompt``); ``encode_text`` itself reads
        any text (unknown words as UNK), as the metrics need for a dataset's captions."""
        self.tokenizer.check_prompt(text, self.config.max_tokens - 1, example)

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

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """N texts -> (N, num_features) unit-length text embeddings (empty text allowed)."""
        return F.normalize(self.net.text(self.tokenize(texts)), dim=-1)

    def score(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """CLIP score of each image with its text: (B,) max(100 cos, 0)."""
        if len(texts) != len(images):
            raise RequestError(
                f"score takes one text per image; got {len(texts)} for {len(images)}"
            )
        cos = (self.features(images) * self.encode_text(texts)).sum(-1)
        return (100 * cos).clamp(min=0)
