"""Classifier configuration: the CNN's shape, its output heads and the recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from zoo.plugins.nn.scenes import ATTRIBUTES, VOCAB
from zoo.registry.contracts import FamilyConfig

# One head per column of the scenes' attribute vector, sized by its vocabulary.
SCENE_HEADS: dict[str, int] = {name: len(VOCAB[name]) for name in ATTRIBUTES}


class ClassifierConfig(FamilyConfig):
    """A small CNN classifier. The field defaults are the digits model (preset "digits")."""

    image_size: int = Field(default=16, ge=4, le=256, description="image side the net takes")
    channels: int = Field(default=1, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    widths: tuple[int, ...] = Field(
        default=(32, 64),
        min_length=1,
        max_length=6,
        description="channels of each stage (``depth`` 3x3 convs, then a 2x2 max-pool)",
    )
    depth: int = Field(default=2, ge=1, le=4, description="3x3 convolutions per stage")
    num_features: int = Field(
        default=64, ge=2, le=1024, description="width of the penultimate layer (the features)"
    )
    dropout: float = Field(default=0.2, ge=0, lt=1, description="dropout on the features")
    target: Literal["label", "attributes"] = Field(
        default="label",
        description="what the heads predict: the batch's 'label' (one head) or its "
        "'attributes' columns (one head per column, in order)",
    )
    heads: dict[str, int] = Field(
        default={"label": 10},
        min_length=1,
        description="output heads, name -> number of classes (attribute heads in column order)",
    )
    label_heads: tuple[str, ...] = Field(
        default=("label",),
        min_length=1,
        description="heads whose joint log-probabilities are the class logits (the first varies "
        "slowest): ('label',) for digits, ('shape1', 'colour1') for the scenes' label",
    )
    canonical_order: bool = Field(
        default=False,
        description="scenes: name the two objects in a fixed order (object 1 left of or above "
        "object 2), since an image cannot show which one a caption named first",
    )
    lr: float = Field(default=2e-3, gt=0, le=1, description="AdamW peak learning rate")
    weight_decay: float = Field(default=5e-4, ge=0, le=1, description="AdamW weight decay")
    warmup: int = Field(default=100, ge=0, description="linear warm-up steps before cosine decay")
    augment_shift: float = Field(
        default=0.1, ge=0, le=0.5, description="random shift, as a fraction of the image side"
    )
    augment_rotate: float = Field(default=10.0, ge=0, le=45, description="random rotation, degrees")
    augment_scale: float = Field(default=0.1, ge=0, le=0.5, description="random zoom, +- fraction")
    colour_heads: tuple[str, ...] = Field(
        default=(),
        description="heads that read colour; see colour_shuffle",
    )
    colour_shuffle: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="fraction of each batch whose RGB channels are shuffled per image, with "
        "their colour_heads targets ignored: the other heads learn shape, size and place "
        "apart from colour",
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=2000, ge=1, description="training steps (also sets the LR schedule)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"image_size": 8, "widths": (4,), "num_features": 8, "batch_size": 8, "steps": 2},
        "digits": {},
        "default": {},
        "scenes": {
            "image_size": 32,
            "channels": 3,
            "widths": (32, 64, 128),
            "depth": 1,  # one conv per stage: 4 steps/s on one busy core, 99.9% on test
            "num_features": 128,
            "dropout": 0.1,
            "target": "attributes",
            "heads": SCENE_HEADS,
            "label_heads": ("shape1", "colour1"),
            "canonical_order": True,
            "lr": 2e-3,
            "weight_decay": 5e-4,
            # positions and relations are labels: no shifts or turns
            "augment_shift": 0.0,
            "augment_rotate": 0.0,
            "augment_scale": 0.0,
            # the test split holds colour-shape pairs never seen in training: without this
            # the shape head learns "red things are not triangles" (60% on those pairs)
            "colour_heads": ("colour1", "colour2"),
            "colour_shuffle": 0.5,
            "batch_size": 128,
            "steps": 1000,
        },
    }

    @property
    def num_classes(self) -> int:
        """Number of classes ``logits`` scores (the product of the label heads' sizes)."""
        n = 1
        for name in self.label_heads:
            n *= self.heads[name]
        return n

    @field_validator("heads")
    @classmethod
    def _head_sizes(cls, v: dict[str, int]) -> dict[str, int]:
        for name, k in v.items():
            if k < 2:
                raise ValueError(f"head '{name}' needs at least 2 classes, got {k}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ClassifierConfig:
        if self.image_size % 2 ** len(self.widths):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.widths)} "
                "(one 2x2 pool per stage)"
            )
        unknown = [h for h in self.label_heads + self.colour_heads if h not in self.heads]
        if unknown:
            raise ValueError(f"label_heads or colour_heads name unknown head '{unknown[0]}'")
        if self.colour_shuffle and self.channels != 3:
            raise ValueError("colour_shuffle needs RGB images (channels 3)")
        if self.target == "label" and len(self.heads) != 1:
            raise ValueError("target 'label' takes exactly one head")
        if self.canonical_order and tuple(self.heads) != ATTRIBUTES:
            raise ValueError(f"canonical_order needs the scenes' heads, in order: {ATTRIBUTES}")
        return self
