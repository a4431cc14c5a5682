"""Config fields choosing how a text family reads text (``plugins/nn/text.py``): the
tokenizer, the BPE merge count, the word vocabulary. The clip, noisy-clip and dalle
configs mix them in; no torch here.

A config.json without ``tokenizer`` is a "words" model (every model trained before BPE);
the families' presets choose "bpe", so new training runs learn a BPE from their captions.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from zoo.plugins.nn.clip_bpe import BYTE_TOKENS
from zoo.plugins.nn.scenes import scene_vocabulary
from zoo.plugins.nn.text import RESERVED, TokenizerName, check_vocabulary
from zoo.registry.contracts import FamilyConfig

BPE = {"tokenizer": "bpe"}  # what a family's presets add for new training runs


class TokenizerConfig(FamilyConfig):
    """The tokenizer and what sizes its part of the text embedding."""

    tokenizer: TokenizerName = Field(
        default="words",
        description="how text becomes tokens: 'words' reads the closed vocabulary below "
        "(other words are refused), 'bpe' a byte-level BPE learned from the training "
        "captions and saved in tokenizer/ (any text reads)",
    )
    tokenizer_merges: int = Field(
        default=256,
        ge=0,
        le=49152,
        description=f"BPE merges learned from the captions (tokenizer 'bpe'); the text "
        f"embedding has {BYTE_TOKENS} + this many rows",
    )
    vocabulary: tuple[str, ...] = Field(
        default_factory=scene_vocabulary,
        description="the words of tokenizer 'words' (lower-case letters; others map to "
        "UNK); empty with 'bpe'",
    )

    @model_validator(mode="before")
    @classmethod
    def _bpe_has_no_words(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tokenizer") == "bpe" and "vocabulary" not in data:
            return {**data, "vocabulary": ()}
        return data

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_vocabulary(v)

    @model_validator(mode="after")
    def _words_need_a_vocabulary(self) -> TokenizerConfig:
        if self.tokenizer == "words" and not self.vocabulary:
            raise ValueError("tokenizer 'words' needs a vocabulary (or use tokenizer 'bpe')")
        return self

    @property
    def text_rows(self) -> int:
        """Rows of the text embedding: the words and PAD, UNK, BOS; or the BPE's bytes, their
        end-of-word forms, the merges, start and end."""
        if self.tokenizer == "bpe":
            return BYTE_TOKENS + self.tokenizer_merges
        return len(self.vocabulary) + RESERVED
