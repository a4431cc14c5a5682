"""Cascades: a base model whose card names an 'upsampler' component draws at the
upsampler's size by drawing its own images and handing each to the upsampler
(``Generator.next_stage``, ``zoo.cascade``), at tiny sizes: glide 8x8 -> 16x16."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.cascade import stage_seed
from zoo.cli import main as zoo_main
from zoo.images import read_meta
from zoo.registry.errors import CardError, RequestError, ZooError
from zoo.testing import check_model

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPT = "a small red circle on the left"
FAST = {"steps": 2, "upsampler_steps": 2}  # the base's steps and the upsampler's


def _point(card: Path, role: str, target: str) -> None:
    text = card.read_text()
    assert "  components: {}\n" in text
    entry = f"  components:\n    {role}:\n      model: {target}\n"
    card.write_text(text.replace("  components: {}\n", entry))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny glide base (8x8) and upsampler (8 -> 16), each trained 2 steps, and a copy of
    the base whose card points its 'upsampler' component at the upsampler's folder."""
    from zoo.train import train

    root = tmp_path_factory.mktemp("cascade")
    base = train("glide", "scenes", root / "base", preset="tiny", steps=2, progress=False)
    up = train("glide", "scenes", root / "up", preset="tiny-upsampler", steps=2, progress=False)
    cascade = root / "cascade"
    shutil.copytree(base, cascade)
    _point(cascade / "README.md", "upsampler", str(up))
    return {"base": base, "up": up, "cascade": cascade}


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        zoo_main(list(args))
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    return code, capsys.readouterr().err


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def test_the_cascade_draws_the_upsamplers_size_the_same_twice_and_per_image(folders) -> None:
    m = zoo.load(str(folders["cascade"]), device="cpu")
    a = m.sample(n=3, seed=5, prompt=PROMPT, height=16, width=16, batch_size=2, **FAST)
    assert a.images.shape == (3, 3, 16, 16)
    b = m.sample(n=3, seed=5, prompt=PROMPT, height=16, width=16, batch_size=2, **FAST)
    assert torch.equal(a.images, b.images)
    for k in range(3):
        alone = m.sample(n=1, seed=5 + k, prompt=PROMPT, height=16, width=16, **FAST)
        assert torch.equal(alone.images[0], a.images[k])
    stages = a.records[0]["stages"]
    assert [s["role"] for s in stages] == ["upsampler"]
    assert stages[0]["model"] == str(folders["up"]) and stages[0]["steps"] == 2
    # --stage cascade needs no size; the upsampler's own sampler can be chosen
    again = m.sample(n=1, seed=5, prompt=PROMPT, stage="cascade", **FAST)
    assert torch.equal(again.images[0], a.images[0])
    other = m.sample(n=1, seed=5, prompt=PROMPT, stage="cascade", upsampler_sampler="ddpm", **FAST)
    assert other.records[0]["stages"][0]["sampler"] == "ddpm"
    assert not torch.equal(other.images[0], a.images[0])


@pytest.mark.parametrize("given", [{}, {"autocast": "none"}])
def test_each_stage_is_the_model_drawn_alone(folders, given, tmp_path: Path) -> None:
    """The base's image k is the base model's, and the upsampler finishes it as if drawn alone
    from that image's PNG with the stage's seed (and the sampler options given)."""
    m = zoo.load(str(folders["cascade"]), device="cpu")
    final = m.sample(n=2, seed=7, prompt=PROMPT, height=16, width=16, **FAST, **given)
    base = m.sample(n=2, seed=7, prompt=PROMPT, stage="base", steps=2, **given)
    assert base.images.shape == (2, 3, 8, 8)
    plain = zoo.load(str(folders["base"]), device="cpu")
    assert torch.equal(
        base.images, plain.sample(n=2, seed=7, prompt=PROMPT, steps=2, **given).images
    )
    assert "stages" not in base.records[0]
    up = zoo.load(str(folders["up"]), device="cpu")
    for k, path in enumerate(base.save(tmp_path / "base")):
        seed = stage_seed(7 + k, "upsampler")
        alone = up.sample(n=1, seed=seed, prompt=PROMPT, image=str(path), steps=2, **given)
        assert torch.equal(alone.images[0], final.images[k])


def test_progress_counts_both_stages(folders) -> None:
    m = zoo.load(str(folders["cascade"]), device="cpu")
    seen: list[tuple[int, int]] = []
    m.run(
        zoo.api.make_request(n=3, batch_size=2, prompt=PROMPT, height=16, width=16, **FAST),
        progress=lambda d, t: seen.append((d, t)),
    )
    total = 2 * 2 + 3 * 2  # the base: 2 steps of 2 batches; the upsampler: 2 steps per image
    assert [d for d, _ in seen] == list(range(1, total + 1))
    assert all(d <= t for d, t in seen) and seen[-1] == (total, total)


def test_the_command_line_runs_the_cascade_and_redraws_it_from_a_png(
    folders, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sample", str(folders["cascade"]), "--prompt", PROMPT, "--height", "16", "--width",
            "16", "-n", "2", "--seed", "3", "--steps", "2", "--upsampler-steps", "2"]  # fmt: skip
    code, err = _cli(capsys, *args, "-o", str(tmp_path / "a"))
    assert code == 0, err
    code, err = _cli(capsys, *args, "-o", str(tmp_path / "b"))
    assert code == 0, err
    for name in ("000003.png", "000004.png"):
        first = _pixels(tmp_path / "a" / name)
        assert first.shape == (16, 16, 3)
        assert np.array_equal(first, _pixels(tmp_path / "b" / name))
    meta = read_meta(tmp_path / "a" / "000004.png")
    assert meta["height"] == 16 and meta["stages"][0]["role"] == "upsampler"
    again = tmp_path / "again.png"
    code, err = _cli(
        capsys, "sample", "--from", str(tmp_path / "a" / "000004.png"), "-o", str(again)
    )
    assert code == 0, err
    assert np.array_equal(_pixels(again), _pixels(tmp_path / "a" / "000004.png"))
    code, err = _cli(capsys, *args[:2], "--prompt", PROMPT, "--stage", "base", "--steps", "2",
                     "-o", str(tmp_path / "base.png"))  # fmt: skip
    assert code == 0, err
    assert _pixels(tmp_path / "base.png").shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--height", "12", "--width", "12"], "draws 8x8 (the base) or 16x16 (the base, then"),
        (["--height", "16", "--width", "8"], "not 8x16"),
        (["--stage", "cascade", "--height", "8"], "--stage cascade draws 16x16"),
    ],
)
def test_a_size_no_stage_gives_is_one_line(
    folders, extra: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.png")
    code, err = _cli(
        capsys, "sample", str(folders["cascade"]), "--prompt", PROMPT, *extra, "-o", out
    )
    assert code == 2 and err.startswith("zoo: ") and says in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_upsampler_is_one_line(
    folders, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.png")
    code, err = _cli(capsys, "sample", str(folders["base"]), "--stage", "cascade", "-o", out)
    assert code == 2 and "names no 'upsampler' component" in err, err
    assert err.count("\n") == 1
    gone = tmp_path / "gone"
    shutil.copytree(folders["base"], gone)
    _point(gone / "README.md", "upsampler", str(tmp_path / "nowhere"))
    code, err = _cli(capsys, "sample", str(gone), "--height", "16", "-o", out)
    assert code == 2 and err.startswith("zoo: ") and "nowhere" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_upsampler_that_does_not_read_the_base_size_is_a_card_error(
    folders, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    shutil.copytree(folders["base"], wrong)
    _point(wrong / "README.md", "upsampler", str(folders["cascade"]))  # a base, not an upsampler
    m = zoo.load(str(wrong), device="cpu")
    with pytest.raises(CardError, match="draws them at no larger size; this model draws 8x8"):
        m.sample(prompt=PROMPT, stage="cascade", steps=2)
    assert m.sample(prompt=PROMPT, steps=2).images.shape == (1, 3, 8, 8)  # the base alone


def test_the_upsampler_alone_needs_its_image_and_passes_the_model_checks(folders) -> None:
    up = zoo.load(str(folders["up"]), device="cpu")
    with pytest.raises(RequestError, match="this is an upsampler"):
        up.sample(prompt=PROMPT, steps=2)
    check_model(str(folders["up"]))


def test_a_glide_without_the_options_draws_the_base(folders) -> None:
    m = zoo.load(str(folders["cascade"]), device="cpu")
    plain = m.sample(n=1, seed=2, prompt=PROMPT, steps=2)
    assert plain.images.shape == (1, 3, 8, 8)
    with pytest.raises(ZooError, match="upsampler_steps"):
        m.sample(prompt=PROMPT, upsampler_steps=0)


def test_evaluation_gives_an_upsampler_its_small_input(folders, tmp_path: Path) -> None:
    """zoo eval draws an upsampler from the test images shrunk to its input size (8), so its
    output is the model's size (16); the test images at 16 would come out at 32."""
    from zoo.evaluate import evaluate

    result = evaluate(
        str(folders["up"]),
        metrics="fid",
        n=10,
        cache_dir=tmp_path,
        progress=False,
        untrained=False,
        options={"steps": 2},
    )
    drawn = sorted(tmp_path.rglob("samples/*.png"))
    assert len(drawn) == 10 and result["metrics"]["fid"]["value"] is not None
    with Image.open(drawn[0]) as im:
        assert im.size == (16, 16)
    given = sorted(tmp_path.rglob("conditions/*.png"))
    assert given
    with Image.open(given[0]) as im:
        assert im.size == (8, 8)


def test_the_untrained_twin_reads_text_as_the_model_does(folders) -> None:
    """zoo eval's floor row differs from the model in its weights only: it reads the
    folder's learned tokenizer too (a byte-level one would cut the captions)."""
    from zoo.eval_plan import untrained_twin

    model = zoo.load(str(folders["base"]), device="cpu")
    twin = untrained_twin(model)
    text = "a small lemon wedge above a large cobalt disc"
    assert twin.generator.tokenizer.encode(text) == model.generator.tokenizer.encode(text)
    assert len(model.generator.tokenizer.encode(text)) < len(text.encode())
