"""The shipped text-to-image models read any prompt, from the command line, as the README
documents: words they never saw draw, a prompt past the context draws from its start with
one warning line showing the dropped tail, and an empty prompt is one line with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import zoo_code

LONG = ("a red circle on the left " + "zq " * 4000)[:10_000]
# diffusion models are drawn with 2 steps: what is tested is the reading of the text
STEPS = {"glide-scenes": ["--steps", "2"], "ldm-scenes": ["--steps", "2"]}
MODELS = ["glide-scenes", "ldm-scenes", "dalle-scenes", "stackgan-scenes"]


@pytest.mark.parametrize("model", MODELS)
def test_any_prompt_draws_and_an_empty_one_is_one_line(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k, prompt in enumerate(["an orange circle", "zxqv blorp quokka", LONG]):
        out = tmp_path / f"{k}.png"
        # the long prompt in two batches: its notice is given once per request
        n = ["-n", "2", "--batch-size", "1"] if prompt is LONG else ["-n", "1"]
        code = zoo_code(
            "sample", model, "--prompt", prompt, *n, "-o", str(out), *STEPS.get(model, [])
        )
        err = capsys.readouterr().err
        assert code == 0 and out.is_file(), err
        assert "Traceback" not in err
        notes = [line for line in err.splitlines() if line.startswith("zoo: warning:")]
        if prompt is LONG:
            assert len(notes) == 1 and "zq zq" in notes[0], err
        else:
            assert not notes, err
    code = zoo_code("sample", model, "--prompt", "", "-o", str(tmp_path / "no.png"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("zoo: the prompt is empty") and err.count("\n") == 1, err
    assert not (tmp_path / "no.png").exists()


def test_the_cascade_and_inpainting_draw_the_same_bytes_twice(tmp_path: Path) -> None:
    """glide-scenes at 64x64 runs its base and then its upsampler; glide-scenes-inpaint
    repaints a mask. Each, run twice from the command line, writes the same file."""
    from PIL import Image

    scene = tmp_path / "scene.png"
    mask = tmp_path / "mask.png"
    Image.new("RGB", (32, 32), (200, 200, 200)).save(scene)
    white = Image.new("L", (32, 32), 0)
    white.paste(255, (16, 0, 32, 32))
    white.save(mask)
    runs = {
        "cascade": ["glide-scenes", "--height", "64", "--width", "64", "--upsampler-steps", "2"],
        "inpaint": ["glide-scenes-inpaint", "--image", str(scene), "--mask", str(mask)],
    }
    for name, args in runs.items():
        outs = [tmp_path / f"{name}-{k}.png" for k in range(2)]
        for out in outs:
            code = zoo_code("sample", *args, "--prompt", "a blue square", "-n", "2",
                            "--steps", "2", "-o", str(out))  # fmt: skip
            assert code == 0
        assert outs[0].read_bytes() == outs[1].read_bytes()
        size = 64 if name == "cascade" else 32
        assert Image.open(outs[0]).size == (2 * size + 3, size + 2)  # a grid of two, 1px apart
