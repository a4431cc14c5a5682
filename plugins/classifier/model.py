"""Classifier: a small CNN that stands in for Inception-v3 when the metrics run offline.

FID (Heusel et al. 2017, arXiv:1706.08500), KID and precision/recall compare
feature statistics of real and generated images, and the Inception Score
(Salimans et al. 2016, arXiv:1606.03498) reads class probabilities; both were
defined with Inception-v3 (Szegedy et al. 2016) trained on ImageNet. That
network is neither available offline nor meaningful on 16x16 digits, so each
dataset gets its own classifier: ``features`` is the penultimate layer (the
analogue of Inception's 2048-d pool), ``logits`` the class head.

Architecture: VGG-style stages (Simonyan & Zisserman 2014, arXiv:1409.1556) of
``depth`` 3x3 convolutions with batchnorm (Ioffe & Szegedy 2015) and ReLU, then a
2x2 max-pool; the last map is flattened (not averaged, so where things are
survives: the scenes' positions and relations are labels) and projected to
``num_features``. One linear head per target.

Where it differs from Inception: tiny, trained on the dataset it judges, and
for the scenes one head per attribute instead of one softmax over classes; the
scenes' class (object 1's colour-shape pair, 24 classes) is read from the
shape and colour heads as log p(shape) + log p(colour), so the three pairs
never seen in training still get sensible logits. Two choices make the scenes
heads judge what an image shows: the objects of a two-object scene are named
in a canonical order (``canonical_order``), and the recipe shuffles the RGB
channels of half the images for every head but colour, so shape is learned
apart from colour (the shape of a held-out pair such as a red triangle is
read right 99.8% of the time, against 60% without).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.classifier.config import ClassifierConfig
from zoo.plugins.nn.scenes import canonical_order
from zoo.registry.contracts import ReferenceNetwork
from zoo.registry.errors import RequestError

# Scene columns that are absent (-1) when a scene has one object.
SECOND_OBJECT = ("shape2", "colour2", "size2", "position2", "relation")


class ConvClassifier(nn.Module):
    """Images (B, C, S, S) in [0, 1] -> {head: logits (B, K_head)}."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = config.channels
        for w in config.widths:
            for _ in range(config.depth):
                # no bias: batchnorm's shift replaces it
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)]
                layers += [nn.ReLU(inplace=True)]
                c = w
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.widths)
        self.project = nn.Sequential(
            nn.Flatten(), nn.Linear(c * side * side, config.num_features), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict(
            {name: nn.Linear(config.num_features, k) for name, k in config.heads.items()}
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> penultimate activations (B, num_features), >= 0."""
        return self.project(self.body(2 * x - 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.dropout(self.features(x))
        return {name: head(h) for name, head in self.heads.items()}


class ClassifierNetwork(ReferenceNetwork):
    """A trained classifier as the metrics see it: features, class logits, attributes."""

    family = "classifier"
    config_class = ClassifierConfig
    evaluator = "zoo.plugins.classifier.evaluate:evaluate_reference"

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__(config)
        self.net = ConvClassifier(config)

    def networks(self) -> dict[str, nn.Module]:
        return {"classifier": self.net}

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config
        want = (c.channels, c.image_size, c.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != want:
            raise RequestError(
                f"classifier takes images (B, {want[0]}, {want[1]}, {want[2]}); got "
                f"{tuple(images.shape)}; resize them to {c.image_size}x{c.image_size} first"
            )
        p = next(self.net.parameters())
        return images.to(device=p.device, dtype=p.dtype)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, num_features) penultimate activations."""
        return self.net.features(self._prepare(images))

    def head_logits(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, C, S, S) in [0, 1] -> {head: (B, K_head) logits}, without dropout."""
        h = self.features(images)
        return {name: head(h) for name, head in self.net.heads.items()}

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> class logits (B, K) for the Inception Score.

        One label head: its logits. Several: the joint log-probability
        sum_j log p_j(k_j), flattened with the first head varying slowest (for the
        scenes, index shape1 * 6 + colour1, the dataset's ``label``).
        """
        heads = self.head_logits(images)
        names = self.config.label_heads
        if len(names) == 1:
            return heads[names[0]]
        joint = F.log_softmax(heads[names[0]], dim=1)
        for name in names[1:]:
            lp = F.log_softmax(heads[name], dim=1)
            joint = (joint[:, :, None] + lp[:, None, :]).flatten(1)
        return joint

    def canonical(self, attributes: torch.Tensor) -> torch.Tensor:
        """Attributes (N, K) int64 in the order this classifier predicts them.

        With ``canonical_order`` (scenes): object 1 is the left or upper object
        (see ``canonical_order``); compare ``predict_attributes`` with
        ``canonical(truth)``, never with the raw truth. Otherwise unchanged.
        """
        return canonical_order(attributes) if self.config.canonical_order else attributes

    def predict_attributes(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, K) int64 predicted attribute columns, in head order.

        As in the scenes' data, object 2's columns and the relation are -1 where
        the count head says one object; the objects come in ``canonical`` order.
        """
        if self.config.target != "attributes":
            raise RequestError(
                f"this classifier predicts '{self.config.target}', not attributes; "
                "use a scenes classifier (classifier-scenes)"
            )
        heads = self.head_logits(images)
        names = list(heads)
        out = torch.stack([heads[n].argmax(1) for n in names], dim=1)
        if "count" in heads:
            one = out[:, names.index("count")] < 2
            for name in SECOND_OBJECT:
                if name in heads:
                    out[one, names.index(name)] = -1
        return out
