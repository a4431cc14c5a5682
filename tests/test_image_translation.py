"""Pix2Pix and CycleGAN: input sizes, directions, determinism, and the shipped models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from tests.conftest import run_zoo
from zoo.data import load_split
from zoo.images import save_png, to_pil


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    from zoo.train import train

    root = tmp_path_factory.mktemp("translators")
    return {
        "pix2pix": train(
            "pix2pix", "scenes-edges", root / "p", preset="tiny", steps=3, progress=False
        ),
        "cyclegan": train(
            "cyclegan", "scenes-daynight", root / "c", preset="tiny", steps=3, progress=False
        ),
    }


def _png(tmp: Path, name: str, image: torch.Tensor) -> str:
    path = tmp / name
    save_png(to_pil(image[None] if image.ndim == 3 else image)[0], path)
    return str(path)


def test_pix2pix_output_follows_the_input_size(tiny_models, tmp_path) -> None:
    model = zoo.load(str(tiny_models["pix2pix"]))  # depth 2: sides in multiples of 4
    cond = _png(tmp_path, "c.png", torch.rand(1, 24, 40))
    out = model.sample(n=2, seed=0, image=cond).images
    assert out.shape == (2, 3, 24, 40)
    assert not torch.equal(out[0], out[1])  # dropout noise from each seed
    assert torch.equal(out[1], model.sample(n=1, seed=1, image=cond).images[0])


def test_pix2pix_refuses_sizes_and_missing_input(tiny_models, tmp_path) -> None:
    folder = str(tiny_models["pix2pix"])
    odd = _png(tmp_path, "odd.png", torch.rand(1, 30, 30))
    proc = run_zoo("sample", folder, "--image", odd, "-o", str(tmp_path / "o.png"))
    assert proc.returncode == 2
    assert "is 30x30; this model needs sides that are multiples of 4" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_zoo("sample", folder, "-o", str(tmp_path / "o.png"))
    assert proc.returncode == 2 and "--image" in proc.stderr


def test_cyclegan_directions_and_determinism(tiny_models, tmp_path) -> None:
    model = zoo.load(str(tiny_models["cyclegan"]))
    day = _png(tmp_path, "d.png", torch.rand(3, 16, 16))
    a2b = model.sample(n=2, seed=0, image=day).images
    assert torch.equal(a2b[0], a2b[1])  # translation does not depend on the seed
    assert torch.equal(a2b, model.sample(n=2, seed=0, image=day, direction="a2b").images)
    b2a = model.sample(n=1, seed=0, image=day, direction="b2a").images
    assert not torch.equal(a2b[:1], b2a)
    proc = run_zoo("sample", str(tiny_models["cyclegan"]), "--image", day, "--direction", "up")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_zoo("sample", "dcgan-digits", "--direction", "a2b", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and "--direction does not apply to 'dcgan-digits'" in proc.stderr


def _test_pairs(n: int = 32) -> dict[str, torch.Tensor]:
    data = load_split("scenes-edges", "test", 32)
    return {"condition": data["condition"][:n], "image": data["image"][:n]}


def test_shipped_pix2pix_is_closer_to_the_truth_than_its_input(tmp_path) -> None:
    from zoo import metrics as M
    from zoo.eval_plan import untrained_twin

    model = zoo.load("pix2pix-scenes-edges")
    twin = untrained_twin(model)
    pairs = _test_pairs()
    outs, base = [], []
    for i, cond in enumerate(pairs["condition"]):
        path = _png(tmp_path, f"{i}.png", cond)
        outs.append(model.sample(n=1, seed=i, image=path).images)
        base.append(twin.sample(n=1, seed=i, image=path).images)
    out, untrained, truth = torch.cat(outs), torch.cat(base), pairs["image"]
    edges_rgb = pairs["condition"].expand(-1, 3, -1, -1)
    l1 = (out - truth).abs().mean()
    assert l1 < 0.5 * (edges_rgb - truth).abs().mean()
    assert l1 < 0.5 * (untrained - truth).abs().mean()
    assert M.ssim(out, truth) > M.ssim(edges_rgb, truth) + 0.1


def test_shipped_cyclegan_turns_day_to_night_and_back(tmp_path) -> None:
    model = zoo.load("cyclegan-daynight")
    day = load_split("scenes-day", "test", 32)["image"][:16]
    night = load_split("scenes-night", "test", 32)["image"][:16]
    to_night, cycled = [], []
    for i in range(16):
        out = model.sample(n=1, image=_png(tmp_path, f"d{i}.png", day[i])).images
        to_night.append(out)
        back = model.sample(n=1, image=_png(tmp_path, f"n{i}.png", out[0]), direction="b2a")
        cycled.append(back.images)
    to_night_t, cycled_t = torch.cat(to_night), torch.cat(cycled)
    # darker than the input, about as dark as real nights
    assert to_night_t.mean() < 0.6 * day.mean()
    assert abs(to_night_t.mean() - night.mean()) < 0.1
    # F(G(a)) ~ a: the cycle keeps the scene (8-bit PNG round trips included)
    assert (cycled_t - day).abs().mean() < 0.1
    to_day = torch.cat(
        [
            model.sample(n=1, image=_png(tmp_path, f"x{i}.png", night[i]), direction="b2a").images
            for i in range(8)
        ]
    )
    assert to_day.mean() > 1.5 * night[:8].mean()
