"""Word-level text for the families that read captions (CLIP, DALL-E): the tokenizer's
idea of a word, the scenes' vocabulary, and the check a config's vocabulary must pass."""

from __future__ import annotations

import re

from zoo.plugins.datasets import scenes

WORD_RE = re.compile(r"[a-z]+")  # a word: a run of letters, after lower-casing


def words(text: str) -> list[str]:
    """The tokenizer's words: 'On the LEFT, a red-ish disc' -> on the left a red ish disc."""
    return WORD_RE.findall(text.lower())


def scene_vocabulary() -> tuple[str, ...]:
    """Every word the scenes' captions can hold (synonym tables and templates), sorted."""
    tables = (
        scenes.SIZE_WORDS,
        scenes.COLOUR_WORDS,
        scenes.SHAPE_WORDS,
        scenes.POSITION_WORDS,
        scenes.RELATION_WORDS,
    )
    text = " ".join(w for table in tables for ws in table for w in ws)
    templates = " ".join(scenes.ONE_TEMPLATES + scenes.TWO_TEMPLATES)
    text += " " + re.sub(r"\{\w+\}", " ", templates)  # drop the {a}/{p} slots
    return tuple(sorted(set(words(text))))


def check_vocabulary(vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    """A config's vocabulary, or ValueError: every word lower-case letters, none twice."""
    bad = [w for w in vocabulary if not WORD_RE.fullmatch(w)]
    if bad:
        raise ValueError(f"vocabulary word {bad[0]!r} is not lower-case letters")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("vocabulary words must be unique")
    return vocabulary
