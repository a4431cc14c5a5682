"""Text that never refuses a word: dalle, clip, noisy-clip and stackgan (through its CLIP)
with ``tokenizer: bpe``, trained a few steps at the tiny preset, saved and loaded again.

Any UTF-8 prompt reads (unknown words are byte pieces), a prompt past the context is cut
with one notice showing the dropped tail, and an empty one is refused with one line.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

import zoo
from zoo.plugins.nn.text import BPETokenizer, WordTokenizer
from zoo.registry.errors import CardError, IntegrityError, RequestError

ORANGE = "an orange circle"
UNKNOWN = "zxqv blorp"
LONG = ("a red circle on the left " + "zq " * 4000)[:10_000]
EMPTY = "the prompt is empty; describe what to draw, e.g. '"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny BPE models trained through `zoo train`; stackgan reads text through the clip."""
    from zoo.train import train

    root = tmp_path_factory.mktemp("bpe")
    out = {
        name: train(name, "scenes", root / name, preset="tiny", steps=2, progress=False)
        for name in ("clip", "noisy-clip", "dalle")
    }
    text = {"text_encoder": str(out["clip"]), "text_dim": 8}
    out["stackgan"] = train(
        "stackgan", "scenes", root / "stackgan", preset="tiny", steps=2, sets=text, progress=False
    )
    return out


def read(folders: dict[str, Path], family: str, prompt: str, n: int = 1) -> torch.Tensor:
    """What the family makes of a prompt: images (dalle, stackgan; one per batch, so a
    prompt read per batch is read n times) or the text embedding (the CLIPs)."""
    model = zoo.load(str(folders[family]), device="cpu")
    if family in ("clip", "noisy-clip"):
        model.network.check_prompt(prompt)
        return model.network.encode_text([prompt])
    return model.sample(n=n, seed=0, prompt=prompt, batch_size=1).images


FAMILIES = ["dalle", "stackgan", "clip", "noisy-clip"]


@pytest.mark.parametrize("family", FAMILIES)
def test_any_prompt_reads(folders: dict[str, Path], family: str) -> None:
    for prompt in (ORANGE, UNKNOWN, "ünïcode ✓ 🙂"):
        out = read(folders, family, prompt)
        assert torch.isfinite(out).all() and len(out) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_a_long_prompt_is_cut_with_one_notice(folders: dict[str, Path], family: str) -> None:
    assert len(LONG) == 10_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read(folders, family, LONG, n=2)
    notices = [str(w.message) for w in caught if "the rest is dropped" in str(w.message)]
    assert len(notices) == 1, notices
    assert torch.isfinite(out).all()
    # the tail is shown: the repeated nonsense word, not the start the model reads
    shown = notices[0].split("the rest is dropped: ")[1]
    assert "zq zq zq" in shown and "red circle" not in shown and "characters)" in shown
    assert "\n" not in notices[0]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("prompt", ["", "   "])
def test_an_empty_prompt_is_one_line(folders: dict[str, Path], family: str, prompt: str) -> None:
    with pytest.raises(RequestError) as err:
        read(folders, family, prompt)
    assert str(err.value).startswith(EMPTY) and "\n" not in str(err.value)


def test_words_models_refuse_empty_prompts_alike_and_name_their_vocabulary() -> None:
    tok = WordTokenizer(("red", "circle"))
    with pytest.raises(RequestError, match=f"^{EMPTY}"):
        tok.check_prompt("  ", 8)
    with pytest.raises(RequestError, match="outside this model's closed vocabulary: blorp"):
        tok.check_prompt("red blorp", 8)


def test_cli_draws_unknown_words_and_refuses_an_empty_prompt(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.cli import main

    out = tmp_path / "x.png"
    main(["sample", str(folders["dalle"]), "--prompt", UNKNOWN, "-n", "1", "-o", str(out)])
    assert out.is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as code:
        main(["sample", str(folders["dalle"]), "--prompt", "", "-o", str(tmp_path / "y.png")])
    err = capsys.readouterr().err
    assert code.value.code == 2
    assert err.startswith(f"zoo: {EMPTY}") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("family", ["dalle", "clip", "noisy-clip"])
def test_the_tokenizer_files_round_trip(
    folders: dict[str, Path], family: str, tmp_path: Path
) -> None:
    from zoo.data import load_split

    folder = folders[family]
    assert {"vocab.json", "merges.txt", "tokenizer_config.json"} <= {
        p.name for p in (folder / "tokenizer").iterdir()
    }
    config = json.loads((folder / "config.json").read_text())
    assert config["tokenizer"] == "bpe" and config["vocabulary"] == []
    loaded = zoo.load(str(folder), device="cpu").generator.tokenizer
    assert isinstance(loaded, BPETokenizer)
    # the folder holds what the recipe learned from the training captions ...
    captions = load_split("scenes", "train", 8)["caption"]
    learned = BPETokenizer.learn(captions, config["tokenizer_merges"])
    # ... and writing it again gives the same ids
    again = BPETokenizer.from_folder(loaded.save(tmp_path / "tokenizer"))
    texts = [captions[0], ORANGE, UNKNOWN, "ünïcode ✓", ""]
    ids = learned(texts, 24)
    assert torch.equal(loaded(texts, 24), ids) and torch.equal(again(texts, 24), ids)
    # a caption's words are whole tokens: the merges were learned, not bytes alone
    assert len(learned.bpe.encode(captions[0])) == len(captions[0].replace(",", " ,").split())


def test_a_folder_without_its_tokenizer_is_one_clear_error(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "dalle-no-tokenizer"
    shutil.copytree(folders["dalle"], folder)
    shutil.rmtree(folder / "tokenizer")
    # the card lists the tokenizer's files among its assets: their absence is named
    with pytest.raises(IntegrityError, match="file tokenizer/merges.txt of .* is missing"):
        zoo.load(str(folder), device="cpu")
    # a card that lists none (written by hand) still gets the family's own message
    from zoo.registry.cards import read_card
    from zoo.train import _write_card

    card, _ = read_card(folder)
    _write_card(folder, card.model_copy(update={"zoo": card.zoo.model_copy(update={"assets": {}})}))
    with pytest.raises(CardError, match="has no tokenizer/ folder"):
        zoo.load(str(folder), device="cpu")


def test_a_tokenizer_larger_than_the_embedding_is_a_card_error(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "clip-small-table"
    shutil.copytree(folders["clip"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "tokenizer_merges": 10}))
    with pytest.raises(CardError, match="do not belong together"):
        zoo.load(str(folder), device="cpu")


@pytest.mark.parametrize("family", ["clip", "noisy-clip"])
def test_evaluation_reads_the_dataset_captions(folders: dict[str, Path], family: str) -> None:
    from zoo.data import load_split
    from zoo.registry.discovery import get_registry, load_object

    net = zoo.load(str(folders[family]), device="cpu").network
    evaluate = load_object(type(net).evaluator)
    assert get_registry().family(family).kind == "reference"
    figures = evaluate(net, "scenes", lambda s: load_split("scenes", s, 8), n=120)
    values = [m["value"] for r in figures["results"] for m in r["metrics"]]
    assert values and all(v == v for v in values)  # numbers, not NaN
