"""Text for the families that read captions (clip, noisy-clip, dalle, and stackgan through
its CLIP): the two tokenizers a config chooses between (``tokenizer`` in
``text_config.TokenizerConfig``), the rules a prompt meets, and the model-folder hooks.

- "words" (``WordTokenizer``): a closed word vocabulary stored in the config, as the models
  trained first read text. A prompt word outside it is refused, since it would be dropped.
- "bpe" (``BPETokenizer``): CLIP's byte-level BPE (``clip_bpe.py``), its merges learned from
  the training captions and saved in the model folder's ``tokenizer/`` (the Hub layout).
  Any UTF-8 text encodes: a word the captions never held splits into smaller pieces, down
  to its bytes. A prompt longer than the model's context is cut, with one notice (a
  UserWarning) showing the dropped tail.

With either, an empty or whitespace-only prompt is refused (``EMPTY_PROMPT``): it says
nothing to draw. Training captions are never checked; they are cut to fit silently.

The scenes' vocabulary, the words their captions can hold, is ``scene_vocabulary`` in
``plugins/nn/scenes.py``. No torch at import: configs load without it.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from zoo.plugins.nn.clip_bpe import BYTE_TOKENS, CLIPBPETokenizer, build_clip_vocab
from zoo.registry.errors import CardError, RequestError

if TYPE_CHECKING:
    import torch

TokenizerName = Literal["words", "bpe"]
TOKENIZER_FOLDER = "tokenizer"  # a BPE model's vocab.json, merges.txt, ... in its folder
EMPTY_PROMPT = "the prompt is empty; describe what to draw, e.g. '{example}'"
DEFAULT_EXAMPLE = "a large red circle in the center"
SHOWN_TAIL = 80  # characters of a dropped tail a notice shows whole

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

    pad_id = PAD

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.ids = {w: i + RESERVED for i, w in enumerate(vocabulary)}

    def check_prompt(self, text: str, max_tokens: int, example: str | None = None) -> None:
        """Refuse a prompt this tokenizer would not read as written (RequestError).

        A model of this tokenizer reads a closed vocabulary: a word outside it (it would be
        read as UNK), no word at all, or more than ``max_tokens`` - 1 words (the rest would
        be cut) is an error, never silently dropped; so is an empty prompt. Training
        captions are not checked: ``encode`` reads them leniently.
        """
        refuse_empty(text, example)
        max_words = max_tokens - 1
        ws = words(text)
        eg = f" (e.g. '{example}')" if example else ""
        unknown = sorted({w for w in ws if self.word_id(w) is None})
        if unknown:
            raise RequestError(
                "the prompt has words outside this model's closed vocabulary: "
                f"{', '.join(unknown)}; use words it knows, such as "
                f"{', '.join(self.known_like(unknown))}{eg}"
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


def refuse_empty(text: str, example: str | None = None) -> None:
    """RequestError for an empty or whitespace-only prompt (``EMPTY_PROMPT``)."""
    if not text.strip():
        raise RequestError(EMPTY_PROMPT.format(example=example or DEFAULT_EXAMPLE))


def refuse_blank(prompt: str | None) -> None:
    """For a model that also draws without text: an empty or whitespace-only ``--prompt`` is
    a RequestError (leaving the prompt out is how such a model draws unconditionally)."""
    if prompt is not None and not prompt.strip():
        raise RequestError(
            "the prompt is empty; say what to draw with --prompt, or drop --prompt to draw "
            "without text"
        )


class BPETokenizer:
    """Texts -> token ids with CLIP's byte-level BPE: the start token, the text's tokens, the
    end token, then the end token again as padding (``pad_id``), as Stable Diffusion 1.x
    pads. Ids are ``CLIPBPETokenizer``'s (the files' own, as transformers reads them).

    Args:
        bpe: the vocabulary and merges; ``learn`` makes one from captions, ``from_folder``
            reads a ``tokenizer/`` folder.
    """

    def __init__(self, bpe: CLIPBPETokenizer) -> None:
        self.bpe = bpe
        self.pad_id = bpe.pad_id

    @classmethod
    def learn(cls, texts: Sequence[str], merges: int) -> BPETokenizer:
        """Learn up to ``merges`` merges from ``texts`` (``build_clip_vocab``); ``[]`` and 0
        give the byte-level vocabulary alone (any text, a token per byte)."""
        vocab, learned = build_clip_vocab(texts, merges)
        return cls(CLIPBPETokenizer(vocab, learned))

    @classmethod
    def from_folder(cls, folder: Path) -> BPETokenizer:
        return cls(CLIPBPETokenizer.from_folder(folder))

    def save(self, folder: Path) -> Path:
        """Write vocab.json, merges.txt and the two config files into ``folder``."""
        return self.bpe.save(folder)

    def __len__(self) -> int:
        """Rows an embedding needs: the largest id + 1."""
        return max(self.bpe.vocab.values()) + 1

    def encode(self, text: str, max_tokens: int) -> list[int]:
        """One text -> [start, tokens..., end], the tokens cut to ``max_tokens`` - 2."""
        return [self.bpe.bos_id, *self.bpe.encode(text)[: max_tokens - 2], self.bpe.eos_id]

    def __call__(
        self, texts: Sequence[str], max_tokens: int, *, fixed: bool = False
    ) -> torch.Tensor:
        """Texts -> (N, T) int64 rows of ``encode``, padded with ``pad_id``. T is
        ``max_tokens`` if ``fixed``, else the longest row."""
        import torch

        if max_tokens < 2:
            raise ValueError(f"max_tokens {max_tokens} leaves no room for the start and end")
        rows = [self.encode(text, max_tokens) for text in texts]
        width = max_tokens if fixed else max((len(r) for r in rows), default=2)
        out = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out

    def check_prompt(self, text: str, max_tokens: int, example: str | None = None) -> None:
        """Refuse an empty prompt (RequestError); any other text is read. One longer than
        ``max_tokens`` - 2 tokens is cut there, with one notice (a UserWarning) that shows
        the dropped tail."""
        refuse_empty(text, example)
        ids = self.bpe.encode(text)
        if len(ids) > max_tokens - 2:
            warn_truncated(self.bpe, ids, max_tokens - 2)


class PromptTruncatedWarning(UserWarning):
    """A prompt was longer than the model's text context; its tail was dropped."""


def warn_truncated(bpe: CLIPBPETokenizer, ids: Sequence[int], room: int) -> None:
    """The one notice of a prompt cut to ``room`` tokens (``ids``: all of its tokens),
    showing the dropped tail (a long tail abridged, with its length)."""
    tail = bpe.decode(list(ids[room:]))
    shown = f"'{tail}'"
    if len(tail) > SHOWN_TAIL:
        shown = f"'{tail[: SHOWN_TAIL - 25]} ... {tail[-20:]}' ({len(tail):,} characters)"
    warnings.warn(
        PromptTruncatedWarning(
            f"the prompt is {len(ids):,} tokens long and this model reads {room}; "
            f"the rest is dropped: {shown}"
        ),
        stacklevel=4,
    )


Tokenizer = WordTokenizer | BPETokenizer


class PerRequest:
    """One value kept for the conditions of the request being drawn, so that what a family
    computes in every batch from the prompt (its tokens or embedding) is computed, and a
    notice about it given, once per request."""

    def __init__(self) -> None:
        self._key: Any = None
        self._value: Any = None

    def __call__(self, conditions: Any, compute: Callable[[], Any]) -> Any:
        if self._key is not conditions:  # the conditions object is the request's own
            self._value = compute()
            self._key = conditions
        return self._value


class ReadsText:
    """Mixin for a network whose config is a ``TokenizerConfig`` (``text_config.py``): its
    ``tokenizer`` and the model-folder hooks that read and write a BPE tokenizer in
    ``tokenizer/`` (a "words" model keeps its vocabulary in config.json). Put it before the
    Network base class."""

    config: Any
    tokenizer: Tokenizer

    def use_tokenizer(self, tokenizer: Tokenizer) -> None:
        """Read text with ``tokenizer`` (learned from captions, or read from a folder); it
        must fit the text embedding the config sizes (``text_rows``)."""
        rows = self.config.text_rows
        if len(tokenizer) > rows:
            raise CardError(
                f"the tokenizer has {len(tokenizer)} tokens and the text embedding {rows} rows "
                f"({BYTE_TOKENS} + tokenizer_merges {self.config.tokenizer_merges}): "
                f"{TOKENIZER_FOLDER}/ and config.json do not belong together; restore them"
            )
        self.tokenizer = tokenizer

    def read_files(self, folder: Path) -> None:
        if self.config.tokenizer != "bpe":
            return
        path = folder / TOKENIZER_FOLDER
        if not path.is_dir():
            raise CardError(
                f"{folder} has no {TOKENIZER_FOLDER}/ folder (vocab.json, merges.txt) for its "
                "tokenizer 'bpe'; copy it from where the model was trained"
            )
        self.use_tokenizer(BPETokenizer.from_folder(path))

    def write_files(self, folder: Path) -> None:
        if isinstance(self.tokenizer, BPETokenizer):
            self.tokenizer.save(folder / TOKENIZER_FOLDER)


def make_tokenizer(config: Any) -> Tokenizer:
    """The tokenizer of a ``TokenizerConfig`` before any folder or captions are read: its
    words, or the byte-level BPE without merges."""
    if config.tokenizer == "bpe":
        return BPETokenizer.learn([], 0)
    return WordTokenizer(config.vocabulary)


def learn_tokenizer(network: ReadsText, split: Mapping[str, Any]) -> None:
    """For a recipe's ``prepare``: a BPE network learns its merges from the split's captions
    (``tokenizer_merges`` at most); a words network keeps its vocabulary."""
    if network.config.tokenizer == "bpe":
        captions = [str(c) for c in split["caption"]]
        network.use_tokenizer(BPETokenizer.learn(captions, network.config.tokenizer_merges))


def tokenizer_summary(config: Any) -> str:
    """A recipe summary's line on how its text was read."""
    if config.tokenizer == "bpe":
        return (
            f"CLIP byte-level BPE, up to {config.tokenizer_merges} merges learned from the "
            f"training captions (saved in {TOKENIZER_FOLDER}/)"
        )
    return f"the closed vocabulary of {len(config.vocabulary)} words in config.json"
