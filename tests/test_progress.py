"""Samplers report progress through ``Draw.progress``: (done, total) rising to total.

The unit is the sampler's own work: denoising steps (one network evaluation each) for
diffusion, tokens per decoding run for autoregressive models, batches for one-shot ones.
"""

from __future__ import annotations

import pytest

import zoo
from zoo.api import make_request


def reports(model: str, **kw: object) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    zoo.load(model).run(make_request(**kw), progress=lambda d, t: seen.append((d, t)))
    return seen


def check(seen: list[tuple[int, int]], total: int) -> None:
    assert [d for d, _ in seen] == list(range(1, total + 1))
    assert {t for _, t in seen} == {total}


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm++2m", "euler", "euler-a"])
def test_diffusion_reports_each_step_of_each_batch(sampler: str) -> None:
    check(reports("ddpm-digits", n=3, batch_size=2, steps=3, sampler=sampler), 2 * 3)


def test_autoregressive_reports_tokens_of_each_run() -> None:
    length = zoo.load("dalle-scenes").generator.sequence_length()
    plain = reports("dalle-scenes", n=3, batch_size=2, prompt="a red circle")
    check(plain, 2 * length)  # two batches
    reranked = reports("dalle-scenes", n=2, prompt="a red circle", rerank=2)
    check(reranked, 2 * length)  # one run per image, its candidates batched


def test_one_shot_reports_batches() -> None:
    check(reports("dcgan-digits", n=5, batch_size=2), 3)


def test_no_progress_callback_draws_the_same() -> None:
    m = zoo.load("ddpm-digits")
    a = m.run(make_request(n=2, steps=3, seed=1)).images
    b = m.run(make_request(n=2, steps=3, seed=1), progress=lambda d, t: None).images
    assert (a == b).all()
