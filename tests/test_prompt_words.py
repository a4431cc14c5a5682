"""One rule for every model that reads words: a prompt it would not read as written is
refused with the same line, naming the unknown words and some it knows."""

from __future__ import annotations

import pytest

import zoo
from zoo.plugins.nn.text import WordTokenizer
from zoo.registry.errors import RequestError

RULE = (
    "the prompt has words outside this model's closed vocabulary: zebra; use words it knows, "
    "such as "
)


def refusal(call) -> str:
    with pytest.raises(RequestError) as err:
        call()
    return str(err.value)


@pytest.mark.parametrize("model", ["stackgan-scenes", "dalle-scenes"])
def test_text_models_refuse_unknown_words_alike(model: str) -> None:
    m = zoo.load(model, device="cpu")
    message = refusal(lambda: m.sample(prompt="a red zebra"))
    assert message.startswith(RULE)
    assert "(e.g. '" in message
    long = " ".join(["a red circle"] * 30)
    assert "words; this model reads at most" in refusal(lambda: m.sample(prompt=long))
    assert "the prompt has no words" in refusal(lambda: m.sample(prompt=" ,, "))
    assert refusal(lambda: m.sample(prompt="  ")).startswith("the prompt is empty; describe what")


def test_clip_checks_prompts_by_the_same_rule() -> None:
    clip = zoo.load("clip-scenes", device="cpu").network
    assert refusal(lambda: clip.check_prompt("a red zebra")).startswith(RULE)
    clip.check_prompt("a small blue square on the left")  # known words pass


def test_the_known_words_start_with_the_closest() -> None:
    tok = WordTokenizer(("circle", "square", "red", "blue", "left", "right", "above", "below"))
    message = refusal(lambda: tok.check_prompt("a red cirle", 10))
    assert "closed vocabulary: a, cirle; use words it knows, such as circle, " in message
    assert len(message.split("such as ")[1].split(", ")) == 6
