"""AE, DAE, VAE: reconstruction, denoising, sampling, interpolation, and their CLI."""

from __future__ import annotations

import pytest
import torch

import zoo
from tests import digit_judge
from tests.conftest import run_zoo
from zoo.data import load_split
from zoo.images import save_png, to_pil
from zoo.plugins.vae.train import kl_to_standard_normal


def test_kl_term_matches_the_closed_form() -> None:
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 2.0]])
    # 1/2 sum (sigma^2 + mu^2 - 1 - log sigma^2)
    expected = 0.5 * ((1 + 1 - 1 - 0) + (torch.e**2 + 4 - 1 - 2))
    assert torch.allclose(kl_to_standard_normal(mu, logvar), torch.tensor([expected]))
    assert kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


@pytest.mark.parametrize("family", ["ae", "dae", "vae"])
def test_tiny_autoencoders_train_and_reconstruct(family: str, tmp_path) -> None:
    from zoo.train import train

    out = train(family, "digits", tmp_path / family, preset="tiny", steps=3, progress=False)
    model = zoo.load(str(out))
    r = model.reconstruct(torch.rand(2, 1, 8, 8), noise=0.2, seed=1)
    assert r["output"].shape == (2, 1, 8, 8) and not torch.equal(r["noisy"], r["input"])
    assert (out / "samples.png").exists()


@pytest.fixture(scope="module")
def digits():
    return load_split("digits", "test", 16)["image"]


def test_shipped_autoencoders_beat_the_mean_image(digits) -> None:
    baseline = (digits - digits.mean(0)).pow(2).mean()
    for mid in ("ae-digits", "dae-digits", "vae-digits"):
        out = zoo.load(mid).reconstruct(digits)["output"]
        assert (out - digits).pow(2).mean() < 0.3 * baseline, mid


def test_dae_denoises_better_than_ae(digits) -> None:
    def mse(mid: str) -> float:
        out = zoo.load(mid).reconstruct(digits, noise=0.3, seed=0)["output"]
        return (out - digits).pow(2).mean().item()

    assert mse("dae-digits") < 0.6 * mse("ae-digits")


def test_vae_samples_are_varied_digits() -> None:
    images = zoo.load("vae-digits").sample(n=100, seed=0).images
    assert len(set(digit_judge.predict(images).tolist())) >= 8


def test_interpolation_ends_are_the_decoded_ends(digits) -> None:
    model = zoo.load("vae-digits")
    row = model.interpolate(images=digits[:2], steps=5)
    ends = model.reconstruct(digits[:2])["output"]
    assert row.shape == (5, 1, 16, 16)
    assert torch.allclose(row[0], ends[0], atol=1e-5) and torch.allclose(
        row[-1], ends[1], atol=1e-5
    )
    walk = model.interpolate(seeds=[0, 1], steps=3)
    assert torch.allclose(walk[0], model.sample(n=1, seed=0).images[0], atol=1e-5)


def test_cli_reconstruct_and_its_errors(tmp_path, digits) -> None:
    src = tmp_path / "d.png"
    save_png(to_pil(digits[:1])[0], src)
    out = tmp_path / "r.png"
    proc = run_zoo(
        "reconstruct", "dae-digits", "--image", str(src), "--noise", "0.3", "--grid", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    proc = run_zoo("sample", "ae-digits", "-o", str(tmp_path / "s.png"))
    assert proc.returncode == 2 and "cannot generate" in proc.stderr and "vae-digits" in proc.stderr
    proc = run_zoo("interpolate", "ae-digits", "--seeds", "0", "1", "-o", str(tmp_path / "i.png"))
    assert proc.returncode == 2 and "no distribution over codes" in proc.stderr
    big = tmp_path / "big.png"
    save_png(to_pil(torch.rand(1, 1, 20, 20))[0], big)
    proc = run_zoo("reconstruct", "ae-digits", "--image", str(big), "-o", str(tmp_path / "b.png"))
    assert proc.returncode == 2 and "is 20x20" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_zoo(
        "reconstruct", "dcgan-digits", "--image", str(src), "-o", str(tmp_path / "c.png")
    )
    assert proc.returncode == 2 and "does not reconstruct" in proc.stderr


def test_vae_scenes_keeps_colour_and_count_and_samples_every_colour() -> None:
    from zoo.plugins.datasets.scenes import ATTRIBUTES

    model, judge = zoo.load("vae-scenes"), zoo.load("classifier-scenes").network
    data = load_split("scenes", "test", 32)
    x, truth = data["image"][:200], judge.canonical(data["attributes"][:200])
    out = model.reconstruct(x)["output"]
    assert (out - x).pow(2).mean() < 0.3 * (x - x.mean(0)).pow(2).mean()
    pred = judge.predict_attributes(out)
    for name in ("colour1", "count", "position1"):  # shape is blurred away (about chance)
        j = ATTRIBUTES.index(name)
        assert (pred[:, j] == truth[:, j]).float().mean() >= 0.9, name
    drawn = judge.predict_attributes(model.sample(n=200, seed=0).images)
    assert (drawn[:, ATTRIBUTES.index("colour1")].bincount(minlength=6) >= 10).all()
