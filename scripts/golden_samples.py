"""Record (or check) the bytes every shipped model draws for a fixed set of requests.

    python scripts/golden_samples.py --write   # tests/data/golden_samples.json
    python scripts/golden_samples.py           # compare, print what differs

The requests cover each model's default draw and each of its options, through the
Python API (`zoo.load(id).sample(...)`), so a refactor of the contracts can be checked to
change no image. The hash is of the uint8 pixels the PNG would hold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_samples.json"
CARDS = ROOT / "cards"

# model id -> list of (name, keyword arguments of Model.sample); image paths are card-relative
REQUESTS: dict[str, list[tuple[str, dict]]] = {
    "gan-digits": [("plain", {})],
    "dcgan-digits": [("plain", {}), ("truncation", {"truncation": 0.5})],
    "wgan-digits": [("plain", {})],
    "cgan-digits": [("drawn-label", {}), ("label", {"label": 7})],
    "biggan-digits": [("plain", {}), ("label-trunc", {"label": 3, "truncation": 0.5})],
    "stylegan-scenes": [
        ("plain", {}),
        ("truncation", {"truncation": 0.7}),
        ("mix", {"mix_seed": 7, "mix_layers": "fine"}),
        ("no-noise", {"noise": False}),
    ],
    "stackgan-scenes": [
        ("prompt", {"prompt": "a large red circle above a small blue square"}),
        ("stage1", {"prompt": "a small green triangle", "stage": 1}),
        ("any-words", {"prompt": "an orange circle"}),
    ],
    "pix2pix-scenes-edges": [("image", {"image": "example-input.png"})],
    "cyclegan-daynight": [
        ("a2b", {"image": "example-input.png"}),
        ("b2a", {"image": "example-input.png", "direction": "b2a"}),
    ],
    "vae-digits": [("plain", {})],
    "vae-scenes": [("plain", {})],
    "vqvae-scenes": [("plain", {}), ("topk", {"temperature": 0.8, "top_k": 20})],
    "ddpm-digits": [
        ("label-ddim", {"label": 3, "steps": 10}),
        ("ddpm", {"sampler": "ddpm", "steps": 10}),
        ("dpm-guided", {"sampler": "dpm++2m", "steps": 8, "guidance": 4.0}),
        ("euler-a", {"sampler": "euler-a", "steps": 8, "label": 7}),
        ("classifier", {"label": 2, "steps": 8, "guidance": 0.0, "classifier_scale": 4.0}),
    ],
    "iddpm-scenes": [
        ("label-ddpm", {"label": 4, "steps": 10}),
        ("clip", {"prompt": "a red circle", "clip_scale": 3.0, "steps": 8, "sampler": "ddim"}),
    ],
    "dalle-scenes": [
        ("prompt", {"prompt": "a red circle"}),
        ("top-p", {"prompt": "a blue square", "top_p": 0.9}),
        ("rerank", {"prompt": "a green triangle", "rerank": 2}),
        ("any-words", {"prompt": "an orange circle"}),
    ],
    "ldm-scenes": [
        ("prompt", {"prompt": "a small blue square on the left", "steps": 8}),
        (
            "negative",
            {
                "prompt": "a red circle",
                "negative_prompt": "a square",
                "steps": 6,
                "sampler": "dpm++2m",
            },
        ),  # fmt: skip
    ],
    "ldm-scenes-64": [
        ("prompt", {"prompt": "a small blue square on the left", "steps": 8}),
    ],
    "glide-scenes": [
        ("prompt", {"prompt": "a large red circle in the center", "steps": 8}),
        (
            "clip",
            {
                "prompt": "a red circle",
                "guidance": 0.0,
                "clip_scale": 3.0,
                "steps": 6,
                "sampler": "ddim",
            },
        ),  # fmt: skip
        (
            "cascade",
            {"prompt": "a red circle", "height": 64, "width": 64, "steps": 4, "upsampler_steps": 3},
        ),
    ],
    "glide-scenes-inpaint": [
        ("prompt", {"prompt": "a blue square", "steps": 6}),
    ],
    "glide-scenes-upsampler": [
        ("image", {"image": "example-input.png", "prompt": "a green square", "steps": 4}),
    ],
}
N = 3
BATCH = 2  # smaller than n, so batching is part of what is checked


def digest(images) -> str:
    import torch

    x = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    h = hashlib.sha256()
    h.update(str(tuple(x.shape)).encode())
    h.update(x.contiguous().numpy().tobytes())
    return h.hexdigest()


def draw_all() -> dict[str, str]:
    import torch

    import zoo

    torch.set_num_threads(1)  # an autoregressive draw may flip a token between thread counts
    out: dict[str, str] = {}
    for model_id, requests in REQUESTS.items():
        model = zoo.load(model_id, device="cpu")
        for name, kwargs in requests:
            kw = dict(kwargs)
            if "image" in kw:
                kw["image"] = str(CARDS / model_id / kw["image"])
            samples = model.sample(n=N, seed=5, batch_size=BATCH, **kw)
            out[f"{model_id}/{name}"] = digest(samples.images)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record instead of compare")
    args = ap.parse_args()
    got = draw_all()
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(got)} hashes to {GOLDEN.relative_to(ROOT)}")
        return 0
    want = json.loads(GOLDEN.read_text())
    bad = sorted(k for k in want if got.get(k) != want[k])
    for k in bad:
        print(f"differs: {k}")
    print(f"{len(want) - len(bad)} of {len(want)} identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
