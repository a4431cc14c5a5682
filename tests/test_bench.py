"""``zoo bench``: a warm-up then repeats, medians with their min-max, recorded in the card.

No assertion here depends on how fast the machine is: the tests check the shape of
the figures (the median lies within its spread, the repeats asked for were run) and
that the card records and shows them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from zoo.cli import main
from zoo.registry.cards import read_card


def run_zoo(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in this process (models stay loaded between tests)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.fixture(scope="module")
def gan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained gan model folder at the tiny preset, its card with no sampling figures."""
    import torch

    from zoo.registry.discovery import get_registry, load_object
    from zoo.train import write_model_folder

    torch.manual_seed(0)
    gen_cls = load_object(get_registry().family("gan").generator)
    config = gen_cls.config_class.preset("tiny")
    out = tmp_path_factory.mktemp("bench") / "gan-tiny"
    write_model_folder(out, "gan", "digits", config, gen_cls(config), {"steps": 0}, sampling={})
    return out


def _within(figures: dict[str, float]) -> bool:
    return 0 < figures["min"] <= figures["median"] <= figures["max"]


def test_bench_reports_medians_within_their_spread_over_the_repeats(
    capsys, gan_folder: Path
) -> None:
    proc = run_zoo(capsys, "bench", str(gan_folder), "-n", "3", "--repeats", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["repeats"] == 4 and result["images"] == 3 and result["spread"] == "min-max"
    assert _within(result["seconds_per_batch"]) and _within(result["seconds_per_image"])
    # per image is per batch over the batch's images (to the 4 significant digits kept)
    batch, image = result["seconds_per_batch"], result["seconds_per_image"]
    assert image["median"] == pytest.approx(batch["median"] / 3, rel=1e-3)
    assert result["images_per_second"] == pytest.approx(3 / batch["median"], rel=1e-3)
    assert result["command"].endswith("-n 3 --repeats 4")
    assert read_card(gan_folder)[0].zoo.sampling == {}  # no --write-card, no change


def test_bench_prints_median_and_spread_per_batch_and_per_image(capsys, gan_folder: Path) -> None:
    proc = run_zoo(capsys, "bench", str(gan_folder), "-n", "2", "--repeats", "3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "3 timed repeats" in out and "median (min-max)" in out
    assert "per batch" in out and "per image" in out


def test_bench_write_card_records_and_shows_the_repeats(capsys, gan_folder: Path) -> None:
    from zoo.bench import spread_text

    proc = run_zoo(capsys, "bench", str(gan_folder), "-n", "2", "--repeats", "3", "--write-card")
    assert proc.returncode == 0, proc.stderr
    card, body = read_card(gan_folder)
    s = card.zoo.sampling
    assert s["repeats"] == 3 and s["images"] == 2 and s["spread"] == "min-max"
    assert _within(s["seconds_per_batch"]) and _within(s["seconds_per_image"])
    section = body.split("## Sampling speed", 1)[1].split("\n## ", 1)[0]
    assert "then 3 timed batches" in section and "median (min-max)" in section
    assert f"| per batch of 2 | {spread_text(s['seconds_per_batch'])} |" in section
    assert f"| per image | {spread_text(s['seconds_per_image'])} |" in section


@pytest.mark.parametrize("flag", ["-n", "--repeats"])
def test_bench_refuses_counts_below_one_in_one_line(capsys, gan_folder: Path, flag: str) -> None:
    proc = run_zoo(capsys, "bench", str(gan_folder), flag, "0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"{flag} must be at least 1" in proc.stderr


def _one_model_per_kind() -> list[object]:
    """The first shipped model of each (kind, process, capabilities): every way a model
    can be built, so that a new kind is benched the moment a card of it ships. Diffusion
    and autoregressive models draw step by step (seconds per image): the slow tier."""
    from zoo.catalog import list_models

    seen: dict[tuple[object, ...], str] = {}
    for row in list_models():
        if row["plugin"] == "cards" and "error" not in row:
            key = (row["kind"], row["process"], tuple(row["capabilities"]))
            seen.setdefault(key, row["id"])
    slow = {"diffusion", "autoregressive"}
    return [
        pytest.param(mid, marks=[pytest.mark.slow] if key[1] in slow else [])
        for key, mid in sorted(seen.items(), key=lambda kv: kv[1])
    ]


@pytest.mark.parametrize("model", _one_model_per_kind())
def test_bench_works_or_refuses_in_one_line_for_every_kind_of_model(capsys, model: str) -> None:
    proc = run_zoo(capsys, "bench", model, "-n", "1", "--repeats", "2", "--json")
    if proc.returncode == 2:  # models that draw nothing
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "does not draw images" in proc.stderr or "cannot generate" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["repeats"] == 2 and _within(result["seconds_per_batch"])


def test_remeasure_script_rewrites_each_cards_sampling_section(tmp_path: Path) -> None:
    """scripts/remeasure_cards.py over a temporary cards folder: one generator folder gets
    the bench's figures; an autoencoder is skipped with a word, its card untouched."""
    import shutil

    import torch

    from zoo.registry.discovery import get_registry, load_object
    from zoo.train import write_model_folder

    cards = tmp_path / "cards"
    torch.manual_seed(0)
    gen_cls = load_object(get_registry().family("gan").generator)
    config = gen_cls.config_class.preset("tiny")
    old = {"command": "zoo bench gan-tiny -n 64", "images": 64, "seconds": 9.9}
    write_model_folder(cards / "gan-tiny", "gan", "digits", config, gen_cls(config), {}, old)
    shutil.copytree(ROOT / "cards" / "ae-digits", cards / "ae-digits")
    ae_before = (cards / "ae-digits" / "README.md").read_bytes()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "remeasure_cards.py"), "--cards", str(cards)]
        + ["-n", "2", "--repeats", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    s = read_card(cards / "gan-tiny")[0].zoo.sampling
    assert s["repeats"] == 3 and s["images"] == 2 and "seconds" not in s
    assert _within(s["seconds_per_batch"])
    assert "ae-digits: skipped" in proc.stdout
    assert (cards / "ae-digits" / "README.md").read_bytes() == ae_before


def test_cli_times_writes_medians_with_min_max_into_the_readme(tmp_path: Path) -> None:
    """benchmarks/cli_times.py's README block, from given figures (nothing is timed here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_times", ROOT / "benchmarks" / "cli_times.py")
    assert spec is not None and spec.loader is not None
    cli_times = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli_times)
    result = {"zoo list": {"median_s": 0.281, "min_s": 0.224, "max_s": 0.415, "runs": 5}}
    block = cli_times.markdown(result, 5)
    assert "| command | median | min-max |" in block
    assert "| `zoo list` | 0.28 s | 0.22-0.41 s |" in block and "`--repeat 5`" in block
    readme = tmp_path / "README.md"
    before = (ROOT / "README.md").read_text(encoding="utf-8")
    readme.write_text(before, encoding="utf-8")
    cli_times.write_readme(block, readme)
    text = readme.read_text(encoding="utf-8")
    inside = text[text.index(cli_times.BEGIN) : text.index(cli_times.END)]
    assert block in inside and "| min |" not in inside
    assert text.replace(inside, "") == before.replace(
        before[before.index(cli_times.BEGIN) : before.index(cli_times.END)], ""
    )  # nothing outside the markers changes
