"""BigGAN: spectral norm, the orthogonal regulariser, truncation, and the shipped model."""

from __future__ import annotations

import torch

import zoo
from tests import digit_judge
from tests.conftest import run_zoo
from zoo.plugins.biggan.train import orthogonal_penalty


def test_orthogonal_penalty_is_zero_only_for_orthogonal_rows() -> None:
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    lin = torch.nn.Linear(6, 6, bias=False)
    with torch.no_grad():
        lin.weight.copy_(q)
    assert orthogonal_penalty(lin) < 1e-10
    with torch.no_grad():
        lin.weight[1] = lin.weight[0]  # two equal filters
    assert orthogonal_penalty(lin) > 0.5


def test_tiny_biggan_trains_and_takes_label_and_truncation(tmp_path) -> None:
    from zoo.train import train

    out = train("biggan", "digits", tmp_path / "b", preset="tiny", steps=4, progress=False)
    model = zoo.load(str(out))
    images = model.sample(n=2, seed=0, label=3, truncation=0.5).images
    assert images.shape == (2, 1, 8, 8) and torch.isfinite(images).all()
    bad = run_zoo("sample", str(out), "--label", "10", "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "out of range" in bad.stderr


def test_shipped_biggan_weights_are_spectrally_normalised() -> None:
    net = zoo.load("biggan-digits").generator.net
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Conv2d) and hasattr(module, "parametrizations"):
            sigma = torch.linalg.matrix_norm(module.weight.flatten(1), ord=2).item()
            # eval mode uses the stored power-iteration vectors: sigma ~ 1, a little above
            assert 0.5 < sigma < 1.3, (name, sigma)


def test_shipped_biggan_draws_the_requested_label() -> None:
    model = zoo.load("biggan-digits")
    hits = [
        (digit_judge.predict(model.sample(n=20, seed=100, label=k).images) == k).float().mean()
        for k in range(10)
    ]
    assert torch.stack(hits).mean() >= 0.9, hits


def test_truncation_trades_variety_for_fidelity() -> None:
    model = zoo.load("biggan-digits")

    def spread(psi: float | None) -> float:
        x = model.sample(n=64, seed=0, label=4, truncation=psi).images.flatten(1)
        return torch.cdist(x, x).mean().item()

    assert spread(0.2) < 0.8 * spread(None)


def test_truncation_sweep_is_in_the_card_and_the_leaderboard() -> None:
    from zoo.eval_card import leaderboard_rows

    card = zoo.load("biggan-digits").card
    names = {m["name"] for e in card.model_index for r in e["results"] for m in r["metrics"]}
    assert any("[truncation=0.5]" in n for n in names)
    models = {r["model"] for r in leaderboard_rows()}
    assert {"biggan-digits", "biggan-digits [truncation=0.5]"} <= models
