"""The vqvae family: the quantiser, the straight-through gradient, the PixelCNN's causality,
both training phases at the tiny preset, requests, and the shipped vqvae-scenes model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from tests.conftest import run_zoo
from zoo.plugins.vqvae.config import VQVAEConfig
from zoo.plugins.vqvae.model import VectorQuantizer, VQVAEGenerator
from zoo.plugins.vqvae.train import VQVAERecipe
from zoo.registry.errors import RequestError

SHIPPED = "vqvae-scenes"


def build(preset: str = "tiny", **overrides) -> VQVAEGenerator:
    torch.manual_seed(0)
    return VQVAEGenerator(VQVAEConfig.preset(preset, **overrides)).eval()


# -- the quantiser -----------------------------------------------------------------------


def test_quantiser_picks_the_nearest_code() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 5)
    torch.nn.init.normal_(vq.codebook.weight)
    z_e = torch.randn(3, 5, 4, 4)
    z_q, codes, codebook_loss, commit_loss = vq(z_e)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 5)
    brute = torch.cdist(flat, vq.codebook.weight).argmin(1).view(3, 4, 4)
    assert torch.equal(codes, brute)
    chosen = vq.codebook.weight[brute].permute(0, 3, 1, 2)
    assert torch.allclose(z_q, chosen, atol=1e-6)  # forward value: the entries themselves
    gap = ((chosen - z_e) ** 2).mean()
    assert torch.allclose(codebook_loss, gap) and torch.allclose(commit_loss, gap)


def test_straight_through_gradient_reaches_the_encoder() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 3)
    z_e = torch.randn(2, 3, 2, 2, requires_grad=True)
    z_q, _, codebook_loss, commit_loss = vq(z_e)
    w = torch.randn_like(z_q)
    (z_q * w).sum().backward()
    assert torch.equal(z_e.grad, w)  # the decoder's gradient is copied unchanged
    assert vq.codebook.weight.grad is None  # ... and never reaches the codebook that way
    # the codebook loss moves the codebook only, the commitment loss the encoder only
    z_e.grad = None
    codebook_loss.backward(retain_graph=True)
    assert z_e.grad is None and vq.codebook.weight.grad.abs().sum() > 0
    vq.codebook.weight.grad = None
    commit_loss.backward()
    assert vq.codebook.weight.grad is None and z_e.grad.abs().sum() > 0


def test_reconstruction_loss_trains_the_encoder() -> None:
    gen = build()
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = gen.vqvae(x)
    F.mse_loss(out["recon"], x).backward()
    grads = [p.grad for p in gen.vqvae.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


# -- the prior ---------------------------------------------------------------------------


def cell_dependence(gen: VQVAEGenerator, t: int) -> torch.Tensor:
    """(L,) bool: which cells' codes the logits of cell t (raster order) depend on."""
    g = gen.config.grid
    codes = torch.randint(
        gen.config.codebook_size, (1, g, g), generator=torch.Generator().manual_seed(t)
    )
    x = gen.prior.embed(codes).permute(0, 3, 1, 2).detach().requires_grad_(True)
    logits = gen.prior.from_embeddings(x)
    logits[0, :, t // g, t % g].pow(2).sum().backward()
    return (x.grad.abs().sum(1) > 0).flatten()


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_pixelcnn_sees_exactly_the_earlier_codes(preset: str) -> None:
    """Causal (no later code, nor the code itself, reaches a cell's logits) and, for the
    shipped architecture, without a blind spot (every earlier code does)."""
    gen = build(preset)
    length = gen.config.tokens
    for t in range(length):
        seen = cell_dependence(gen, t)
        assert not seen[t:].any(), f"cell {t} sees cells {seen[t:].nonzero().flatten().tolist()}"
        if preset == "default":
            assert seen[:t].all(), (
                f"cell {t} misses cells {(~seen[:t]).nonzero().flatten().tolist()}"
            )


def test_changing_a_later_code_leaves_earlier_logits_alone() -> None:
    gen = build("default")
    g, k = gen.config.grid, gen.config.codebook_size
    codes = torch.randint(k, (2, g, g), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = gen.prior(codes).flatten(2)
        for t in (0, 9, 37, 63):
            changed = codes.clone().flatten(1)
            changed[:, t] = (changed[:, t] + 1) % k
            after = gen.prior(changed.view(2, g, g)).flatten(2)
            assert torch.equal(before[..., : t + 1], after[..., : t + 1])
            if t < 63:
                assert not torch.allclose(before[..., t + 1], after[..., t + 1])


def test_next_logits_match_the_full_grid() -> None:
    gen = build("default")
    g, k = gen.config.grid, gen.config.codebook_size
    codes = torch.randint(k, (2, g * g), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = gen.prior(codes.view(2, g, g)).flatten(2)
        for t in (0, 5, 8, 40, 63):
            got = gen.next_logits(codes[:, :t], {}, {})
            torch.testing.assert_close(got, full[..., t], rtol=1e-5, atol=1e-5)
        with pytest.raises(RequestError, match="t < 64"):
            gen.next_logits(codes, {}, {})


def test_decode_takes_codes_in_either_shape_and_latents() -> None:
    gen = build("default")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        codes = gen.codes(x)
        assert codes.shape == (2, 8, 8) and codes.dtype == torch.long
        a, b, c = gen.decode(codes), gen.decode(codes.flatten(1)), gen.decode(gen.encode(x))
    assert torch.equal(a, b) and torch.allclose(a, c, atol=1e-6)
    for bad, message in (
        (torch.full((1, 64), 128), "0..127"),
        (torch.zeros(1, 63, dtype=torch.long), r"\(B, 64\)"),
        (torch.zeros(1, 3, 8, 8), r"\(B, 32, 8, 8\)"),
    ):
        with pytest.raises(RequestError, match=message):
            gen.decode(bad)
    with pytest.raises(RequestError, match="images of shape"):
        gen.encode(torch.rand(1, 3, 16, 16))


# -- training ----------------------------------------------------------------------------


def test_tiny_recipe_trains_the_vqvae_then_the_prior() -> None:
    gen = build(steps=6, vq_fraction=0.5, restart_after=2)
    recipe = VQVAERecipe(gen, gen.config, torch.device("cpu"))
    batch = {"image": torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))}
    vq0 = {k: v.clone() for k, v in gen.vqvae.state_dict().items()}
    prior0 = {k: v.clone() for k, v in gen.prior.state_dict().items()}
    keys = []
    for step in range(6):
        losses = recipe.step(batch)
        assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
        keys.append(set(losses))
        if step == 2:
            assert all(torch.equal(prior0[k], v) for k, v in gen.prior.state_dict().items())
            vq3 = {k: v.clone() for k, v in gen.vqvae.state_dict().items()}
    assert keys[:3] == [{"recon", "codebook", "commit", "batch_perplexity", "restarted"}] * 3
    assert keys[3:] == [{"prior_ce"}] * 3
    assert any(not torch.equal(vq0[k], v) for k, v in vq3.items())
    assert all(torch.equal(vq3[k], v) for k, v in gen.vqvae.state_dict().items())  # frozen
    assert any(not torch.equal(prior0[k], v) for k, v in gen.prior.state_dict().items())


def test_dead_codes_move_onto_encoder_outputs() -> None:
    gen = build(steps=10, vq_fraction=0.9, restart_after=2, restart_until=1.0, codebook_size=8)
    recipe = VQVAERecipe(gen, gen.config, torch.device("cpu"))
    # every cell of a constant image encodes to one vector: one code is used, 7 are dead
    batch = {"image": torch.full((4, 3, 8, 8), 0.3)}
    moved = [recipe.step(batch)["restarted"] for _ in range(2)]
    with torch.no_grad():  # the encoder outputs the third step will see
        z_e = gen.vqvae.encoder(batch["image"]).permute(0, 2, 3, 1).reshape(-1, 4)
    moved.append(recipe.step(batch)["restarted"])
    assert moved[:2] == [0.0, 0.0] and moved[2] >= 6
    books = gen.vqvae.quantizer.codebook.weight.detach()
    near = torch.cdist(books, z_e).min(1).values
    assert (near < 1e-6).sum() >= 6  # the restarted entries sit on encoder outputs


def test_tiny_preset_trains_through_zoo_train(tmp_path) -> None:
    from zoo.train import train

    out = train("vqvae", "scenes", tmp_path / "vqvae-tiny", preset="tiny", progress=False)
    model = zoo.load(str(out), device="cpu")
    losses = model.card.zoo.training["final_losses"]
    assert {"recon", "codebook", "commit", "prior_ce"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values())
    assert "phases" in model.card.zoo.training["recipe"]
    assert model.sample(n=2, seed=0, temperature=0.5).images.shape == (2, 3, 8, 8)
    assert model.reconstruct(torch.rand(2, 3, 8, 8))["output"].shape == (2, 3, 8, 8)


# -- the shipped model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return zoo.load(SHIPPED, device="cpu")


@pytest.fixture(scope="module")
def test_images():
    from zoo.data import load_split

    return load_split("scenes", "test", 32)["image"][:256]


def test_reconstructions_beat_trivial_baselines(shipped, test_images) -> None:
    from zoo import metrics as M
    from zoo.eval_score import to_8bit

    x = test_images
    out = to_8bit(shipped.reconstruct(x)["output"])
    ssim, psnr = M.ssim(out, x), M.psnr(out, x)
    mean_image = to_8bit(x.mean(0, keepdim=True).expand_as(x))
    # the same 8x8 grid storing each cell's mean colour (3 floats, not 7 bits), upsampled
    cells = to_8bit(F.interpolate(F.avg_pool2d(x, 4), size=32, mode="bilinear"))
    assert ssim > M.ssim(mean_image, x) + 0.1, ssim
    assert psnr > M.psnr(cells, x) + 2.0, (psnr, M.psnr(cells, x))


def test_most_codes_are_used(shipped, test_images) -> None:
    with torch.no_grad():
        codes = shipped.generator.codes(test_images)
    used = len(codes.unique())
    assert used >= 100, f"only {used} of {shipped.generator.config.codebook_size} codes used"


def test_samples_are_recognisable_scenes(shipped, test_images) -> None:
    """classifier-scenes names the first object's shape and colour of samples about as
    confidently as of real scenes, and far more than of decoded random codes."""
    judge = zoo.load("classifier-scenes", device="cpu").network
    gen = shipped.generator

    def confidence(images: torch.Tensor) -> float:
        with torch.no_grad():
            heads = judge.head_logits(images)
        p = [heads[h].softmax(1).max(1).values for h in ("shape1", "colour1")]
        return float((p[0] * p[1]).mean())

    samples = shipped.sample(n=32, seed=0).images
    with torch.no_grad():
        noise = torch.cat(
            [gen.decode(gen.random_latents(1, torch.Generator().manual_seed(s))) for s in range(32)]
        )
    real, drawn, random = confidence(test_images[:32]), confidence(samples), confidence(noise)
    assert drawn > 0.7 and drawn > random + 0.2, (real, drawn, random)


def test_top_k_1_is_greedy_and_temperature_matters(shipped) -> None:
    greedy = shipped.sample(n=2, seed=0, top_k=1).images
    assert torch.equal(greedy[0], greedy[1])  # one choice per step: the seed cannot matter
    hot, cold = (shipped.sample(n=1, seed=3, temperature=t).images for t in (1.0, 0.3))
    assert not torch.equal(hot, cold)


def test_cli_sample_reconstruct_and_refusals(tmp_path, test_images) -> None:
    from zoo.images import save_png, to_pil

    out = tmp_path / "s.png"
    res = run_zoo(
        "sample", SHIPPED, "-n", "2", "--temperature", "0.9", "--top-p", "0.95", "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert out.exists()
    src, rec = tmp_path / "x.png", tmp_path / "r.png"
    save_png(to_pil(test_images[:1])[0], src)
    res = run_zoo("reconstruct", SHIPPED, "--image", str(src), "-o", str(rec))
    assert res.returncode == 0, res.stderr
    assert rec.exists()
    for args, message in (
        (("--truncation", "0.5"), "--truncation does not apply"),
        (("--prompt", "a red circle"), "does not take a prompt"),
        (("--temperature", "0"), "temperature"),
        (("--steps", "10"), "sampler 'ar' takes no --steps"),
    ):
        res = run_zoo("sample", SHIPPED, "-n", "1", *args, "-o", str(tmp_path / "bad.png"))
        assert res.returncode == 2 and message in res.stderr, (args, res.stderr)
