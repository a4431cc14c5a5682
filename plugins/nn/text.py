"""Word-level text for the families that read captions (CLIP, DALL-E): the tokenizer's
idea of a word, the check a config's vocabulary must pass, and the tokenizer itself.

The scenes' vocabulary, the words their captions can hold, is ``scene_vocabulary`` in
``plugins/nn/scenes.py``. No torch at import: configs load without it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zoo.registry.errors import RequestError

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

    def check_prompt(self, text: str, max_words: int, example: str | None = None) -> None:
        """Refuse a prompt this tokenizer would not read as written (RequestError).

        The one rule of every model that reads words, until models take any text: a word
        outside the vocabulary (it would be read as UNK), no word at all, or more than
        ``max_words`` words (the rest would be cut) is an error, never silently dropped.
        Training captions are not checked: ``encode`` reads them leniently.
        """
        ws = words(text)
        eg = f" (e.g. '{example}')" if example else ""
        unknown = sorted({w for w in ws if self.word_id(w) is None})
        if unknown:
            raise RequestError(
                f"the prompt has words this model never read: {', '.join(unknown)}; "
                f"use words it knows, such as {', '.join(self.known_like(unknown))}{eg}"
            )
        if not ws:
            raise RequestError(f"the prompt has no words; describe what to draw{eg}")
        if len(ws) > max_words:
            raise RequestError(
                f"the prompt has {len(ws)} words; this model reads at most {max_words}"
            )

    def known_like(self, unknown: Sequence[str], count: int = 6) -> list[str]:
        """``count`` words of the vocabulary: those closest to ``unknown`` first, then a
        spread over the rest (the same list for the same words)."""
        vocab = list(self.ids)
        out: list[str] = []
        for w in unknown:
            out += [m for m in difflib.get_close_matches(w, vocab, n=2) if m not in out]
        plain = [w for w in vocab if len(w) > 2]  # "circle" says more than "a"
        step = max(1, len(plain) // count)
        out += [w for w in plain[::step] if w not in out]
        return out[:count]

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
