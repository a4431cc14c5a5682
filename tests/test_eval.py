"""``zoo eval`` and ``zoo leaderboard`` on a tiny dcgan, with an untrained tiny reference network
(or the shipped classifier-digits when it exists)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import run_zoo
from zoo.registry.errors import RequestError, UnknownModelError

DISTRIBUTION = ["fid", "is", "kid", "precision", "recall"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``--reference`` arguments: none if classifier-digits is shipped, else a tiny untrained
    classifier at 16x16 (so the 8x8 tiny dcgan is resized, like a real evaluation may be)."""
    from zoo.registry.discovery import get_registry
    from zoo.train import train

    if "classifier-digits" in get_registry().models:
        return []
    out = tmp_path_factory.mktemp("ref") / "classifier-tiny"
    train("classifier", "digits", out, preset="tiny", steps=3, sets={"image_size": 16}, progress=False)  # fmt: skip
    return ["--reference", str(out)]


@pytest.fixture
def model_dir(tiny_dcgan: Path, tmp_path: Path) -> Path:
    """A copy of the tiny dcgan: --write-card changes its card."""
    return Path(shutil.copytree(tiny_dcgan, tmp_path / "dcgan-tiny"))


def test_eval_json_write_card_and_resume(
    model_dir: Path, reference: list[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    proc = run_zoo("eval", str(model_dir), "--n", "64", "--json", "--write-card", "--quiet",
                   *reference, env={"ZOO_CACHE": str(cache)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"model", "revision", "n", "seed", "sampler", "reference_network", "metrics"} <= set(
        result
    )
    assert (result["n"], result["seed"], result["sampler"]) == (64, 0, "one-shot")
    assert list(result["metrics"]) == DISTRIBUTION
    for row in result["metrics"].values():
        assert set(row) == {"value", "real_vs_real", "untrained"}
        assert all(isinstance(v, float) for v in row.values())
    fid = result["metrics"]["fid"]
    assert fid["real_vs_real"] < fid["untrained"] / 5
    assert any("resized to 1x16x16" in note for note in result["notes"])
    assert Path(result["cache"]).is_relative_to(cache / "eval")
    assert result["written"] == 64

    # the card: Hub-style model-index, rendered into the README's body
    from zoo.registry.cards import read_card

    card, body = read_card(model_dir)
    (entry,) = card.model_index
    (res,) = entry["results"]
    assert entry["name"] == "dcgan-tiny"
    assert res["task"] == {"type": "unconditional-image-generation"}
    assert res["dataset"] == {"name": "digits", "type": "digits", "split": "test"}
    first = res["metrics"][0]
    assert first["type"] == "fid" and first["name"].startswith("FID (")
    assert first["value"] == fid["value"]
    assert first["args"]["real_vs_real"] == fid["real_vs_real"]
    assert first["args"]["untrained"] == fid["untrained"]
    assert {"n": 64, "seed": 0, "sampler": "one-shot"}.items() <= first["args"].items()
    assert "## Evaluation" in body and "| metric | this model | real vs real | untrained |" in body
    assert f"| {first['name']} ↓ | " in body

    # a second run reuses the drawn images and gives the same figures
    from zoo.evaluate import evaluate

    stamps = {p: p.stat().st_mtime_ns for p in Path(result["cache"]).rglob("*.png")}
    again = evaluate(str(model_dir), n=64, reference=(reference or [None])[-1],
                     cache_dir=cache / "eval", progress=False)  # fmt: skip
    assert again["written"] == 0
    assert again["metrics"] == result["metrics"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # a sweep may skip the untrained twin: same model figures, no twin drawn or scored
    fresh = cache / "sweep"
    alone = evaluate(str(model_dir), n=64, reference=(reference or [None])[-1],
                     cache_dir=fresh, progress=False, untrained=False)  # fmt: skip
    assert {m: row["value"] for m, row in alone["metrics"].items()} == {
        m: row["value"] for m, row in result["metrics"].items()
    }
    assert all(row["untrained"] is None for row in alone["metrics"].values())
    assert not (Path(alone["cache"]) / "untrained").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--metrics", "fid,fdi"],
            "unknown metric 'fdi'; choose from fid, is, kid, precision, recall, label_accuracy, ssim, psnr, clip_score, prompt_accuracy",
        ),  # fmt: skip
        (["--metrics", "clip_score"], "metric 'clip_score' scores prompts;"),
        (["--metrics", "ssim"], "metric 'ssim' compares each image with a target;"),
        (["--n", "3"], "--n must lie in 10..100000, got 3"),
    ],
)
def test_bad_input_fails_fast(tiny_dcgan: Path, args: list[str], message: str) -> None:
    proc = run_zoo("eval", str(tiny_dcgan), *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr


def test_missing_reference_names_the_model_to_train() -> None:
    from zoo.eval_plan import reference_id

    with pytest.raises(UnknownModelError, match=r"`zoo train classifier --data nodata --out cards/classifier-nodata`"):  # fmt: skip
        reference_id("classifier", "nodata")


def test_an_autoencoder_is_planned_for_its_reconstructions() -> None:
    """Its network is no Generator (no ``eval_metrics``): the defaults are ssim and psnr."""
    from zoo.eval_metrics import default_metrics
    from zoo.eval_plan import plan

    assert plan("ae-digits").metrics == ("ssim", "psnr")
    assert default_metrics(("unconditional",), object) == tuple(DISTRIBUTION)
    with pytest.raises(RequestError, match="only its reconstructions are scored"):
        plan("ae-digits", "fid")


def test_a_reference_network_is_not_evaluated(reference: list[str], tiny_dcgan: Path) -> None:
    from zoo.eval_plan import plan

    with pytest.raises(RequestError, match="is a reference network"):
        plan(reference[-1] if reference else "classifier-digits")
    with pytest.raises(RequestError, match="--reference takes a reference network"):
        from zoo.eval_score import load_reference

        load_reference(str(tiny_dcgan), "cpu")


def test_write_card_merges_and_leaderboard_lists(model_dir: Path) -> None:
    from zoo.catalog import resolve
    from zoo.cli.evaluate import _render, tables
    from zoo.eval_card import leaderboard_rows, write_card
    from zoo.registry import hookimpl
    from zoo.registry.discovery import Registry, get_registry, reset_registry
    from zoo.registry.schemas import ModelSpec

    def result(metrics: dict, n: int = 100) -> dict:
        return {"model": str(model_dir), "revision": resolve(str(model_dir)).revision, "n": n,
                "seed": 0, "sampler": "one-shot", "reference_network": "classifier-digits",
                "dataset": "digits", "split": "test", "n_real": 180, "metrics": metrics}  # fmt: skip

    write_card(result({"fid": {"value": 9.0, "real_vs_real": 0.5, "untrained": 90.0},
                       "is": {"value": 5.0, "real_vs_real": 9.0, "untrained": 1.1}}), str(model_dir))  # fmt: skip
    write_card(result({"fid": {"value": 8.0, "real_vs_real": 0.5, "untrained": 90.0}}), str(model_dir))  # fmt: skip
    card = resolve(str(model_dir)).card
    metrics = card.model_index[0]["results"][0]["metrics"]
    assert [(m["type"], m["value"]) for m in metrics] == [("fid", 8.0), ("is", 5.0)]

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec(id="dcgan-tiny", path=str(model_dir)))

    old = get_registry()
    reset_registry(Registry.discover(extra=[("evaltest", Plugin())]))
    try:
        rows = [r for r in leaderboard_rows() if r["model"] == "dcgan-tiny"]
    finally:
        reset_registry(old)
    assert {(r["metric"], r["value"], r["real_vs_real"], r["untrained"]) for r in rows} == {
        ("fid", 8.0, 0.5, 90.0), ("is", 5.0, 9.0, 1.1)}  # fmt: skip
    (table,) = tables(rows)
    labels = [label for label, _ in table["rows"]]
    assert labels == ["dcgan-tiny", "real data (digits train split)", "untrained dcgan"]
    text = _render(table, markdown=True)
    assert "| model | n | FID ↓ | IS ↑ |" in text
    assert "| *real data (digits train split)* | 100 | 0.5 | 9 |" in text
    assert "| *untrained dcgan* | 100 | 90 | 1.1 |" in text


def test_the_card_side_loads_no_scoring_code(model_dir: Path) -> None:
    """Writing a card, rendering its Evaluation section and reading the leaderboard import
    neither the scoring modules nor torch (the metric table lives apart from both)."""
    import subprocess
    import sys

    code = f"""
import sys
from zoo.catalog import resolve
from zoo.eval_card import leaderboard_rows, write_card
path = write_card({{"model": {str(model_dir)!r}, "revision": resolve({str(model_dir)!r}).revision,
    "n": 100, "seed": 0, "sampler": "one-shot", "reference_network": "classifier-digits",
    "dataset": "digits", "split": "test", "n_real": 180,
    "metrics": {{"fid": {{"value": 9.0, "real_vs_real": 0.5, "untrained": 90.0}}}}}})
leaderboard_rows()
print("FID (classifier-digits features) ↓ | 9 | 0.5 | 90 |" in path.read_text())
print(sorted(m for m in ("torch", "zoo.evaluate", "zoo.eval_score") if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["True", "[]"]


def test_write_card_refuses_hub_models_and_stale_results(model_dir: Path) -> None:
    import dataclasses

    from zoo.catalog import resolve
    from zoo.eval_card import check_writable, write_card

    hub = dataclasses.replace(resolve(str(model_dir)), name="hf:org/dcgan-tiny", source="hub")
    with pytest.raises(
        RequestError, match="is a Hub model; --write-card writes only model folders"
    ):
        check_writable(hub)
    stale = {"model": str(model_dir), "revision": "sha256:000000000000", "metrics": {}}
    with pytest.raises(RequestError, match="changed since it was evaluated"):
        write_card(stale)


def test_per_image_conditions_draw_one_request_each(tiny_cgan: Path, tmp_path: Path) -> None:
    """The path of conditioned families: image k gets its own fields (here a label)."""
    from zoo.api import load
    from zoo.eval_plan import draw

    model = load(str(tiny_cgan), device="cpu")
    base = {"n": 6, "seed": 3, "batch_size": 4, "sampler": "one-shot"}
    fields = [{"label": 9 - k} for k in range(6)]
    images, written = draw(model, base, fields, tmp_path / "c", progress=False)
    assert images.shape == (6, 1, 8, 8) and written == 6
    alone = model.sample(n=1, seed=3 + 2, label=7).images  # image 2: seed 5, label 7
    assert torch.allclose(images[2:3], alone, atol=1 / 255)
    assert draw(model, base, fields, tmp_path / "c", progress=False)[1] == 0


def test_text_metrics_on_scenes_with_untrained_networks() -> None:
    """CLIP score and prompt accuracy plumbing: real scenes, their captions, untrained nets."""
    from zoo.data import load_split
    from zoo.eval_score import ImageSet, Networks, features_of, score_set, wanted_attributes
    from zoo.plugins.classifier.config import ClassifierConfig
    from zoo.plugins.classifier.model import ClassifierNetwork
    from zoo.plugins.clip.config import ClipConfig
    from zoo.plugins.clip.model import ClipNetwork

    torch.manual_seed(0)
    classifier = ClassifierNetwork(ClassifierConfig.preset("scenes")).eval()
    clip = ClipNetwork(ClipConfig.preset("tiny")).eval()  # 8x8: the scenes are resized for it
    nets = Networks(classifier, "classifier-scenes", clip, "clip-scenes", progress=False)
    test = load_split("scenes", "test", 32)
    s = ImageSet(test["image"][:24], list(test["caption"][:24]))
    metrics = ["clip_score", "prompt_accuracy"]
    scores = score_set(metrics, features_of(nets, s, metrics, "t"), {}, s, "scenes")
    assert 0 <= scores["clip_score"] <= 100 and 0 <= scores["prompt_accuracy"] <= 1
    wanted = wanted_attributes("scenes", s.prompts)
    truth = test["attributes"][:24]
    assert ((wanted == truth) | (wanted < 0)).all()  # the parser reads what the captions say


def test_leaderboard_command_runs() -> None:
    for args in ([], ["--markdown"], ["--json"]):
        proc = run_zoo("leaderboard", *args)
        assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)


def test_a_text_model_that_takes_images_is_evaluated_from_text() -> None:
    """ldm and glide also take --image (img2img, inpainting): zoo eval draws them from the
    captions alone and scores them as text models, unless paired metrics are asked for; an
    upsampler, which needs its image, and an image translator get their test images."""
    from zoo.eval_metrics import default_metrics
    from zoo.evaluate import drawn_from
    from zoo.plugins.glide.config import GlideConfig
    from zoo.plugins.glide.model import GlideGenerator

    text_and_image = ("unconditional", "text", "image", "mask")
    base = GlideGenerator(GlideConfig.preset("tiny"))
    upsampler = GlideGenerator(GlideConfig.preset("tiny-upsampler"))
    assert drawn_from(text_and_image, base, {"features", "attributes"}) == ["text"]
    assert drawn_from(text_and_image, base, {"pairs"}) == ["text", "image"]
    assert drawn_from(text_and_image, upsampler, {"features"}) == ["text", "image"]
    assert drawn_from(("image",), base, {"pairs"}) == ["image"]  # a translator's only input
    metrics = default_metrics(text_and_image)
    assert "prompt_accuracy" in metrics and "fid" in metrics
    assert "ssim" not in metrics and "psnr" not in metrics
    assert default_metrics(("image",)) == ("ssim", "psnr")
