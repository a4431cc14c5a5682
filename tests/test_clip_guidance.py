"""CLIP guidance: the noise-aware CLIP (noisy-clip) and a ddpm model that a prompt steers
through it (--prompt with --clip-scale) on every diffusion sampler, and its errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import zoo
from tests.conftest import run_zoo
from tests.test_guidance import SAMPLERS, _jitter, tiny_classifier, tiny_ddpm
from zoo.plugins.ddpm.config import DDPMOptions
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.noisyclip.config import NoisyClipConfig
from zoo.plugins.noisyclip.model import NoisyClipNetwork
from zoo.plugins.samplers.ddim import DDIMSampler
from zoo.plugins.samplers.diffusion import score_gradient
from zoo.registry.contracts import Conditions, Draw
from zoo.registry.diffusion import GradientGuide
from zoo.registry.errors import CardError, RequestError

PROMPT = "a small red circle on the left"
UNKNOWN_WORD = "the prompt has words outside this model's closed vocabulary: zebra; use words"


def tiny_clip(**overrides) -> NoisyClipNetwork:
    torch.manual_seed(0)
    words = {"tokenizer": "words", **overrides}  # the refusals below are the word models'
    clip = NoisyClipNetwork(NoisyClipConfig.preset("tiny", **words)).eval()
    _jitter(clip.net.image, 3)
    return clip


def guided_ddpm(**clip_overrides) -> DDPMGenerator:
    """A tiny RGB ddpm (the tiny noisy CLIP's images) with a tiny noisy CLIP as its 'clip'."""
    gen = tiny_ddpm(channels=3)
    gen.components["clip"] = tiny_clip(**clip_overrides)
    return gen


def draw(
    gen: DDPMGenerator,
    sampler=DDIMSampler,
    *,
    prompt: str | None = PROMPT,
    scale: float = 3.0,
    seeds=(0, 1, 2, 3),
    batch: int = 4,
    **conditions,
) -> torch.Tensor:
    d = Draw(
        seeds=tuple(seeds),
        conditions=Conditions(prompt=prompt, **conditions),
        options=DDPMOptions(clip_scale=scale),
        steps=4,
        guidance=0.0,
        batch_size=batch,
    )
    return sampler().sample(gen, d)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A tiny ddpm trained on the scenes, without and with a tiny noisy CLIP (trained a few
    steps on the scenes' captions) as its card's 'clip' component."""
    from zoo.train import train

    root = tmp_path_factory.mktemp("clipguide")
    plain = train(
        "ddpm",
        "scenes",
        root / "ddpm",
        preset="tiny",
        sets={"channels": 3, "num_classes": 24},
        progress=False,
    )
    guided = root / "ddpm-clip"
    shutil.copytree(plain, guided)
    train("noisy-clip", "scenes", guided / "clip", preset="tiny", steps=3, progress=False)
    card = guided / "README.md"
    text = card.read_text()
    assert "  components: {}\n" in text
    card.write_text(
        text.replace("  components: {}\n", "  components:\n    clip:\n      subfolder: clip\n")
    )
    return {"plain": plain, "guided": guided, "clip": guided / "clip"}


def test_the_noisy_clip_trains_on_the_scenes_and_loads(folders) -> None:
    clip = zoo.load(str(folders["clip"]), device="cpu").network
    assert isinstance(clip, NoisyClipNetwork)
    images = torch.rand(3, 3, 8, 8)
    feats = clip.features(images)
    assert feats.shape == (3, clip.num_features)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(3))
    text = clip.encode_text([PROMPT, "a blue square"])
    assert text.shape == (2, clip.num_features)
    x_t, t = images * 2 - 1, torch.tensor([0, 7, 19])
    score = clip.guide_score(x_t, t, text[[0, 0, 1]])
    assert score.shape == (3,) and torch.isfinite(score).all()
    clip.check_prompt("a red zebra")  # a BPE model (the preset's) reads any word
    with pytest.raises(RequestError, match="the prompt is empty; describe what to draw"):
        clip.check_prompt(" ")


def test_the_noisy_clip_reports_retrieval_at_several_noise_levels(folders) -> None:
    out = folders["clip"]
    res = run_zoo("reference-eval", str(out), "-n", "200", "--write-card")
    assert res.returncode == 0, res.stderr[-2000:]
    card = (out / "README.md").read_text()
    for t in (0, 5, 10, 15):  # the tiny schedule's T = 20
        assert f"top-1 caption retrieval among 100 at t = {t} (test split, 200 scenes)" in card


def test_the_guide_score_is_the_scaled_cosine_and_each_image_has_its_own_gradient() -> None:
    clip = tiny_clip()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(4, 3, 8, 8, generator=g)
    t = torch.tensor([0.0, 3.0, 9.5, 19.0])
    with torch.inference_mode():  # as the samplers make them
        text = clip.encode_text([PROMPT, "a blue square", "a green triangle above", PROMPT])
    with torch.no_grad():
        f = F.normalize(clip.net.image(x, t), dim=-1)
        want = clip.net.log_scale.exp() * (f * F.normalize(text.clone(), dim=-1)).sum(-1)
        torch.testing.assert_close(clip.guide_score(x, t, text), want)

    guide = GradientGuide("clip", 1.0, lambda x_t, tt: clip.guide_score(x_t, tt, text))
    with torch.inference_mode():
        grad = score_gradient(guide, x, t)
    assert grad.shape == x.shape and (grad.flatten(1).abs().sum(1) > 0).all()
    for k in range(4):
        alone = GradientGuide(
            "clip", 1.0, lambda x_t, tt, k=k: clip.guide_score(x_t, tt, text[k : k + 1])
        )
        with torch.inference_mode():
            grad_k = score_gradient(alone, x[k : k + 1], t[k : k + 1])
        torch.testing.assert_close(grad[k : k + 1], grad_k, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s.name)
def test_clip_guidance_changes_every_sampler_and_keeps_images_apart(sampler) -> None:
    """Each sampler applies the CLIP's gradient (the draw changes), and image k of a batch
    still equals image k drawn alone. Whether it steers toward the prompt is a property of
    a trained CLIP, measured on a shipped model."""
    gen = guided_ddpm()
    plain = draw(gen, sampler, prompt=None, scale=0.0)
    guided = draw(gen, sampler, scale=50.0)
    assert (guided - plain).abs().max() > 1e-3
    alone = draw(gen, sampler, scale=50.0, seeds=(2,), batch=1)
    assert (guided[2] - alone[0]).abs().max() < 1e-5  # batched convolutions round
    other = draw(gen, sampler, prompt="a large blue square", scale=50.0)
    assert (guided - other).abs().max() > 1e-4  # the prompt is what it steers toward


def test_classifier_and_clip_guidance_compose() -> None:
    gen = guided_ddpm()
    gen.components["classifier"] = tiny_classifier(channels=3)
    d = Draw(
        seeds=(0, 1),
        conditions=Conditions(prompt=PROMPT, label=3),
        options=DDPMOptions(clip_scale=20.0, classifier_scale=20.0),
        steps=4,
        guidance=0.0,
        batch_size=2,
    )
    both = DDIMSampler().sample(gen, d)
    clip_only = draw(gen, seeds=(0, 1), batch=2, scale=20.0, label=3)
    assert both.shape == (2, 3, 8, 8) and (both - clip_only).abs().max() > 1e-4


def test_a_prompt_and_a_clip_scale_need_each_other_and_a_noisy_clip() -> None:
    gen = guided_ddpm()
    with pytest.raises(RequestError, match="--clip-scale steers toward a prompt; give one"):
        draw(gen, prompt=None, scale=3.0)
    with pytest.raises(RequestError, match="give its scale with --clip-scale"):
        draw(gen, scale=0.0)
    with pytest.raises(RequestError, match=UNKNOWN_WORD) as err:
        draw(gen, prompt="a red zebra")
    assert str(err.value).startswith("--clip-scale: the CLIP guide (the card's 'clip' component)")
    with pytest.raises(RequestError, match="no negative prompt"):
        draw(gen, negative_prompt="a blue square")
    bare = tiny_ddpm(channels=3)
    with pytest.raises(RequestError, match="names no 'clip' component"):
        draw(bare)
    from zoo.plugins.clip.config import ClipConfig
    from zoo.plugins.clip.model import ClipNetwork

    bare.components["clip"] = ClipNetwork(ClipConfig.preset("tiny"))  # reads clean images only
    with pytest.raises(RequestError, match="not a noise-aware network .*zoo train noisy-clip"):
        draw(bare)
    bare.components["clip"] = tiny_classifier(channels=3)  # noise-aware, but reads no text
    with pytest.raises(RequestError, match="NoisyClassifier, which reads no text"):
        draw(bare)


def test_a_clip_of_another_schedule_or_image_size_is_refused() -> None:
    gen = guided_ddpm(schedule={"num_train_timesteps": 20, "beta_schedule": "cosine"})
    with pytest.raises(CardError, match=r"'clip' component was trained on another noise schedule"):
        draw(gen)
    gen = guided_ddpm(channels=1)
    with pytest.raises(CardError, match="'clip' component reads 1-channel 8x8 images"):
        draw(gen)


def test_a_ddpm_card_naming_a_clip_takes_a_prompt(folders, tmp_path) -> None:
    """A prompt reaches a ddpm model whose card names a 'clip' component, and only it."""
    out = tmp_path / "steered.png"
    res = run_zoo(
        "sample",
        str(folders["guided"]),
        "--prompt",
        PROMPT,
        "--clip-scale",
        "3",
        "--guidance",
        "0",
        "--steps",
        "3",
        "-n",
        "2",
        "-o",
        str(out),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.exists()
    m = zoo.load(str(folders["guided"]), device="cpu")
    assert "text" in m.resolved.capabilities
    with pytest.raises(RequestError, match="the prompt is empty"):
        m.sample(prompt="", clip_scale=3, guidance=0)
    with pytest.raises(RequestError, match="give one with prompt="):
        m.sample(clip_scale=3, guidance=0)


def test_the_cli_refuses_a_prompt_to_a_ddpm_without_a_clip(folders, tmp_path) -> None:
    out = tmp_path / "x.png"
    res = run_zoo("sample", str(folders["plain"]), "--prompt", PROMPT, "-o", str(out))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr
    assert "does not take a prompt" in res.stderr and "drop --prompt" in res.stderr
    assert not out.exists()


def test_the_scenes_preset_guides_the_ddpm_scenes_preset() -> None:
    """noisy-clip-scenes reads what a ddpm of the "scenes" preset draws, at its schedule."""
    from zoo.plugins.ddpm.config import DDPMConfig
    from zoo.registry.diffusion import check_guide_schedule

    clip, ddpm = NoisyClipConfig.preset("scenes"), DDPMConfig.preset("scenes")
    check_guide_schedule(ddpm.schedule, clip.schedule, "clip")
    assert clip.schedule == ddpm.schedule
    assert (clip.channels, clip.image_size) == (ddpm.channels, ddpm.image_size) == (3, 32)


def test_a_prompt_without_a_label_defaults_to_the_unconditional_branch() -> None:
    """With a prompt and no label, the default guidance is 0: classifier-free guidance
    toward a label drawn from the seed would pull against the prompt. A label, or an
    explicit --guidance, keeps the config's scale or the one given."""
    gen = guided_ddpm()
    assert gen.default_guidance(Conditions(prompt=PROMPT)) == 0.0
    assert gen.default_guidance(Conditions(prompt=PROMPT, label=2)) == gen.config.guidance
    assert gen.default_guidance(Conditions()) == gen.config.guidance
    base = dict(seeds=(0, 1), conditions=Conditions(prompt=PROMPT), steps=3, batch_size=2)
    implicit = DDIMSampler().sample(gen, Draw(options=DDPMOptions(clip_scale=3.0), **base))
    explicit = DDIMSampler().sample(
        gen, Draw(options=DDPMOptions(clip_scale=3.0), guidance=0.0, **base)
    )
    torch.testing.assert_close(implicit, explicit, atol=0, rtol=0)
