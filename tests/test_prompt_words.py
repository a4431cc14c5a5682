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


@pytest.mark.parametrize("model", ["clip-scenes", "noisy-clip-scenes"])
def test_words_models_refuse_unknown_words_alike(model: str) -> None:
    """The shipped CLIPs read a closed vocabulary (the generators read BPE: test_shipped_text)."""
    network = zoo.load(model, device="cpu").network
    message = refusal(lambda: network.check_prompt("a red zebra"))
    assert message.startswith(RULE)
    long = " ".join(["a red circle"] * 30)
    assert "words; this model reads at most" in refusal(lambda: network.check_prompt(long))
    assert "the prompt has no words" in refusal(lambda: network.check_prompt(" ,, "))
    assert refusal(lambda: network.check_prompt("  ")).startswith("the prompt is empty; describe")
    network.check_prompt("a small blue square on the left")  # known words pass


def test_the_known_words_start_with_the_closest() -> None:
    tok = WordTokenizer(("circle", "square", "red", "blue", "left", "right", "above", "below"))
    message = refusal(lambda: tok.check_prompt("a red cirle", 10))
    assert "closed vocabulary: a, cirle; use words it knows, such as circle, " in message
    assert len(message.split("such as ")[1].split(", ")) == 6
