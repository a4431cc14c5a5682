"""The zoo against diffusers' StableDiffusionPipeline on one Stable Diffusion repo.

The repo is SD 1.5's layout at reduced width, saved with diffusers' ``save_pretrained`` and
random weights: a U-Net of four levels (three with cross-attention, two layers per block,
conv projections) at a fifth of SD 1.5's channels with two heads, so the heads' widths
(32, 64, 128) stay near SD 1.5's (40, 80, 160), an autoencoder of
four levels (f = 8) and a CLIP text encoder. Both sides draw the same images from the same
initial latents (DDIM, guidance 7.5 with a negative prompt, one batched forward for both
branches), text encoding and decoding included, so the time is what a user waits for.

Measured: wall time per image, as medians of interleaved repeats (this machine is noisy),
and each setting's peak resident memory above the loaded pipeline, each in its own process.
Settings: diffusers at its defaults (fp32), with attention slicing, and loaded in bfloat16;
the zoo at its defaults (the U-Net under bfloat16 autocast, the autoencoder in fp32), in
fp32 (``--autocast none``, the loops alone), with channels_last, and loaded in bfloat16
(``--dtype bfloat16``: U-Net and text encoder, the autoencoder stays fp32). Each setting's final-image
difference from diffusers' fp32 image is reported next to its time.

    python benchmarks/sd_speed.py [--size 256] [--steps 20] [--batch 2] [--repeat 3]

diffusers and transformers are test extras (`pip install -e ".[test]"`); the zoo does not
depend on them.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

PROMPT = "a large red circle in the center"
NEGATIVE = "blurry"
WORDS = [
    "a", "large", "small", "red", "green", "blue", "circle", "square", "triangle",
    "in", "the", "center", "on", "left", "right", "at", "top", "blurry",
]  # fmt: skip
SETTINGS = (
    "diffusers",
    "diffusers sliced",
    "diffusers bf16",
    "zoo",
    "zoo fp32",
    "zoo channels_last",
    "zoo bf16",
)


def build_repo(folder: Path) -> Path:
    """SD 1.5's pipeline layout at reduced width, random weights, saved by diffusers."""
    import diffusers
    import transformers

    from zoo.plugins.nn.clip_bpe import build_clip_vocab, write_tokenizer

    torch.manual_seed(0)
    captions = [" ".join(WORDS[i : i + 6]) for i in range(len(WORDS) - 5)]
    vocab, merges = build_clip_vocab(captions, num_merges=60)
    write_tokenizer(folder / "_tok", vocab, merges, pad_token="<|endoftext|>")
    text = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=256,
            intermediate_size=1024,
            num_hidden_layers=6,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            eos_token_id=vocab["<|endoftext|>"],
            bos_token_id=vocab["<|startoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        )
    )
    unet = diffusers.UNet2DConditionModel(
        sample_size=32,
        block_out_channels=(64, 128, 256, 256),
        layers_per_block=2,
        norm_num_groups=32,
        cross_attention_dim=256,
        attention_head_dim=2,  # heads: head dims 32/64/128, near SD 1.5's 40/80/160
    )
    vae = diffusers.AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 64, 128, 128),
        layers_per_block=2,
        norm_num_groups=32,
        latent_channels=4,
        scaling_factor=0.18215,
    )
    with torch.no_grad():  # off the zero inits, so no layer is trivially cheap or exact
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
    )
    pipe = diffusers.StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text.eval(),
        tokenizer=transformers.CLIPTokenizer.from_pretrained(str(folder / "_tok")),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = folder / "repo"
    pipe.save_pretrained(out)
    shutil.rmtree(folder / "_tok")
    return out


def runners(
    repo: Path, args: argparse.Namespace, only: str | None = None
) -> dict[str, Callable[[], torch.Tensor]]:
    """One callable per setting (or only the one named), each drawing the same
    ``args.batch`` images; only the pipelines a setting needs are loaded."""
    import diffusers

    import zoo
    from zoo.api import make_request

    b, f = args.batch, 8
    latents = torch.cat(
        [
            torch.randn(
                (1, 4, args.size // f, args.size // f), generator=torch.Generator().manual_seed(s)
            )
            for s in range(b)
        ]
    )

    def theirs(dtype: torch.dtype, sliced: bool = False) -> Callable[[], torch.Tensor]:
        pipe = diffusers.StableDiffusionPipeline.from_pretrained(repo, torch_dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        if sliced:
            pipe.enable_attention_slicing()

        def run() -> torch.Tensor:
            return pipe(
                [PROMPT] * b,
                negative_prompt=[NEGATIVE] * b,
                height=args.size,
                width=args.size,
                num_inference_steps=args.steps,
                guidance_scale=7.5,
                latents=latents.to(dtype),
                output_type="pt",
            ).images.float()

        return run

    def ours(
        autocast: str, dtype: str = "float32", channels_last: bool = False
    ) -> Callable[[], torch.Tensor]:
        model = zoo.load(str(repo), device="cpu", dtype=dtype)  # shared by the fp32 settings
        unet = model.generator.unet  # type: ignore[attr-defined]

        def run() -> torch.Tensor:
            request = make_request(
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                n=b,
                seed=0,
                batch_size=b,
                height=args.size,
                width=args.size,
                sampler="ddim",
                steps=args.steps,
                guidance=7.5,
                autocast=autocast,
            )
            if channels_last:
                unet.to(memory_format=torch.channels_last)
            try:
                return model.run(request).images
            finally:
                unet.to(memory_format=torch.contiguous_format)

        return run

    makers: dict[str, Callable[[], Callable[[], torch.Tensor]]] = {
        "diffusers": lambda: theirs(torch.float32),
        "diffusers sliced": lambda: theirs(torch.float32, sliced=True),
        "diffusers bf16": lambda: theirs(torch.bfloat16),
        "zoo": lambda: ours("bfloat16"),
        "zoo fp32": lambda: ours("none"),
        "zoo channels_last": lambda: ours("none", channels_last=True),
        "zoo bf16": lambda: ours("bfloat16", dtype="bfloat16"),
    }
    assert tuple(makers) == SETTINGS
    return {k: make() for k, make in makers.items() if only in (None, k)}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def memory_child(repo: Path, args: argparse.Namespace, setting: str) -> None:
    """In a fresh process holding only its side's models: the peak resident memory one
    draw adds above the loaded models, sampled every millisecond (freed memory is handed
    back to the system after a warm-up draw, so the draw cannot hide in what loading or the
    warm-up left behind)."""
    torch.set_num_threads(args.threads)
    run = runners(repo, args, only=setting)[setting]
    with torch.inference_mode():
        run()  # lazy imports and one-off caches belong to the baseline, not to the draw
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = peak = rss_mb()
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with torch.inference_mode():
        run()
    done.set()
    watcher.join()
    print(json.dumps({"setting": setting, "peak_mb": max(peak, rss_mb()) - before}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="image height and width (pixels)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=2, help="images per call")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--memory-of", choices=SETTINGS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_of:
        memory_child(args.repo, args, args.memory_of)
        return

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        repo = build_repo(Path(tmp))
        runs = runners(repo, args)
        with torch.inference_mode():
            for fn in runs.values():  # warm-up
                fn()
            times: dict[str, list[float]] = {k: [] for k in runs}
            for _ in range(args.repeat):
                for name, fn in runs.items():
                    t0 = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - t0) / args.batch)
            ref = runs["diffusers"]()
            diff = {k: float((fn() - ref).abs().max()) for k, fn in runs.items()}
        memory = {}
        for setting in SETTINGS:
            cmd = [sys.executable, __file__, "--repo", str(repo), "--memory-of", setting]
            cmd += ["--size", str(args.size), "--steps", "2", "--batch", str(args.batch)]
            cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            memory[setting] = json.loads(out.strip().splitlines()[-1])["peak_mb"]

    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{args.size}x{args.size}, batch {args.batch}, DDIM {args.steps} steps, guidance 7.5, "
        f"{args.threads} threads, {args.repeat} interleaved repeats"
    )
    print(
        f"{'setting':>18} | s/image | vs diffusers | peak MB above load | max |diff| to diffusers"
    )
    for k in runs:
        print(
            f"{k:>18} | {med[k]:7.3f} | {med['diffusers'] / med[k]:11.2f}x | "
            f"{memory[k]:18.0f} | {diff[k]:.2e}"
        )


if __name__ == "__main__":
    main()
