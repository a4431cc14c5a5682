"""GLIDE at tiny sizes: the text path of the network, training and the model folder with its
tokenizer, prompts of any text, classifier-free and CLIP guidance, every diffusion sampler,
inpainting (fine-tuned from a base), the upsampler, and the command line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from tests.conftest import zoo_code
from zoo.plugins.glide.config import GlideConfig, GlideOptions
from zoo.plugins.glide.model import GlideGenerator
from zoo.plugins.glide.train import GlideRecipe
from zoo.plugins.nn.clip_bpe import CLIPBPETokenizer, build_clip_vocab
from zoo.plugins.nn.text import PromptTruncatedWarning
from zoo.registry.contracts import Conditions, Draw
from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPT = "a small red circle on the left"
CAPTIONS = [PROMPT, "a big blue square above a little yellow triangle", "a green diamond"] * 20
DIFFUSION_SAMPLERS = sorted(
    n for n, s in get_registry().samplers.items() if s.process == "diffusion"
)


def _jitter(*nets: torch.nn.Module, seed: int = 0) -> None:
    """Give untrained networks (zero-initialised output layers) outputs that vary."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for net in nets:
            for p in net.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.2)


def tiny(preset: str = "tiny", **overrides) -> GlideGenerator:
    torch.manual_seed(0)
    gen = GlideGenerator(GlideConfig.preset(preset, **overrides)).eval()
    vocab, merges = build_clip_vocab(CAPTIONS, 40)
    gen.use_tokenizer(CLIPBPETokenizer(vocab, merges))
    _jitter(gen.text_encoder, gen.unet)
    return gen


def draw(gen: GlideGenerator, sampler: str = "ddim", *, seeds=(0, 1), batch=2, guidance=None,
         steps=3, options=None, **conditions) -> torch.Tensor:  # fmt: skip
    cls = load_object(get_registry().samplers[sampler].sampler)
    d = Draw(
        seeds=tuple(seeds),
        conditions=Conditions(**conditions),
        options=options or GlideOptions(),
        steps=steps,
        guidance=guidance,
        batch_size=batch,
    )
    return cls().sample(gen, d)


def _eps(gen: GlideGenerator, prompt: str) -> torch.Tensor:
    torch.manual_seed(3)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        enc = gen.encode_conditions(Conditions(prompt=prompt), GlideOptions(), [0, 1])
        return gen.denoise(x, torch.tensor([5, 12]), enc)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`zoo train glide --data scenes --preset tiny --steps 3`."""
    from zoo.train import train

    out = tmp_path_factory.mktemp("glide") / "glide-tiny"
    train("glide", "scenes", out, preset="tiny", steps=3, progress=False)
    return out


@pytest.fixture(scope="module")
def inpaint_folder(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inpainting model fine-tuned from ``folder`` for 2 steps."""
    from zoo.train import train

    out = tmp_path_factory.mktemp("glide") / "glide-tiny-inpaint"
    sets = {"init_from": str(folder)}
    train("glide", "scenes", out, preset="tiny-inpaint", steps=2, sets=sets, progress=False)
    return out


# -- the network -------------------------------------------------------------------------


def test_the_output_follows_the_prompt_through_both_text_paths() -> None:
    gen = tiny()
    base = _eps(gen, PROMPT)
    assert not torch.allclose(base, _eps(gen, "a big blue square"), atol=1e-4)
    # the appended keys and values are used: without them the output changes
    projections = gen.unet.text_projections()
    assert len(projections) == 4  # one down and two up blocks at 4x4, and the middle
    saved = [(p.weight.clone(), p.bias.clone()) for p in projections]
    with torch.no_grad():
        for p in projections:
            p.weight.zero_()
            p.bias.zero_()
    assert not torch.allclose(base, _eps(gen, PROMPT), atol=1e-4)
    with torch.no_grad():
        for p, (w, b) in zip(projections, saved, strict=True):
            p.weight.copy_(w)
            p.bias.copy_(b)
        # and so is the end-of-text state added to the timestep embedding
        gen.unet.text_embed.weight.zero_()
    assert not torch.allclose(base, _eps(gen, PROMPT), atol=1e-4)


def test_padding_never_changes_the_output() -> None:
    """The same prompt in a longer context gives the same output: padding is masked out."""
    short = tiny(text_context=24)
    long = tiny(text_context=32)
    state = short.text_encoder.state_dict()
    state["position"] = torch.cat([state["position"], long.text_encoder.position[24:]])
    long.text_encoder.load_state_dict(state)
    long.unet.load_state_dict(short.unet.state_dict())
    torch.testing.assert_close(_eps(short, "a red dot"), _eps(long, "a red dot"), atol=1e-5, rtol=0)


def test_a_few_recipe_steps_give_finite_losses_and_a_learned_tokenizer() -> None:
    config = GlideConfig.preset("tiny")
    torch.manual_seed(0)
    gen = GlideGenerator(config)
    recipe = GlideRecipe(gen, config, torch.device("cpu"))
    recipe.prepare({"caption": CAPTIONS})
    assert len(gen.tokenizer.vocab) == 514 + 40
    batch = {"image": torch.rand(4, 3, 8, 8), "caption": CAPTIONS[:4]}
    before = [p.clone() for p in gen.unet.parameters()]
    for _ in range(3):
        losses = recipe.step(batch)
        assert set(losses) == {"loss", "mse", "vlb"}
        assert all(np.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, gen.unet.parameters(), strict=True))


# -- the model folder ------------------------------------------------------------------


def test_a_trained_folder_reloads_with_its_tokenizer_and_draws_the_same_bytes(folder: Path) -> None:
    assert (folder / "tokenizer" / "merges.txt").is_file()
    first = zoo.load(str(folder), device="cpu")
    assert len(first.generator.tokenizer.vocab) > 514  # merges learned from the captions
    a = first.sample(n=2, seed=4, prompt=PROMPT, steps=3)
    again = zoo.load(str(folder), device="cpu")
    b = again.sample(n=2, seed=4, prompt=PROMPT, steps=3)
    assert a.images.shape == (2, 3, 8, 8)
    assert torch.equal(a.images, b.images)


@pytest.mark.parametrize("sampler", DIFFUSION_SAMPLERS)
def test_every_diffusion_sampler_draws_the_requested_size(sampler: str) -> None:
    images = draw(tiny(), sampler, prompt=PROMPT, height=16, width=8)
    assert images.shape == (2, 3, 16, 8)
    assert torch.isfinite(images).all()


def test_any_text_draws_and_a_long_one_is_cut_with_one_notice() -> None:
    gen = tiny()
    unknown = draw(gen, prompt="zxqv blorf ☃ naïve")
    known = draw(gen, prompt=PROMPT)
    assert unknown.shape == known.shape and not torch.equal(unknown, known)
    long = "a small red circle " + "and a very long tail " * 450
    assert 9_000 < len(long) <= 10_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = draw(gen, prompt=long, seeds=(0, 1, 2), batch=1)  # three batches
    notices = [w for w in caught if issubclass(w.category, PromptTruncatedWarning)]
    assert images.shape == (3, 3, 8, 8)
    assert len(notices) == 1
    message = str(notices[0].message)
    assert "the rest is dropped" in message and "tail" in message and "\n" not in message


@pytest.mark.parametrize("prompt", ["", "   "])
def test_an_empty_prompt_is_one_line(prompt: str) -> None:
    with pytest.raises(RequestError, match="the prompt is empty") as err:
        draw(tiny(), prompt=prompt)
    assert "\n" not in str(err.value)


def test_classifier_free_guidance_and_its_null_condition() -> None:
    gen = tiny()
    assert gen.default_guidance(Conditions(prompt=PROMPT)) == 3.0
    default = draw(gen, prompt=PROMPT)
    assert not torch.equal(default, draw(gen, prompt=PROMPT, guidance=0.0))
    # scale 0 is the empty caption's branch, the same as drawing without a prompt
    assert torch.equal(draw(gen, prompt=PROMPT, guidance=0.0), draw(gen, guidance=0.0))
    # a negative prompt replaces the empty caption as the null condition
    assert not torch.equal(default, draw(gen, prompt=PROMPT, negative_prompt="a blue square"))


def test_clip_guidance_steers_through_the_clip_component() -> None:
    from zoo.plugins.noisyclip.config import NoisyClipConfig
    from zoo.plugins.noisyclip.model import NoisyClipNetwork

    gen = tiny()
    schedule = gen.config.schedule.model_dump()
    with pytest.raises(RequestError, match="names no 'clip' component"):
        draw(gen, prompt=PROMPT, options=GlideOptions(clip_scale=3))
    torch.manual_seed(0)
    clip = NoisyClipNetwork(NoisyClipConfig.preset("tiny", schedule=schedule)).eval()
    _jitter(clip.net.image, seed=3)
    gen.components["clip"] = clip
    plain = draw(gen, prompt=PROMPT, guidance=1.0)
    steered = draw(gen, prompt=PROMPT, guidance=1.0, options=GlideOptions(clip_scale=30))
    assert not torch.equal(plain, steered)


# -- inpainting ------------------------------------------------------------------------


def _scene(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """An 8x8 image with 8-bit levels and a mask with a 4x3 white rectangle."""
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (1, 3, 8, 8), generator=g).float() / 255
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 3:6] = 1
    return image, mask


@pytest.mark.parametrize("sampler", DIFFUSION_SAMPLERS)
@pytest.mark.parametrize("preset", ["tiny-inpaint", "tiny"])
def test_inpainting_keeps_every_pixel_outside_the_mask(preset: str, sampler: str) -> None:
    image, mask = _scene()
    out = draw(tiny(preset), sampler, prompt=PROMPT, image=image, mask=mask)
    outside = (1 - mask).bool().expand_as(out)
    assert (out - image).abs()[outside].max() < 1e-6  # 0 after 8-bit rounding
    assert (out - image).abs()[~outside].max() > 1e-3  # the white region is repainted


def test_the_inpainting_model_starts_as_its_base(folder: Path) -> None:
    base = zoo.load(str(folder), device="cpu").generator
    _jitter(base.text_encoder, base.unet, seed=5)  # outputs that vary (3 steps move little)
    config = GlideConfig.preset("tiny-inpaint", init_from=str(folder))
    gen = GlideGenerator(config)
    gen.components["init"] = base
    GlideRecipe(gen, config, torch.device("cpu"))
    assert gen.config.init_from is None  # the trained folder names no model to load
    assert gen.tokenizer.vocab == base.tokenizer.vocab
    assert gen.unet.stem.weight[:, 3:].abs().max() == 0
    image, mask = _scene()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([3, 9])
    with torch.no_grad():
        conditions = Conditions(prompt=PROMPT, image=image, mask=mask)
        enc = gen.encode_conditions(conditions, GlideOptions(), [0, 1])
        want = base.denoise(
            x, t, base.encode_conditions(Conditions(prompt=PROMPT), GlideOptions(), [0, 1])
        )
        torch.testing.assert_close(gen.denoise(x, t, enc), want, atol=1e-5, rtol=1e-5)


def _png(array: np.ndarray, path: Path) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_inpainting_from_files_and_bad_masks(inpaint_folder: Path, tmp_path: Path) -> None:
    model = zoo.load(str(inpaint_folder), device="cpu")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = _png(pixels, tmp_path / "scene.png")
    white = np.zeros((8, 8), dtype=np.uint8)
    white[2:6, 1:5] = 255
    mask = _png(white, tmp_path / "mask.png")
    samples = model.sample(n=2, seed=0, prompt="a blue square", image=image, mask=mask, steps=3)
    out = (samples.images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    keep = white == 0
    assert (out[:, keep] == pixels[keep]).all()
    # without an image the inpainting model draws from the prompt alone
    assert model.sample(n=1, prompt=PROMPT, steps=2).images.shape == (1, 3, 8, 8)
    small = _png(np.full((4, 4), 255, dtype=np.uint8), tmp_path / "small.png")
    with pytest.raises(RequestError, match="it must have the input image's size"):
        model.sample(prompt=PROMPT, image=image, mask=small, steps=2)
    black = _png(np.zeros((8, 8), dtype=np.uint8), tmp_path / "black.png")
    with pytest.raises(RequestError, match="no white pixel"):
        model.sample(prompt=PROMPT, image=image, mask=black, steps=2)
    # an image without a mask is img2img, as on the base: its strength changes the draw
    a = model.sample(n=1, prompt=PROMPT, image=image, strength=0.3, steps=4).images
    b = model.sample(n=1, prompt=PROMPT, image=image, strength=0.9, steps=4).images
    assert a.shape == (1, 3, 8, 8) and not torch.equal(a, b)


# -- the upsampler -----------------------------------------------------------------------


def test_the_upsampler_reads_its_low_resolution_input() -> None:
    gen = tiny("tiny-upsampler")
    low, _ = _scene()
    a = draw(gen, prompt=PROMPT, image=low)
    assert a.shape == (2, 3, 16, 16)
    assert not torch.equal(a, draw(gen, prompt=PROMPT, image=low.flip(-1)))
    with pytest.raises(RequestError, match="this is an upsampler"):
        draw(gen, prompt=PROMPT)
    config = gen.config
    recipe = GlideRecipe(gen, config, torch.device("cpu"))
    losses = recipe.step({"image": torch.rand(4, 3, 16, 16), "caption": CAPTIONS[:4]})
    assert all(np.isfinite(v) for v in losses.values())


# -- the command line --------------------------------------------------------------------


def test_the_command_line_draws_and_refuses_an_empty_prompt(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    code = zoo_code("sample", str(folder), "--prompt", "an orange circle", "-n", "2", "--steps", "2",
                "-o", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert out.is_file()
    capsys.readouterr()
    assert zoo_code("sample", str(folder), "--prompt", "", "-o", str(tmp_path / "no.png")) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: ") and "the prompt is empty" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_text_model_that_takes_images_is_shown_and_timed_from_text_alone(
    folder: Path, inpaint_folder: Path
) -> None:
    """samples.png and `zoo bench` of a text-to-image model that also does img2img and
    inpainting draw from the prompt alone; no example image is written for them."""
    import zoo
    from zoo.registry.cards import read_card
    from zoo.train import example_options, needs_image

    for where in (folder, inpaint_folder):
        model = zoo.load(str(where))
        assert not needs_image(model)
        assert set(example_options(model)) == {"prompt"}
        assert not (where / "example-input.png").exists()
        card, _ = read_card(where)
        assert "--image" not in card.zoo.sampling["request"]


def test_the_truncation_notice_is_one_line_on_the_command_line(
    folder: Path, tmp_path: Path
) -> None:
    from tests.conftest import run_zoo

    long = " ".join(["a red circle on the left"] * 40) + " finalword"
    proc = run_zoo("sample", str(folder), "--prompt", long, "-n", "2", "--steps", "2",
                   "-o", str(tmp_path / "grid.png"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "zoo: warning:" in line]
    assert len(notes) == 1 and "finalword" in notes[0], proc.stderr
    assert "warnings.warn" not in proc.stderr and "Warning:" not in proc.stderr
