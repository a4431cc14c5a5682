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
MODELS = ["glide-scenes", "ldm-scenes"]


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
