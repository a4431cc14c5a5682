"""Stable Diffusion repos in diffusers' layout, loaded by the zoo's ldm family: the whole
text-to-image, img2img and inpainting runs against diffusers' own pipelines, on tiny random
pipelines of SD 1.x and 2.x shape saved with ``save_pretrained`` (fp32, CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

import zoo  # noqa: E402
from zoo.api import make_request  # noqa: E402
from zoo.plugins.nn.clip_bpe import build_clip_vocab, write_tokenizer  # noqa: E402
from zoo.registry.errors import CardError, RequestError  # noqa: E402

CAPTIONS = [
    f"a {size} {colour} {shape} {where}"
    for size in ("small", "large")
    for colour in ("red", "green", "blue", "orange")
    for shape in ("circle", "square", "triangle")
    for where in ("in the center", "on the left", "at the top")
]
PROMPT = "a large red circle in the center"
NEGATIVE = "a blue square"


def tiny_pipeline(folder: Path, *, sd2: bool = False, inpaint: bool = False, seed: int = 0) -> Path:
    """A random Stable Diffusion pipeline of SD 1.x (or 2.x) shape, saved in diffusers'
    layout; every weight moved off its init so zero-init layers hide nothing."""
    torch.manual_seed(seed)
    tok_dir = folder / "_tok"
    vocab, merges = build_clip_vocab(CAPTIONS, num_merges=60)
    write_tokenizer(tok_dir, vocab, merges, pad_token="!" if sd2 else "<|endoftext|>")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(str(tok_dir))
    text = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="gelu" if sd2 else "quick_gelu",
            eos_token_id=vocab["<|endoftext|>"],
            bos_token_id=vocab["<|startoftext|>"],
            pad_token_id=vocab["!"] if sd2 else vocab["<|endoftext|>"],
        )
    )
    unet = diffusers.UNet2DConditionModel(
        sample_size=8,
        in_channels=9 if inpaint else 4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=32,
        attention_head_dim=[2, 4] if sd2 else 4,
        use_linear_projection=sd2,
    )
    vae = diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 32),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
    )
    with torch.no_grad():
        for net in (text, unet, vae):
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="v_prediction" if sd2 else "epsilon",
    )
    cls = diffusers.StableDiffusionInpaintPipeline if inpaint else diffusers.StableDiffusionPipeline
    pipe = cls(
        unet=unet,
        vae=vae,
        text_encoder=text.eval(),
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = folder / "repo"
    pipe.save_pretrained(out)
    shutil.rmtree(tok_dir)
    return out


def noise(seeds: list[int], shape: tuple[int, ...]) -> torch.Tensor:
    """x_T as the zoo draws it: one standard normal draw per image's own seed stream."""
    return torch.cat(
        [torch.randn((1, *shape), generator=torch.Generator().manual_seed(s)) for s in seeds]
    )


def zoo_draw(repo: Path, **kw: object) -> torch.Tensor:
    model = zoo.load(str(repo))
    request = make_request(sampler="ddim", autocast="none", **kw)
    return model.run(request).images


@pytest.fixture(scope="module", params=["sd1", "sd2"])
def repo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_pipeline(tmp_path_factory.mktemp(request.param), sd2=request.param == "sd2")


def test_text_to_image_matches_the_pipeline(repo: Path) -> None:
    seeds = [3, 4]
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(repo).to("cpu")
    want = pipe(
        [PROMPT] * 2,
        negative_prompt=[NEGATIVE] * 2,
        num_inference_steps=10,
        guidance_scale=7.5,
        latents=noise(seeds, (4, 8, 8)),
        output_type="pt",
    ).images
    got = zoo_draw(
        repo, prompt=PROMPT, negative_prompt=NEGATIVE, steps=10, guidance=7.5, seed=3, n=2
    )
    assert got.shape == want.shape == (2, 3, 32, 32)
    assert (got - want).abs().max().item() < 1e-3


def test_img2img_matches_the_pipeline(repo: Path, tmp_path: Path) -> None:
    from PIL import Image

    g = torch.Generator().manual_seed(9)
    picture = (torch.rand(1, 3, 32, 32, generator=g) * 255).round() / 255
    path = tmp_path / "in.png"
    Image.fromarray((picture[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(path)
    model = zoo.load(str(repo))
    start = model.generator.encode(picture)  # the zoo starts from the posterior mean
    pipe = diffusers.StableDiffusionImg2ImgPipeline.from_pretrained(repo).to("cpu")
    want = pipe(
        PROMPT,
        image=start,  # 4 channels: taken as latents, no second encoding
        strength=0.6,
        num_inference_steps=10,
        guidance_scale=7.5,
        generator=[torch.Generator().manual_seed(5)],
        output_type="pt",
    ).images
    got = zoo_draw(
        repo, prompt=PROMPT, image=str(path), strength=0.6, steps=10, guidance=7.5, seed=5
    )
    assert (got - want).abs().max().item() < 1e-3
    # SDEdit runs the last int(steps * strength) steps: the progress counts them
    for sampler in ("ddpm", "ddim", "dpm++2m", "euler", "euler-a"):
        ticks: list[tuple[int, int]] = []
        model.run(
            make_request(prompt=PROMPT, image=str(path), strength=0.6, steps=10, sampler=sampler),
            progress=lambda done, total, ticks=ticks: ticks.append((done, total)),
        )
        assert ticks == [(i, 6) for i in range(1, 7)], sampler
    with pytest.raises(RequestError, match="--strength 0.05 of 10 steps runs no step"):
        zoo_draw(repo, prompt=PROMPT, image=str(path), strength=0.05, steps=10)


def test_inpainting_matches_the_pipeline(tmp_path: Path) -> None:
    from PIL import Image

    repo = tiny_pipeline(tmp_path, inpaint=True)
    g = torch.Generator().manual_seed(11)
    picture = (torch.rand(1, 3, 32, 32, generator=g) * 255).round() / 255
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    Image.fromarray((picture[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(
        tmp_path / "in.png"
    )
    Image.fromarray((mask[0, 0] * 255).byte().numpy()).save(tmp_path / "mask.png")
    model = zoo.load(str(repo))
    masked = model.generator.vae.latents((picture * 2 - 1) * (mask < 0.5))
    pipe = diffusers.StableDiffusionInpaintPipeline.from_pretrained(repo).to("cpu")
    want = pipe(
        PROMPT,
        image=picture,
        mask_image=mask,
        masked_image_latents=masked,
        num_inference_steps=10,
        guidance_scale=7.5,
        latents=noise([2], (4, 8, 8)),
        output_type="pt",
    ).images
    got = zoo_draw(
        repo, prompt=PROMPT, image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"),
        steps=10, guidance=7.5, seed=2,
    )  # fmt: skip
    assert (got - want).abs().max().item() < 1e-3


@pytest.mark.parametrize("scheduler", ["DDIMScheduler", "EulerDiscreteScheduler"])
def test_inpainting_by_blending_matches_the_pipeline(scheduler: str, tmp_path: Path) -> None:
    """An ordinary (4-channel) U-Net with a mask: the kept region is replaced after every
    step by the input's latent at that step's noise level, as diffusers' inpainting
    pipeline does with such a U-Net (its image given as latents, so both start from the
    same latent)."""
    from PIL import Image

    repo = tiny_pipeline(tmp_path)
    sampler = {"DDIMScheduler": "ddim", "EulerDiscreteScheduler": "euler"}[scheduler]
    g = torch.Generator().manual_seed(13)
    picture = (torch.rand(1, 3, 32, 32, generator=g) * 255).round() / 255
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :, 16:] = 1  # repaint the right half
    Image.fromarray((picture[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(
        tmp_path / "in.png"
    )
    Image.fromarray((mask[0, 0] * 255).byte().numpy()).save(tmp_path / "mask.png")
    model = zoo.load(str(repo))
    start = model.generator.encode(picture)
    pipe = diffusers.StableDiffusionInpaintPipeline.from_pretrained(repo).to("cpu")
    pipe.scheduler = getattr(diffusers, scheduler).from_config(pipe.scheduler.config)
    want = pipe(
        PROMPT,
        image=start,
        mask_image=mask,
        masked_image_latents=start,  # unused by a 4-channel U-Net; spares an encoding
        height=32,
        width=32,
        num_inference_steps=10,
        guidance_scale=7.5,
        latents=noise([4], (4, 8, 8)),
        output_type="pt",
    ).images
    model = zoo.load(str(repo))
    got = model.run(
        make_request(
            prompt=PROMPT, image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"),
            steps=10, guidance=7.5, seed=4, sampler=sampler, autocast="none",
        )
    ).images  # fmt: skip
    assert (got - want).abs().max().item() < 1e-3
    # the kept half decodes from the input's latent alone; the repainted half does not
    kept = model.generator.decode(start)
    assert (got - kept)[..., :8].abs().max() < (got - kept)[..., 24:].abs().max()


def test_every_sampler_draws_and_sizes_follow_the_request(repo: Path) -> None:
    for sampler in ("ddpm", "ddim", "dpm++2m", "euler", "euler-a"):
        model = zoo.load(str(repo))
        images = model.run(
            make_request(prompt=PROMPT, steps=4, sampler=sampler, height=40, width=24)
        ).images
        assert images.shape == (1, 3, 40, 24) and torch.isfinite(images).all()
    with pytest.raises(RequestError, match="--height 34 is not a multiple of 4"):
        zoo.load(str(repo)).run(make_request(prompt=PROMPT, steps=2, height=34))


def test_the_repo_needs_no_zoo_card_and_names_its_sampler(repo: Path) -> None:
    from zoo.catalog import resolve

    res = resolve(str(repo))
    assert res.family.name == "ldm"
    assert res.default_sampler() == "ddim"
    assert set(res.card.zoo.files) == {
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    }


def test_fp16_variants_and_shards_load_the_same(repo: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "variant"
    shutil.copytree(repo, copy)
    unet = copy / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(unet)
    unet.unlink()
    save_file(
        {k: v.half() for k, v in state.items()},
        copy / "unet" / "diffusion_pytorch_model.fp16.safetensors",
    )
    text = copy / "text_encoder" / "model.safetensors"
    tstate = load_file(text)
    text.unlink()
    keys = sorted(tstate)
    half = len(keys) // 2
    shards = {
        "model-00001-of-00002.safetensors": keys[:half],
        "model-00002-of-00002.safetensors": keys[half:],
    }
    for name, part in shards.items():
        save_file({k: tstate[k] for k in part}, copy / "text_encoder" / name)
    (copy / "text_encoder" / "model.safetensors.index.json").write_text(
        json.dumps(
            {"metadata": {}, "weight_map": {k: n for n, part in shards.items() for k in part}}
        )
    )
    a = zoo_draw(repo, prompt=PROMPT, steps=4, seed=1)
    b = zoo_draw(copy, prompt=PROMPT, steps=4, seed=1)
    assert (a - b).abs().max().item() < 2e-2  # the U-Net's weights went through float16


def test_broken_repos_are_one_line(repo: Path, tmp_path: Path) -> None:
    from zoo.catalog import resolve

    copy = tmp_path / "broken"
    shutil.copytree(repo, copy)
    index = json.loads((copy / "model_index.json").read_text())
    (copy / "model_index.json").write_text(
        json.dumps({**index, "_class_name": "KandinskyPipeline"})
    )
    with pytest.raises(CardError, match="'KandinskyPipeline' repo; no installed family reads it"):
        resolve(str(copy))
    (copy / "model_index.json").write_text(json.dumps(index))
    (copy / "vae" / "diffusion_pytorch_model.safetensors").rename(
        copy / "vae" / "diffusion_pytorch_model.bin"
    )
    with pytest.raises(CardError, match="vae/ has only pickle weights"):
        resolve(str(copy))


def test_a_repo_on_the_hub_pulls_and_draws(tmp_path: Path) -> None:
    """`zoo sample hf:tiny/sd@COMMIT` against a fake Hub on 127.0.0.1: configs, tokenizer and
    the networks' weights are fetched (nothing else), each weight checked against the sha256
    the Hub announced; a tampered weight is refused and removed."""
    from tests.conftest import run_zoo
    from tests.fakehub import FakeHub
    from tests.test_hub import clean_env

    repo = tiny_pipeline(tmp_path / "sd")  # the Hub side does not depend on the SD version
    with FakeHub() as hub:
        commit = hub.add_repo("tiny/sd", repo)
        env = clean_env(hub.url, tmp_path / "hf", HF_HUB_OFFLINE="0")
        out = tmp_path / "drawn.png"
        ref = f"hf:tiny/sd@{commit}"
        done = run_zoo("sample", ref, "--prompt", PROMPT, "--steps", "3", "-o", str(out), env=env)
        assert done.returncode == 0, done.stderr
        assert out.is_file()
        fetched = {path for _, path, _ in hub.requests if "/resolve/" in path}
        assert any(p.endswith("unet/diffusion_pytorch_model.safetensors") for p in fetched)
        assert any(p.endswith("tokenizer/tokenizer.json") for p in fetched)
        again = run_zoo("sample", "--from", str(out), "-o", str(tmp_path / "again.png"), env=env)
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "again.png").read_bytes() == out.read_bytes()

        hub.tampered = {"vae/diffusion_pytorch_model.safetensors"}
        env2 = clean_env(hub.url, tmp_path / "hf2", HF_HUB_OFFLINE="0")
        bad = run_zoo(
            "sample",
            ref,
            "--prompt",
            PROMPT,
            "--steps",
            "3",
            "-o",
            str(tmp_path / "x.png"),
            env=env2,
        )
        assert bad.returncode == 2
        assert "vae/diffusion_pytorch_model.safetensors" in bad.stderr and "sha256" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # three CLI runs: the slow tier, which .ci/run runs
def test_a_single_file_checkpoint_converts_and_draws_the_same(tmp_path: Path) -> None:
    """An SD 1.x-shaped repo's weights written as one original-layout file (the inverse
    renamings of tests/test_sd_single.py and tests/test_sd_vae.py, checked there against
    diffusers' own converters), converted back with `zoo convert --like` the repo: the
    folder draws what the repo draws."""
    from safetensors.torch import load_file, save_file

    from tests.conftest import run_zoo
    from tests.test_sd_single import _unet_to_original
    from tests.test_sd_vae import _to_original as vae_to_original

    repo = tiny_pipeline(tmp_path / "sd")
    unet_cfg = json.loads((repo / "unet" / "config.json").read_text())
    vae_cfg = json.loads((repo / "vae" / "config.json").read_text())
    unet = load_file(repo / "unet" / "diffusion_pytorch_model.safetensors")
    vae = load_file(repo / "vae" / "diffusion_pytorch_model.safetensors")
    text = load_file(repo / "text_encoder" / "model.safetensors")
    single = {f"model.diffusion_model.{k}": v for k, v in _unet_to_original(unet, unet_cfg).items()}
    single |= {
        f"first_stage_model.{k}": v
        for k, v in vae_to_original(vae, len(vae_cfg["block_out_channels"])).items()
    }
    single |= {
        "cond_stage_model.transformer."
        + (k if k.startswith("text_model.") else "text_model." + k): v
        for k, v in text.items()
    }
    path = tmp_path / "single.safetensors"
    save_file({k: v.contiguous() for k, v in single.items()}, path)
    out = tmp_path / "converted"
    done = run_zoo("convert", str(path), "--like", str(repo), "-o", str(out))
    assert done.returncode == 0, done.stderr
    a = zoo_draw(repo, prompt=PROMPT, steps=4, seed=2)
    b = zoo_draw(out, prompt=PROMPT, steps=4, seed=2)
    assert torch.equal(a, b)
    again = run_zoo("convert", str(path), "--like", str(repo), "-o", str(out))
    assert again.returncode == 2 and "exists" in again.stderr
    del single[next(k for k in single if k.startswith("first_stage_model.decoder"))]
    save_file({k: v.contiguous() for k, v in single.items()}, path)
    broken = run_zoo("convert", str(path), "--like", str(repo), "-o", str(tmp_path / "b"))
    assert broken.returncode == 2 and "decoder" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
