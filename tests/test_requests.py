"""SampleRequest validation (S rows of RELIABILITY.md) without any model."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from zoo.registry.errors import RequestError
from zoo.registry.schemas import MAX_PROMPT_CHARS, SampleRequest


@pytest.mark.parametrize(
    "field,value",
    [
        ("n", 0),
        ("n", -3),
        ("seed", -1),
        ("seed", 2**64),
        ("steps", 0),
        ("steps", 10**9),
        ("guidance", math.nan),
        ("guidance", math.inf),
        ("guidance", -1.0),
        ("truncation", 0.0),
        ("truncation", math.nan),
        ("label", -1),
        ("batch_size", 0),
    ],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        SampleRequest(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        SampleRequest(promt="a typo")


def test_huge_prompt_is_refused_with_the_limit() -> None:  # S1
    with pytest.raises(ValidationError, match=str(MAX_PROMPT_CHARS)):
        SampleRequest(prompt="x" * (MAX_PROMPT_CHARS + 1))


def test_non_utf8_prompt_names_the_byte() -> None:  # S2: surrogate escapes from argv
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(ValidationError, match=r"byte 0xe9 at position 3"):
        SampleRequest(prompt=bad)


def test_empty_prompt_is_a_valid_string() -> None:  # S3: allowed, means unconditional
    assert SampleRequest(prompt="").prompt == ""


def test_prompt_to_unconditional_model() -> None:
    req = SampleRequest(prompt="a red circle")
    with pytest.raises(RequestError, match="does not take a prompt"):
        req.check_against("dcgan-digits", "one-shot", ("unconditional",))


def test_steps_and_guidance_to_one_shot_model() -> None:
    from zoo.registry.schemas import SamplerSpec

    one_shot = SamplerSpec(name="one-shot", process="one-shot", sampler="a.b:C")
    with pytest.raises(RequestError, match="--steps does not apply.*in one shot"):
        SampleRequest(steps=10).check_against("m", "one-shot", ("unconditional",), sampler=one_shot)
    with pytest.raises(RequestError, match="--guidance does not apply"):
        SampleRequest(guidance=3.0).check_against(
            "m", "one-shot", ("unconditional",), sampler=one_shot
        )
    iterative = SamplerSpec(name="it", process="diffusion", sampler="a.b:C", takes=("steps",))
    SampleRequest(steps=10).check_against("m", "diffusion", ("unconditional",), sampler=iterative)
    with pytest.raises(RequestError, match="sampler 'it' takes no --guidance"):
        SampleRequest(guidance=3.0).check_against(
            "m", "diffusion", ("unconditional",), sampler=iterative
        )


def test_label_checks() -> None:
    with pytest.raises(RequestError, match="does not take a label"):
        SampleRequest(label=3).check_against("m", "one-shot", ("unconditional",))
    with pytest.raises(RequestError, match=r"use 0\.\.9"):
        SampleRequest(label=10).check_against("m", "one-shot", ("class",), num_classes=10)
    SampleRequest(label=9).check_against("m", "one-shot", ("class",), num_classes=10)


def test_image_to_model_without_image_input() -> None:
    with pytest.raises(RequestError, match="input image"):
        SampleRequest(image="x.png").check_against("m", "one-shot", ("unconditional",))


def test_the_last_seed_must_fit() -> None:  # issue 14.5
    from zoo.registry.schemas import MAX_SEED

    SampleRequest(seed=MAX_SEED, n=1)
    SampleRequest(seed=MAX_SEED - 3, n=4)
    with pytest.raises(ValidationError) as info:
        SampleRequest(seed=MAX_SEED, n=2)
    err = info.value.errors()[0]
    assert err["loc"] == ("seed",)
    assert f"with n=2 the largest seed is {MAX_SEED - 1}" in err["msg"]
