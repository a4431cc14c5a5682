"""Error and notice wording: each says what it means, where, and in the caller's terms."""

from __future__ import annotations

import json
import shutil

import pytest

import zoo
from tests.conftest import run_zoo
from zoo.registry.cards import parse_card_text, read_card
from zoo.registry.errors import CardError, RequestError
from zoo.registry.schemas import SampleRequest

CYCLEGAN_INPUT = "cards/cyclegan-daynight/example-input.png"


@pytest.mark.parametrize(
    ("fields", "caps", "phrase"),
    [
        ({"prompt": "a"}, ("unconditional",), "(it is unconditional); drop --prompt"),
        ({"prompt": "a"}, ("unconditional", "class"), "(it takes a class label, or nothing)"),
        ({"label": 1}, ("text",), "does not take a label (it takes a prompt)"),
        ({"prompt": "a"}, ("image", "mask"), "(it takes an input image or a mask)"),
    ],
)
def test_refusals_say_what_the_model_takes(fields, caps, phrase) -> None:
    with pytest.raises(RequestError) as err:
        SampleRequest(**fields).check_against("m", "one-shot", caps)
    assert phrase in str(err.value)


def test_the_python_api_speaks_of_keyword_arguments(tmp_path) -> None:
    model = zoo.load("dcgan-digits", device="cpu")
    with pytest.raises(RequestError) as err:
        model.sample(prompt="a red circle")
    assert str(err.value).endswith("drop prompt=...") and "--" not in str(err.value)
    with pytest.raises(RequestError, match=r"strength=\.\.\. needs image=\.\.\."):
        model.sample(strength=0.5)
    proc = run_zoo("sample", "dcgan-digits", "--prompt", "x", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and proc.stderr.strip().endswith("drop --prompt")


def test_keyword_message_changes_only_the_named_flags() -> None:
    from zoo.api import keyword_message

    names = {"mix_seed", "prompt", "label"}
    text = "pass --prompt 'a red circle' or --mix-seed 3 with --label; see --force, --mix-layers"
    assert keyword_message(text, names) == (
        "pass prompt='a red circle' or mix_seed=3 with label=...; see --force, --mix-layers"
    )


def test_config_errors_are_not_called_a_request(tmp_path) -> None:
    folder = tmp_path / "m"
    shutil.copytree("cards/dcgan-digits", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "latent_dim": -1}))
    with pytest.raises(CardError) as err:
        zoo.load(str(folder), device="cpu")
    message = str(err.value)
    assert "config.json: invalid config: latent_dim" in message and "request" not in message


def test_card_errors_name_the_file_and_the_yaml_position(tmp_path) -> None:
    (tmp_path / "README.md").write_text("# just markdown\n")
    with pytest.raises(CardError, match=f"^{tmp_path}/README.md: no YAML front matter"):
        read_card(tmp_path)
    with pytest.raises(CardError, match=r"^c: the front matter is not closed"):
        parse_card_text("---\nlicense: mit\n", "c")
    with pytest.raises(CardError) as err:
        parse_card_text("---\nlicense: mit\ntags: a: b\n---\n", "c")
    assert str(err.value).endswith("not allowed in this context (line 3, column 8)")


def test_a_disabled_plugins_model_says_the_plugin_is_disabled(tmp_path) -> None:
    out = str(tmp_path / "x.png")
    proc = run_zoo("sample", "dcgan-digits", "-o", out, env={"ZOO_DISABLE_PLUGINS": "dcgan"})
    assert proc.returncode == 2
    assert "family 'dcgan' comes from plugin 'dcgan', which is disabled (ZOO_DISABLE_PLUGINS" in (
        proc.stderr
    )
    train = ("train", "dcgan", "--data", "digits", "--out", str(tmp_path / "m"))
    proc = run_zoo(*train, env={"ZOO_LOAD_PLUGINS": "gan"})
    assert proc.returncode == 2 and "(ZOO_LOAD_PLUGINS leaves it out)" in proc.stderr


def test_zoo_list_columns_agree_with_its_json() -> None:
    rows = {r["id"]: r for r in json.loads(run_zoo("list", "--json").stdout)}
    lines = run_zoo("list").stdout.splitlines()
    header = lines[0].split()
    assert header[:5] == ["ID", "FAMILY", "KIND", "PROCESS", "CAPABILITIES"]
    for line in lines[1:]:
        cells = line.split()
        row = rows[cells[0]]
        assert cells[2] == row["kind"]
        assert cells[3] == (row["process"] or "-")
    assert rows["ae-digits"]["process"] is None


def test_a_seed_blind_model_says_its_images_will_be_identical(tmp_path) -> None:
    args = ("sample", "cyclegan-daynight", "--image", CYCLEGAN_INPUT)
    proc = run_zoo(*args, "-n", "3", "-o", str(tmp_path / "three.png"))
    assert proc.returncode == 0, proc.stderr
    assert "the 3 images will be identical" in proc.stderr
    proc = run_zoo(*args, "-o", str(tmp_path / "one.png"))
    assert proc.returncode == 0 and "identical" not in proc.stderr
