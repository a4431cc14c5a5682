"""Model cards: front matter parsing and schema (C rows of RELIABILITY.md)."""

from __future__ import annotations

import pytest

from zoo.registry.cards import parse_card_text, read_card, read_config, render_card
from zoo.registry.errors import CardError
from zoo.registry.schemas import FileEntry, ModelCard, ZooSection

SHA = "0" * 64


def card_text(zoo_block: str, extra: str = "") -> str:
    return f"---\nlicense: mit\n{extra}zoo:\n{zoo_block}---\n\n# body\n"


GOOD = f"  family: dcgan\n  files:\n    model.safetensors:\n      sha256: '{SHA}'\n      size: 10\n"


def test_round_trip() -> None:
    card = ModelCard(
        license="mit",
        library_name="zoo",
        tags=["zoo"],
        zoo=ZooSection(family="dcgan", files={"model.safetensors": FileEntry(sha256=SHA, size=3)}),
    )
    text = render_card(card, "# hello\n")
    back, body = parse_card_text(text)
    assert back == card
    assert body.strip() == "# hello"


def test_missing_zoo_section() -> None:  # C1
    with pytest.raises(CardError, match="missing field 'zoo'"):
        parse_card_text("---\nlicense: mit\n---\n")


def test_missing_required_field_names_its_path() -> None:  # C1
    with pytest.raises(CardError, match=r"zoo\.files: Field required"):
        parse_card_text(card_text("  family: dcgan\n"))


def test_unknown_zoo_field_is_refused() -> None:  # C2: our section is strict
    with pytest.raises(CardError, match=r"zoo\.famly"):
        parse_card_text(card_text(GOOD + "  famly: x\n"))


def test_unknown_top_level_field_warns() -> None:  # C2: third-party cards keep theirs
    with pytest.warns(UserWarning, match="mystery"):
        parse_card_text(card_text(GOOD, extra="mystery: 1\n"))


def test_nan_in_card_is_refused() -> None:  # C3
    with pytest.raises(CardError, match="zoo.parameters"):
        parse_card_text(card_text(GOOD + "  parameters: .nan\n"))


def test_alias_bomb_is_refused() -> None:  # C4
    bomb = "---\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n---\n"
    with pytest.raises(CardError, match="aliases are not allowed"):
        parse_card_text(bomb)


def test_huge_card_is_refused(tmp_path) -> None:  # C4
    (tmp_path / "README.md").write_text("---\n" + "#" * (2 << 20) + "\n---\n")
    with pytest.raises(CardError, match="limit"):
        read_card(tmp_path)


def test_no_front_matter() -> None:
    with pytest.raises(CardError, match="no YAML front matter"):
        parse_card_text("# just markdown\n")


def test_weight_name_escaping_the_folder_is_refused() -> None:  # W15 / H14
    block = (
        f"  family: dcgan\n  files:\n    ../x.safetensors:\n      sha256: '{SHA}'\n      size: 1\n"
    )
    with pytest.raises(CardError, match="in the model folder"):
        parse_card_text(card_text(block))


@pytest.mark.parametrize(
    "name",
    [
        "/etc/x.safetensors",
        "unet/../../x.safetensors",
        ".hidden/x.safetensors",
        "unet/.x.safetensors",
    ],
)
def test_weight_names_in_subfolders_stay_inside(name: str) -> None:
    block = f"  family: dcgan\n  files:\n    {name}:\n      sha256: '{SHA}'\n      size: 1\n"
    with pytest.raises(CardError, match="in the model folder"):
        parse_card_text(card_text(block))


def test_weight_names_may_live_in_subfolders() -> None:
    block = f"  family: dcgan\n  files:\n    unet/diffusion_pytorch_model.safetensors:\n      sha256: '{SHA}'\n      size: 1\n"
    card = parse_card_text(card_text(block))[0]
    assert list(card.zoo.files) == ["unet/diffusion_pytorch_model.safetensors"]


def test_missing_card_file(tmp_path) -> None:  # C7
    with pytest.raises(CardError, match="has no README.md card"):
        read_card(tmp_path)


def test_bad_config_json(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CardError, match="not valid JSON"):
        read_config(tmp_path)


MODEL_INDEX = (
    "model-index:\n- name: m\n  results:\n  - task: {type: unconditional-image-generation}\n"
    "    metrics:\n    - {type: fid, value: 12.5}\n    - {type: is, value: VALUE}\n"
)


@pytest.mark.parametrize(
    "value,what", [(".nan", "NaN"), (".NaN", "NaN"), (".inf", "infinite"), ("-.Inf", "infinite")]
)
def test_non_finite_figures_are_refused_with_their_path(value, what) -> None:  # issue 14.7
    extra = MODEL_INDEX.replace("VALUE", value)
    with pytest.raises(
        CardError, match=rf"card: model-index\[0\]\.results\[0\]\.metrics\[1\]\.value is {what}"
    ):
        parse_card_text(card_text(GOOD, extra=extra))
    training = GOOD + f"  training:\n    steps: 3\n    time_seconds: {value}\n"
    with pytest.raises(CardError, match=rf"zoo\.training\.time_seconds is {what}"):
        parse_card_text(card_text(training))


def test_finite_figures_and_nan_text_are_fine() -> None:
    card, _ = parse_card_text(
        card_text(
            GOOD + "  training:\n    time_seconds: 1.5\n    note: .nan is text here\n",
            extra=MODEL_INDEX.replace("VALUE", "'.nan'"),
        )
    )
    assert card.zoo.training["time_seconds"] == 1.5
    assert card.model_index[0]["results"][0]["metrics"][1]["value"] == ".nan"
