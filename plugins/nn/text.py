"""Word-level text for the families that read captions (CLIP, DALL-E): the tokenizer's
idea of a word, the check a config's vocabulary must pass, and the tokenizer itself.

The scenes' vocabulary, the words their captions can hold, is ``scene_vocabulary`` in
``plugins/nn/scenes.py``. No torch at import: configs load without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

WORD_RE = re.compile(r"[a-z]+")  # a word: a run of letters, after lower-casing

PAD, UNK, BOS = 0, 1, 2  # reserved token ids; a vocabulary's words follow from RESERVED
RESERVED = 3


def words(text: str) -> list[str]:
    """The tokenizer's words: 'On the LEFT, a red-ish disc' -> on the left a red ish disc."""
    return WORD_RE.findall(text.lower())


def check_vocabulary(vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    """A config's vocabulary, or ValueError: every word lower-case letters, none twice."""
    bad = [w for w in vocabulary if not WORD_RE.fullmatch(w)]
    if bad:
        raise ValueError(f"vocabulary word {bad[0]!r} is not lower-case letters")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("vocabulary words must be unique")
    return vocabulary


class WordTokenizer:
    """Texts -> token ids over a word vocabulary: PAD 0, UNK 1, BOS 2, word i is i + 3.

    A text is its ``words``; a word outside the vocabulary is UNK, except a plural
    whose singular is in it ("circles" -> circle).
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.ids = {w: i + RESERVED for i, w in enumerate(vocabulary)}

    def __len__(self) -> int:
        """Number of ids, the reserved ones included (an embedding's rows)."""
        return len(self.ids) + RESERVED

    def word_id(self, word: str) -> int | None:
        """A word's id; a plural the vocabulary lacks falls back to its singular; else None."""
        if word in self.ids:
            return self.ids[word]
        if word.endswith("s") and word[:-1] in self.ids:
            return self.ids[word[:-1]]
        return None

    def encode(self, text: str, max_tokens: int) -> list[int]:
        """One text -> [BOS, one id per word], cut to ``max_tokens`` ids."""
        ids = (self.word_id(w) for w in words(text)[: max_tokens - 1])
        return [BOS] + [UNK if i is None else i for i in ids]

    def __call__(
        self, texts: Sequence[str], max_tokens: int, *, fixed: bool = False
    ) -> torch.Tensor:
        """Texts -> (N, T) int64: BOS, one id per word, PAD after; words past
        ``max_tokens`` - 1 are cut. T is ``max_tokens`` if ``fixed``, else the longest
        row (at least 1).
        """
        import torch

        rows = [self.encode(text, max_tokens) for text in texts]
        width = max_tokens if fixed else max((len(r) for r in rows), default=1)
        out = torch.full((len(rows), width), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out
