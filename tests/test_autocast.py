"""Diffusion samplers run the denoiser under bfloat16 autocast by default; PNGs record it."""

from __future__ import annotations

import json

import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

import zoo
from tests.conftest import run_zoo
from zoo.images import META_KEY, read_meta

SHIPPED = "ddpm-digits"


def test_autocast_is_the_default_and_none_draws_in_float32() -> None:
    model = zoo.load(SHIPPED, device="cpu")
    kw = dict(n=2, seed=1, label=4, steps=10)
    default = model.sample(**kw).images
    bf16 = model.sample(autocast="bfloat16", **kw).images
    fp32 = model.sample(autocast="none", **kw).images
    torch.testing.assert_close(default, bf16, atol=0, rtol=0)
    gap = (default - fp32).abs().max().item()
    assert 0 < gap < 0.05  # bfloat16 rounding: other pixels, the same digits
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what the option does, done by hand
        by_hand = model.sample(autocast="none", **kw).images
    torch.testing.assert_close(default, by_hand, atol=0, rtol=0)


def test_batch_independence_holds_under_autocast() -> None:
    model = zoo.load(SHIPPED, device="cpu")
    batch = model.sample(n=3, seed=7, steps=8, sampler="euler-a", batch_size=3).images
    alone = model.sample(n=1, seed=8, steps=8, sampler="euler-a").images
    assert (batch[1] - alone[0]).abs().max() < 1 / 255


def test_pngs_record_autocast_and_older_pngs_replay_in_float32(tmp_path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    args = ("--label", "2", "--steps", "6", "--seed", "3")
    assert run_zoo("sample", SHIPPED, *args, "-o", str(a)).returncode == 0
    assert read_meta(a)["options"] == {"autocast": "bfloat16"}
    # a PNG written before the option existed: its parameters name no autocast
    fp32 = tmp_path / "fp32.png"
    assert run_zoo("sample", SHIPPED, *args, "--autocast", "none", "-o", str(fp32)).returncode == 0
    old = tmp_path / "old.png"
    meta = read_meta(fp32)
    del meta["options"]
    info = PngInfo()
    info.add_text(META_KEY, json.dumps(meta))
    Image.open(fp32).save(old, pnginfo=info)
    assert run_zoo("sample", "--from", str(old), "-o", str(b)).returncode == 0
    assert read_meta(b)["options"] == {"autocast": "none"}
    assert Image.open(b).tobytes() == Image.open(fp32).tobytes() != Image.open(a).tobytes()
