"""The CLI end to end on a tiny trained model: outputs, determinism and bad input.

Every bad value must give one line on stderr, exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_zoo


def assert_clean_error(proc: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) <= 5, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


def test_help_lists_commands() -> None:
    proc = run_zoo("--help")
    assert proc.returncode == 0
    for cmd in ("list", "info", "pull", "plugins", "sample", "train"):
        assert f"  {cmd}" in proc.stdout


def test_sample_help_explains_options() -> None:
    proc = run_zoo("sample", "--help")
    assert proc.returncode == 0
    for opt in (
        "--prompt",
        "--label",
        "-n",
        "--seed",
        "--steps",
        "--sampler",
        "--guidance",
        "--device",
        "--out",
        "--from",
    ):
        assert opt in proc.stdout


def test_grid_is_deterministic_and_matches_single_images(tiny_dcgan, tmp_path) -> None:
    a, b, one = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "one.png"
    for out in (a, b):
        proc = run_zoo("sample", str(tiny_dcgan), "-n", "6", "--seed", "0", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "1", "--seed", "3", "-o", str(one))
    assert proc.returncode == 0, proc.stderr
    grid = np.asarray(Image.open(a))
    single = np.asarray(Image.open(one))
    h, w = single.shape[:2]  # one image is written as itself
    # 6 images -> 3 per row with a 1-pixel border; image 3 sits in row 1, column 0
    crop = grid[1 + (h + 1) : 1 + (h + 1) + h, 1 : 1 + w]
    assert np.array_equal(crop, single)
    assert not np.array_equal(crop, grid[1 : 1 + h, 1 : 1 + w])  # image 0 differs


def test_folder_output_and_batch_invariance(tiny_dcgan, tmp_path) -> None:
    proc = run_zoo(
        "sample",
        str(tiny_dcgan),
        "-n",
        "4",
        "--seed",
        "10",
        "--batch-size",
        "3",
        "-o",
        str(tmp_path / "many"),
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert files == ["000010.png", "000011.png", "000012.png", "000013.png"]
    proc = run_zoo(
        "sample", str(tiny_dcgan), "-n", "1", "--seed", "12", "-o", str(tmp_path / "one")
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "many/000012.png").read_bytes() == (tmp_path / "one/000012.png").read_bytes()


def test_png_carries_parameters_and_from_redraws_it(tiny_dcgan, tmp_path) -> None:
    first = tmp_path / "first"
    assert (
        run_zoo("sample", str(tiny_dcgan), "-n", "2", "--seed", "7", "-o", str(first)).returncode
        == 0
    )
    meta = json.loads(Image.open(first / "000008.png").text["zoo"])
    assert meta["seed"] == 8 and meta["n"] == 1 and meta["sampler"] == "one-shot"
    assert meta["model"] == str(tiny_dcgan) and meta["revision"].startswith("sha256:")
    again = tmp_path / "again.png"
    proc = run_zoo("sample", "--from", str(first / "000008.png"), "-o", str(again))
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == (first / "000008.png").read_bytes()


def test_grid_from_redraws_the_grid(tiny_dcgan, tmp_path) -> None:
    assert (
        run_zoo("sample", str(tiny_dcgan), "-n", "4", "-o", str(tmp_path / "g.png")).returncode == 0
    )
    assert (
        run_zoo(
            "sample", "--from", str(tmp_path / "g.png"), "-o", str(tmp_path / "h.png")
        ).returncode
        == 0
    )
    assert (tmp_path / "g.png").read_bytes() == (tmp_path / "h.png").read_bytes()


def test_default_output_name_never_overwrites(tiny_dcgan, tmp_path) -> None:
    for _ in range(2):
        assert run_zoo("sample", str(tiny_dcgan), cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "dcgan-tiny_seed0-1.png",
        "dcgan-tiny_seed0.png",
    ]


@pytest.mark.parametrize(
    "args,phrase",
    [
        (["-n", "0"], "n: Input should be greater than or equal to 1"),
        (["-n", "-5"], "greater than or equal to 1"),
        (["--seed", "-1"], "seed"),
        (["--prompt", "a red circle"], "does not take a prompt"),
        (["--steps", "20"], "--steps does not apply"),
        (["--guidance", "nan"], "guidance"),
        (["--guidance", "inf"], "guidance"),
        (["--label", "3"], "does not take a label"),
        (["--truncation", "-1"], "truncation"),
        (["--sampler", "ddmi"], "unknown sampler 'ddmi'"),
        (["--sampler", "ddim"], "sampler 'ddim' draws diffusion models"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--image", "missing.png"], "does not take an input image"),
        (["-n", "many"], "'many' is not a valid integer"),
    ],
)
def test_bad_sample_values(tiny_dcgan, tmp_path, args, phrase) -> None:
    proc = run_zoo("sample", str(tiny_dcgan), *args, "-o", str(tmp_path / "x.png"))
    assert_clean_error(proc, phrase)
    assert not (tmp_path / "x.png").exists()


def test_absent_cuda_is_a_clear_error(tiny_dcgan, tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        return
    proc = run_zoo("sample", str(tiny_dcgan), "--device", "cuda", "-o", str(tmp_path / "x.png"))
    assert_clean_error(proc, "no CUDA GPU is available")


def test_label_out_of_range_for_class_model(tiny_cgan, tmp_path) -> None:
    proc = run_zoo("sample", str(tiny_cgan), "--label", "10", "-o", str(tmp_path / "x.png"))
    assert_clean_error(proc, "label 10 is out of range", "0..9")


def test_non_utf8_prompt(tiny_dcgan) -> None:  # S2
    env_python = [sys.executable, "-m", "zoo", "sample", str(tiny_dcgan), "--prompt"]
    proc = subprocess.run([*env_python, b"caf\xe9"], capture_output=True)
    assert proc.returncode == 2
    assert b"not valid UTF-8 (byte 0xe9 at position 3)" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_existing_output_needs_force(tiny_dcgan, tmp_path) -> None:  # S10
    out = tmp_path / "x.png"
    out.write_bytes(b"precious")
    assert_clean_error(run_zoo("sample", str(tiny_dcgan), "-o", str(out)), "exists", "--force")
    assert out.read_bytes() == b"precious"
    assert run_zoo("sample", str(tiny_dcgan), "-o", str(out), "--force").returncode == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_unknown_model_suggests(tmp_path) -> None:  # H1
    proc = run_zoo("sample", "dcgan-digit", "-o", str(tmp_path / "x.png"))
    assert_clean_error(proc, "unknown model 'dcgan-digit'", "did you mean 'dcgan-digits'")


def test_unknown_command_suggests() -> None:
    proc = run_zoo("sampel")
    assert proc.returncode == 2
    assert "did you mean sample" in proc.stderr


def test_from_with_extra_options_is_refused(tiny_dcgan, tmp_path) -> None:
    assert run_zoo("sample", str(tiny_dcgan), "-o", str(tmp_path / "a.png")).returncode == 0
    proc = run_zoo(
        "sample", "--from", str(tmp_path / "a.png"), "--label", "3", "-o", str(tmp_path / "b.png")
    )
    assert_clean_error(proc, "--from takes its parameters from the image")


def test_debug_shows_the_traceback(tmp_path) -> None:
    proc = run_zoo("--debug", "sample", "nope-model", "-o", str(tmp_path / "x.png"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = run_zoo("sample", "nope-model", env={"ZOO_DEBUG": "1"})
    assert "Traceback" in proc.stderr


def test_bad_values_fail_before_torch_is_imported(tiny_dcgan) -> None:  # S5 / figure 8
    code = (
        "import sys\n"
        "from zoo.cli import main\n"
        "try:\n"
        f"    main(['sample', {str(tiny_dcgan)!r}, '--steps', '5'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 2, e.code\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


def test_info_and_list_json(tiny_dcgan) -> None:
    proc = run_zoo("info", str(tiny_dcgan), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["zoo"]["family"] == "dcgan" and data["process"] == "one-shot"
    assert data["library_name"] == "zoo" and "model.safetensors" in data["zoo"]["files"]
    rows = json.loads(run_zoo("list", "--json").stdout)
    assert all(
        {"id", "family", "process", "capabilities", "source", "plugin"} <= set(r) for r in rows
    )


def test_info_escapes_control_characters_of_the_card(tiny_dcgan, tmp_path) -> None:
    """W14: a card is third-party text; ANSI sequences must not reach the terminal raw."""
    import shutil

    folder = tmp_path / "evil"
    shutil.copytree(tiny_dcgan, folder)
    readme = folder / "README.md"
    readme.write_text(readme.read_text() + "\nclear \x1b[2J\x1b]0;title\x07 done\n")
    proc = run_zoo("info", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert (
        "clear \\x1b[2J" in proc.stdout and "family: dcgan (one-shot; unconditional)" in proc.stdout
    )
    assert "options: --truncation" in proc.stdout


def test_png_name_of_a_folder_is_a_clear_error(tiny_dcgan, tmp_path) -> None:  # issue 14.1
    (tmp_path / "d.png").mkdir()
    proc = run_zoo("sample", str(tiny_dcgan), "-o", str(tmp_path / "d.png"), "--force")
    assert_clean_error(proc, "is a folder, not a PNG file", "d.png/")
    # the trailing slash asks for that folder, and it gets one PNG per image
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "2", "-o", str(tmp_path / "d.png") + "/")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "d.png").iterdir()) == ["000000.png", "000001.png"]


@pytest.mark.parametrize("suffix", [".jpg", ".JPEG", ".webp", ".gif", ".bmp", ".tif", ".tiff"])
def test_other_image_formats_are_refused(tiny_dcgan, tmp_path, suffix) -> None:  # issue 14.2
    out = tmp_path / f"x{suffix}"
    proc = run_zoo("sample", str(tiny_dcgan), "-o", str(out))
    assert_clean_error(proc, "the zoo writes PNG", f"use -o {tmp_path / 'x.png'} or a folder")
    assert not out.exists()


def test_trailing_slash_means_a_folder(tiny_dcgan, tmp_path) -> None:  # issue 14.2
    out = tmp_path / "exists.png"
    out.write_bytes(b"precious")
    proc = run_zoo("sample", str(tiny_dcgan), "-o", f"{out}/", "--force")
    assert_clean_error(proc, "ends with a slash, which means a folder", "is a file")
    assert out.read_bytes() == b"precious"
    proc = run_zoo("sample", str(tiny_dcgan), "-o", str(tmp_path / "pics.jpg") + "/")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "pics.jpg").iterdir()] == ["000000.png"]


def test_api_save_follows_the_same_rules(tiny_dcgan, tmp_path) -> None:  # issue 14.1/14.2
    import zoo
    from zoo.registry.errors import RequestError

    samples = zoo.load(str(tiny_dcgan)).sample(n=2)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(RequestError, match="is a folder, not a PNG file"):
        samples.save(tmp_path / "d.png", force=True)
    with pytest.raises(RequestError, match="the zoo writes PNG"):
        samples.save(tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()
    written = samples.save(f"{tmp_path / 'd.png'}/")
    assert [p.name for p in written] == ["000000.png", "000001.png"]


@pytest.mark.parametrize(
    "args,flag", [(["--seed", "9"], "--seed"), (["-n", "4"], "-n"), (["--seed", "0"], "--seed")]
)
def test_from_refuses_seed_and_n(tiny_dcgan, tmp_path, args, flag) -> None:  # issue 14.3
    assert run_zoo("sample", str(tiny_dcgan), "-o", str(tmp_path / "a.png")).returncode == 0
    proc = run_zoo(
        "sample", "--from", str(tmp_path / "a.png"), *args, "-o", str(tmp_path / "b.png")
    )
    assert_clean_error(proc, f"--from takes its parameters from the image; drop {flag}")
    assert not (tmp_path / "b.png").exists()


def test_from_replays_the_dtype(tiny_dcgan, tmp_path) -> None:  # issue 14.4
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "3", "--dtype", "bfloat16", "-o", str(a))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(Image.open(a).text["zoo"])["dtype"] == "bfloat16"
    proc = run_zoo("sample", "--from", str(a), "-o", str(b))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(Image.open(b).text["zoo"])["dtype"] == "bfloat16"
    assert a.read_bytes() == b.read_bytes()
    proc = run_zoo("sample", "--from", str(a), "--dtype", "float32", "-o", str(tmp_path / "c.png"))
    assert_clean_error(proc, "drawn in bfloat16", "drop --dtype")
    plain = tmp_path / "plain.png"
    assert run_zoo("sample", str(tiny_dcgan), "-o", str(plain)).returncode == 0
    assert json.loads(Image.open(plain).text["zoo"])["dtype"] == "float32"


def test_seed_range_covers_every_image(tiny_dcgan, tmp_path) -> None:  # issue 14.5
    out = tmp_path / "d"
    proc = run_zoo("sample", str(tiny_dcgan), "--seed", str(2**63 - 1), "-n", "2", "-o", str(out))
    assert_clean_error(proc, f"with n=2 the largest seed is {2**63 - 2}")
    assert not out.exists()
