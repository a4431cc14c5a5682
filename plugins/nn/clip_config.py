"""Config fields of a CLIP's text tower and shared space (no torch here: configs load
without it). The clip and noisy-clip families mix them into their configs; the field
defaults are the scenes models'."""

from __future__ import annotations

from pydantic import Field, model_validator

from zoo.plugins.nn.text_config import TokenizerConfig


class ClipTextConfig(TokenizerConfig):
    """The tokenizer (``TokenizerConfig``), the text transformer, the embedding width and the
    temperature."""

    num_features: int = Field(default=128, ge=2, le=1024, description="shared embedding width")
    max_tokens: int = Field(
        default=24,
        ge=2,
        le=256,
        description="tokens per text, the leading start token included (and, with 'bpe', "
        "the end token)",
    )
    text_width: int = Field(default=96, ge=4, le=1024, description="text transformer width")
    text_layers: int = Field(default=2, ge=1, le=12, description="text transformer blocks")
    text_heads: int = Field(default=4, ge=1, le=16, description="attention heads per block")
    temperature: float = Field(
        default=0.07, gt=0.01, le=1, description="initial softmax temperature (learned after)"
    )

    @model_validator(mode="after")
    def _heads(self) -> ClipTextConfig:
        if self.text_width % self.text_heads:
            raise ValueError(
                f"text_width {self.text_width} must be divisible by text_heads {self.text_heads}"
            )
        return self
