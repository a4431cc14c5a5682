"""The request contracts: options declared by families and samplers, conditions decoded once
into tensors, components loaded once and shared, declared (not probed) behaviour."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import pytest
import torch
from pydantic import Field

import zoo
from zoo.cli import main
from zoo.registry.errors import PluginError, RequestError
from zoo.registry.options import NoOptions, Options, describe_options, split_options

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _capture(capsys):
    global _CAPSYS
    _CAPSYS = capsys


def _zoo(*args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    _CAPSYS.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = _CAPSYS.readouterr()
    return code, out.out, out.err


# -- options models ---------------------------------------------------------------------


class Good(Options):
    level: int | None = Field(default=None, ge=1, le=5, description="how much")
    mode: Literal["a", "b"] | None = Field(default=None, description="which way")
    loud: bool | None = Field(default=None, description="on or off")


def test_options_fields_are_described_for_the_cli():
    fields = {f.name: f for f in describe_options(Good)}
    assert fields["level"].kind == "int" and fields["level"].constraints == ">= 1, <= 5"
    assert fields["mode"].kind == "choice" and fields["mode"].choices == ("a", "b")
    assert fields["loud"].kind == "bool" and fields["loud"].flag == "--loud"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"x": (int | None, Field(default=None))}, "no description"),
        ({"x": (int, Field(description="required"))}, "no default"),
        ({"prompt": (str | None, Field(default=None, description="clash"))}, "request field"),
        ({"x": (list[int] | None, Field(default=None, description="odd type"))}, "unsupported"),
    ],
)
def test_options_models_that_break_the_rules_are_refused(body, message):
    from pydantic import create_model

    bad = create_model("Bad", __base__=Options, **body)
    with pytest.raises(PluginError, match=message):
        describe_options(bad)


def test_split_options_routes_each_name_to_its_owner_and_refuses_the_rest():
    class Samp(Options):
        steps_x: int | None = Field(default=None, description="s")

    out = split_options({"level": 2, "steps-x": 3}, {"family": Good, "sampler": Samp}, "m")
    assert out["family"].level == 2 and out["sampler"].steps_x == 3
    with pytest.raises(RequestError, match=r"--nope does not apply to 'm' \(its options: --level"):
        split_options({"nope": 1}, {"family": Good, "sampler": Samp}, "m")
    with pytest.raises(RequestError, match="invalid option --level"):
        split_options({"level": 9}, {"family": Good, "sampler": NoOptions}, "m")
    with pytest.raises(PluginError, match="declared by both"):
        split_options({}, {"family": Good, "sampler": Good}, "m")


def test_every_registered_options_class_follows_the_rules():
    from zoo.catalog import options_class
    from zoo.registry.discovery import get_registry

    reg = get_registry()
    seen = 0
    for spec in [*reg.families.values(), *reg.samplers.values()]:
        cls = options_class(spec.options, spec.name)
        describe_options(cls)
        seen += cls is not NoOptions
    assert seen >= 5  # truncation families, stylegan, stackgan, cyclegan, the ar sampler


# -- the CLI: typed flags, -O, refusals, replay -------------------------------------------


def test_a_choice_flag_with_a_bad_value_is_one_line():
    code, _, err = _zoo("sample", "cyclegan-daynight", "--direction", "sideways")
    assert code == 2 and "invalid option --direction" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_family_options_are_typed_flags_in_the_models_help():
    code, out, _ = _zoo("sample", "stylegan-scenes", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--mix-seed INTEGER" in text and "the seed of a second latent" in text
    assert "--mix-layers [coarse|fine]" in text and "--noise / --no-noise" in text
    # another model lists its own and not stylegan's
    code, out, _ = _zoo("sample", "dalle-scenes", "--help")
    assert "--rerank INTEGER" in out and "--mix-seed INTEGER" not in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["--guidance", "5"], "--guidance does not apply to 'vqvae-scenes'"),
        (["--steps", "64"], "--steps does not apply to 'vqvae-scenes'"),
        (["--mix-seed", "3"], "--mix-seed does not apply to 'vqvae-scenes'"),
        (["-O", "mix_seed=3"], "--mix-seed does not apply to 'vqvae-scenes'"),
        (["--top-k", "0"], "invalid option --top-k"),
        (["--top-k", "many"], "invalid option --top-k: 'many' is not a valid integer"),
        (["--control", "x.png"], "does not take control images"),
    ],
)
def test_what_a_model_cannot_use_is_a_one_line_error(args, words):
    code, _, err = _zoo("sample", "vqvae-scenes", *args)
    assert code == 2, err
    assert words in err and len(err.strip().splitlines()) == 1, err


def test_typed_flag_and_dash_o_draw_the_same_and_from_replays(tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert _zoo("sample", "stylegan-scenes", "--mix-seed", "4", "-n", "2", "-o", str(a))[0] == 0
    assert _zoo("sample", "stylegan-scenes", "-O", "mix_seed=4", "-n", "2", "-o", str(b))[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert _zoo("sample", "--from", str(a), "-o", str(c))[0] == 0
    assert c.read_bytes() == a.read_bytes()
    from zoo.images import read_meta

    assert read_meta(a)["options"] == {"mix_seed": 4}


def test_png_with_options_at_the_top_level_still_replays(tmp_path):
    """PNGs written before options had their own key kept them beside the request fields."""
    from zoo.images import read_meta, save_png, to_pil

    new = tmp_path / "new.png"
    assert _zoo("sample", "dcgan-digits", "-O", "truncation=0.5", "-o", str(new))[0] == 0
    meta = read_meta(new)
    legacy = {k: v for k, v in meta.items() if k != "options"} | meta["options"]
    old = tmp_path / "old.png"
    save_png(to_pil(torch.zeros(1, 1, 8, 8))[0], old, legacy)
    again = tmp_path / "again.png"
    assert _zoo("sample", "--from", str(old), "-o", str(again))[0] == 0
    assert again.read_bytes() == new.read_bytes()


def test_the_api_takes_options_as_keywords_or_a_dict():
    model = zoo.load("stylegan-scenes", device="cpu")
    a = model.sample(n=2, seed=1, mix_seed=9, noise=False).images
    b = model.sample(n=2, seed=1, options={"mix_seed": 9, "noise": False}).images
    assert torch.equal(a, b)
    assert not torch.equal(a, model.sample(n=2, seed=1).images)
    with pytest.raises(RequestError, match="given twice"):
        model.sample(mix_seed=1, options={"mix_seed": 2})


def test_list_json_names_each_models_options():
    code, out, _ = _zoo("list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["stylegan-scenes"]["options"] == ["truncation", "mix_seed", "mix_layers", "noise"]
    assert rows["dalle-scenes"]["options"] == ["temperature", "top_k", "top_p", "rerank"]
    assert rows["pix2pix-scenes-edges"]["options"] == []


# -- conditions ---------------------------------------------------------------------------


def test_generators_take_decoded_tensors_not_paths():
    from zoo.registry.contracts import Conditions
    from zoo.registry.options import NoOptions

    model = zoo.load("pix2pix-scenes-edges", device="cpu")
    edges = torch.rand(1, 1, 32, 32)
    inputs = model.generator.inputs(Conditions(image=edges), NoOptions(), [0, 1])
    assert torch.equal(inputs["condition"], edges.expand(2, -1, -1, -1))
    with pytest.raises(RequestError, match="--image"):
        model.generator.inputs(Conditions(), NoOptions(), [0])


def test_the_app_decodes_image_and_mask_once_with_clear_errors(tmp_path):
    from zoo.conditions import decode
    from zoo.images import save_png, to_pil
    from zoo.registry.schemas import SampleRequest

    model = zoo.load("pix2pix-scenes-edges", device="cpu")
    img, mask, small, black = (tmp_path / f"{k}.png" for k in ("img", "mask", "small", "black"))
    save_png(to_pil(torch.rand(1, 3, 32, 32))[0], img)
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:16, 8:16] = 1
    save_png(to_pil(m)[0], mask)
    save_png(to_pil(torch.ones(1, 1, 16, 16))[0], small)
    save_png(to_pil(torch.zeros(1, 1, 32, 32))[0], black)
    cond = decode(SampleRequest(image=str(img), mask=str(mask)), model.generator, "m")
    assert cond.image.shape == (1, 1, 32, 32)  # converted to the model's one channel
    assert cond.mask.shape == (1, 1, 32, 32) and float(cond.mask.sum()) == 64
    with pytest.raises(RequestError, match="must have the input image's size"):
        decode(SampleRequest(image=str(img), mask=str(small)), model.generator, "m")
    with pytest.raises(RequestError, match="no white pixel"):
        decode(SampleRequest(image=str(img), mask=str(black)), model.generator, "m")
    with pytest.raises(RequestError, match="does not take an input image"):
        decode(SampleRequest(image=str(img)), zoo.load("dcgan-digits").generator, "d")


def test_a_size_the_model_cannot_draw_is_refused():
    model = zoo.load("dcgan-digits", device="cpu")
    with pytest.raises(RequestError, match="draws 16x16 images only"):
        model.sample(height=32)
    assert model.sample(height=16, width=16).images.shape[-2:] == (16, 16)


# -- components ---------------------------------------------------------------------------


def test_a_component_named_by_two_models_is_loaded_once_and_shared():
    dalle = zoo.load("dalle-scenes", device="cpu")
    stack = zoo.load("stackgan-scenes", device="cpu")
    clip = zoo.load("clip-scenes-bpe", device="cpu").network
    assert dalle.generator.components["reranker"] is clip
    assert stack.generator.components["text_encoder"] is clip


def test_a_card_can_point_a_component_elsewhere(tmp_path):
    """A folder copy of stackgan-scenes whose card names its text encoder by folder path."""
    import yaml

    clip = tmp_path / "my-clip"
    shutil.copytree(ROOT / "cards" / "clip-scenes-bpe", clip)
    model = tmp_path / "my-stackgan"
    shutil.copytree(ROOT / "cards" / "stackgan-scenes", model)
    card = (model / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    data = yaml.safe_load(front)
    data["zoo"]["components"] = {"text_encoder": {"model": str(clip)}}
    (model / "README.md").write_text("---\n" + yaml.safe_dump(data) + "---\n" + body)
    loaded = zoo.load(str(model), device="cpu")
    encoder = loaded.generator.components["text_encoder"]
    assert encoder is zoo.load(str(clip), device="cpu").network
    assert encoder is not zoo.load("clip-scenes-bpe", device="cpu").network
    want = zoo.load("stackgan-scenes", device="cpu").sample(n=2, prompt="a red circle").images
    assert torch.equal(loaded.sample(n=2, prompt="a red circle").images, want)


def test_component_sources_in_a_card_are_checked():
    from pydantic import ValidationError

    from zoo.registry.schemas import ComponentSource

    assert ComponentSource(subfolder="unet").subfolder == "unet"
    for bad in ({}, {"model": "a", "subfolder": "b"}, {"subfolder": "../x"}, {"subfolder": "/x"}):
        with pytest.raises(ValidationError):
            ComponentSource(**bad)


@pytest.mark.parametrize(
    "model, words",
    [("ae-digits", "is an autoencoder"), ("classifier-digits", "is a reference network")],
)
def test_bench_refuses_models_that_draw_nothing(model, words):
    code, _, err = _zoo("bench", model)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
