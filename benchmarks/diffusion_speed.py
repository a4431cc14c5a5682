"""The zoo's DDIM loop against diffusers' DDIMScheduler loop driving the same network.

Both loops run the shipped ddpm-digits U-Net with classifier-free guidance (one batched
forward for both branches, as diffusers' pipelines do) on the same initial noise, for the
same steps; repeats are interleaved and the medians compared, since this machine is noisy.
"zoo" is the zoo at its defaults (the denoiser under bfloat16 autocast), "zoo fp32" the
same loop with ``--autocast none``, so "diffusers / zoo fp32" is the loops' overhead alone and
"diffusers / zoo" the defaults against each other. Also measured: the network's forward alone
(so each loop's overhead per step is the rest), and channels_last (time and the largest
pixel difference of the result).

    python benchmarks/diffusion_speed.py [--batch 64] [--steps 50] [--repeat 5]

diffusers is a test extra (`pip install -e ".[test]"`); the zoo does not depend on it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import zoo
from zoo.api import make_request


def diffusers_loop(gen, sched, x_t, labels, null, scale, steps):
    sched.set_timesteps(steps)
    x = x_t.clone()
    for t in sched.timesteps:
        tt = torch.full((2 * len(x),), float(t))
        out = gen.net(torch.cat([x, x]), tt, torch.cat([null, labels]))
        u, c = out.chunk(2)
        eps = u + scale * (c - u)
        x = sched.step(eps, t, x).prev_sample
    return gen.decode(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from diffusers import DDIMScheduler

    torch.set_num_threads(2)
    model = zoo.load("ddpm-digits", device="cpu")
    gen = model.generator
    s = gen.schedule()
    sched = DDIMScheduler(
        num_train_timesteps=s.num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type=s.prediction_type,
        clip_sample=False,
        timestep_spacing=s.timestep_spacing,
    )
    b, scale = args.batch, gen.default_guidance()
    labels = torch.arange(b) % 10
    null = torch.full_like(labels, 10)
    seeds = list(range(b))
    x_t = torch.cat(
        [torch.randn((1, 1, 16, 16), generator=torch.Generator().manual_seed(k)) for k in seeds]
    )

    def zoo_run(**extra):
        request = make_request(n=b, seed=0, sampler="ddim", steps=args.steps, batch_size=b, **extra)
        return model.run(request).images

    @torch.inference_mode()
    def theirs():
        return diffusers_loop(gen, sched, x_t, labels, null, scale, args.steps)

    @torch.inference_mode()
    def forward_only():
        tt = torch.full((2 * b,), 500.0)
        for _ in range(args.steps):
            gen.net(torch.cat([x_t, x_t]), tt, torch.cat([null, labels]))

    def fp32():
        return zoo_run(autocast="none")

    def channels_last():
        gen.net.to(memory_format=torch.channels_last)
        try:
            return zoo_run(autocast="none")
        finally:
            gen.net.to(memory_format=torch.contiguous_format)

    # the zoo draws labels seed % 10 and noise from each seed, as the diffusers loop above
    runs = {
        "zoo": zoo_run,
        "diffusers": theirs,
        "forward": forward_only,
        "zoo fp32": fp32,
        "zoo channels_last": channels_last,
    }
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    spread = {k: (min(v), max(v)) for k, v in times.items()}
    ref = fp32()
    diff = {
        "diffusers": float((theirs() - ref).abs().max()),
        "zoo": float((zoo_run() - ref).abs().max()),
        "zoo channels_last": float((channels_last() - ref).abs().max()),
    }
    print(
        f"batch {b}, DDIM {args.steps} steps, guidance {scale}, {args.repeat} interleaved repeats"
    )
    for k in runs:
        lo, hi = spread[k]
        extra = f", max pixel difference from zoo fp32 {diff[k]:.2e}" if k in diff else ""
        print(f"{k:>18}: median {med[k]:.3f} s (min {lo:.3f}, max {hi:.3f}){extra}")
    print(f"diffusers / zoo time (defaults): {med['diffusers'] / med['zoo']:.2f}")
    print(f"diffusers / zoo fp32 time (the loops alone): {med['diffusers'] / med['zoo fp32']:.2f}")
    for k in ("zoo fp32", "diffusers"):
        over = (med[k] - med["forward"]) / args.steps * 1000
        print(f"{k} loop overhead beyond the network: {over:.2f} ms per step")


if __name__ == "__main__":
    main()
