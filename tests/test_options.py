"""Family options on requests, the autoregressive sampler, eval options and card figures."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import torch

from zoo.registry.errors import RequestError
from zoo.registry.schemas import FamilySpec, SampleRequest


def test_options_must_be_declared_by_the_family() -> None:
    from zoo.plugins.samplers.options import AutoregressiveOptions
    from zoo.plugins.stylegan.config import StyleGANOptions
    from zoo.registry.options import NoOptions, TruncationOptions, split_options

    trunc = {"family": TruncationOptions, "sampler": NoOptions}
    assert split_options({"truncation": 0.5}, trunc, "m")["family"].truncation == 0.5
    with pytest.raises(RequestError, match="--direction does not apply to 'm'.*--truncation"):
        split_options({"direction": "a2b"}, trunc, "m")
    with pytest.raises(RequestError, match="--top-k does not apply.*none"):
        split_options({"top_k": 5}, {"family": NoOptions, "sampler": NoOptions}, "m")
    ar = {"family": NoOptions, "sampler": AutoregressiveOptions}
    assert split_options({"top_k": 5}, ar, "m")["sampler"].top_k == 5
    with pytest.raises(RequestError, match="--mix-layers needs --mix-seed"):
        split_options(
            {"mix_layers": "fine"}, {"family": StyleGANOptions, "sampler": NoOptions}, "m"
        )


def test_autoencoder_kind_cannot_sample_and_says_why() -> None:
    with pytest.raises(RequestError, match="autoencoder.*zoo reconstruct.*cannot generate.*VAE"):
        SampleRequest().check_against("ae-x", None, (), None, "autoencoder")


def test_family_spec_checks_options_and_kind() -> None:
    with pytest.raises(ValueError, match="options"):
        FamilySpec(
            name="f",
            process="one-shot",
            capabilities=("unconditional",),
            generator="a.b:C",
            options="warp",  # an import path, not a name
        )
    with pytest.raises(ValueError, match="no process"):
        FamilySpec(name="f", kind="autoencoder", process="one-shot", generator="a.b:C")
    spec = FamilySpec(name="f", kind="autoencoder", generator="a.b:C")
    assert spec.can_reconstruct and spec.process is None


@pytest.mark.parametrize(
    ("owner", "field", "value"),
    [
        ("ar", "temperature", 0.0),
        ("ar", "top_p", 1.5),
        ("ar", "top_k", 0),
        ("ar", "rerank", 65),
        ("stackgan", "stage", 0),
        ("stackgan", "stage", 3),
        ("cyclegan", "direction", "sideways"),
        ("stylegan", "mix_layers", "middle"),
        ("ar", "temperature", float("nan")),
        ("stylegan", "truncation", float("inf")),
    ],
)
def test_option_values_are_validated(owner: str, field: str, value: Any) -> None:
    from zoo.plugins.cyclegan.config import CycleGANOptions
    from zoo.plugins.samplers.options import AutoregressiveOptions
    from zoo.plugins.stackgan.config import StackGANOptions
    from zoo.plugins.stylegan.config import StyleGANOptions

    cls = {
        "ar": AutoregressiveOptions,
        "stackgan": StackGANOptions,
        "cyclegan": CycleGANOptions,
        "stylegan": StyleGANOptions,
    }[owner]
    with pytest.raises(ValueError):
        cls(**{field: value})


# -- the autoregressive sampler --------------------------------------------------------------

from zoo.plugins.samplers.autoregressive import (  # noqa: E402
    AutoregressiveSampler,
    candidate_seed,
    draw_tokens,
    filter_logits,
)
from zoo.registry.contracts import AutoregressiveGenerator, FamilyConfig  # noqa: E402


class ToyTokenConfig(FamilyConfig):
    length: int = 6
    vocab: int = 5


class ToyTokens(AutoregressiveGenerator):
    """Logits favour (previous token + 1) mod V; images are the tokens as grey levels."""

    family = "toy-tokens"
    capabilities: ClassVar = ("unconditional",)
    config_class = ToyTokenConfig

    def __init__(self, config: ToyTokenConfig) -> None:
        super().__init__(config)
        self.net = torch.nn.Linear(1, 1)
        self.calls = 0

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"net": self.net}

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1, 1, self.config.length)

    def sequence_length(self) -> int:
        return self.config.length

    def vocab_size(self) -> int:
        return self.config.vocab

    def next_logits(self, tokens: torch.Tensor, context: dict, state: dict) -> torch.Tensor:
        state["steps"] = state.get("steps", 0) + 1
        assert tokens.shape[1] == state["steps"] - 1  # one position at a time, in order
        prev = tokens[:, -1] if tokens.shape[1] else torch.zeros(len(tokens), dtype=torch.long)
        return (
            3.0
            * torch.nn.functional.one_hot((prev + 1) % self.config.vocab, self.config.vocab).float()
        )

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens.float() / (self.config.vocab - 1))[:, None, None, :]

    def score(self, images: torch.Tensor, context: dict) -> torch.Tensor:
        return images.flatten(1).sum(1)  # brighter is better


def _sample(gen: ToyTokens, seeds: list[int], batch_size: int = 16, **kw: Any) -> torch.Tensor:
    from zoo.plugins.samplers.options import AutoregressiveOptions
    from zoo.registry.contracts import Draw

    draw = Draw(
        seeds=tuple(seeds), sampler_options=AutoregressiveOptions(**kw), batch_size=batch_size
    )
    return AutoregressiveSampler().sample(gen, draw)


def test_ar_sampler_is_per_seed_and_batch_independent() -> None:
    gen = ToyTokens(ToyTokenConfig())
    batch = _sample(gen, [3, 4, 5, 6], batch_size=3)
    for k, s in enumerate([3, 4, 5, 6]):
        assert torch.equal(batch[k], _sample(gen, [s])[0])
    assert not all(torch.equal(batch[0], batch[k]) for k in range(1, 4))


def test_top_k_1_and_tiny_temperature_are_greedy() -> None:
    gen = ToyTokens(ToyTokenConfig())
    greedy = (torch.arange(1, 7) % 5).float() / 4
    for kw in ({"top_k": 1}, {"temperature": 0.01}, {"top_p": 0.1}):
        out = _sample(gen, [0, 1, 2], **kw)
        assert torch.equal(out[:, 0, 0], greedy.expand(3, -1)), kw


def test_rerank_keeps_the_best_scoring_candidate() -> None:
    gen = ToyTokens(ToyTokenConfig())
    seed, n = 11, 6
    cands = torch.cat([_sample(gen, [candidate_seed(seed, j)]) for j in range(n)])
    best = cands[int(torch.argmax(cands.flatten(1).sum(1)))]
    assert torch.equal(_sample(gen, [seed], rerank=n)[0], best)
    assert (
        candidate_seed(seed, 0) == seed and len({candidate_seed(seed, j) for j in range(50)}) == 50
    )


def test_filter_and_draw() -> None:
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    assert torch.isinf(filter_logits(logits, 1.0, 2, None)[0, :2]).all()
    kept = filter_logits(logits, 1.0, None, 0.7)  # 3 holds 0.64: add 2 (0.24) to pass 0.7
    assert torch.isfinite(kept[0, 2:]).all() and torch.isinf(kept[0, :2]).all()
    # inverse CDF: u at the ends of [0, 1) picks the first and last kept token
    assert draw_tokens(kept.expand(2, -1), torch.tensor([0.0, 0.9999])).tolist() == [2, 3]


def test_ar_sampler_refuses_rerank_without_score_and_steps() -> None:
    from zoo.registry.schemas import SamplerSpec

    class NoScore(ToyTokens):
        def score(self, images: torch.Tensor, context: dict) -> None:  # type: ignore[override]
            return None

    with pytest.raises(RequestError, match="rerank"):
        _sample(NoScore(ToyTokenConfig()), [0], rerank=2)
    ar = SamplerSpec(name="ar", process="autoregressive", sampler="a.b:C")
    with pytest.raises(RequestError, match="--steps does not apply to 'm'.*'ar' takes no"):
        SampleRequest(steps=3).check_against("m", "autoregressive", ("text",), sampler=ar)


# -- eval options and card figures --------------------------------------------------------------


def test_parse_options_and_labels() -> None:
    from zoo.eval_metrics import options_label
    from zoo.evaluate import parse_options

    opts = parse_options(["truncation=0.5", "direction=b2a", "noise=false", "top-k=4"])
    assert opts == {"truncation": 0.5, "direction": "b2a", "noise": False, "top_k": 4}
    assert options_label({"noise": False, "truncation": 0.5}) == " [noise=false, truncation=0.5]"
    with pytest.raises(RequestError, match="KEY=VALUE"):
        parse_options(["truncation"])


def test_check_options_against_the_family() -> None:
    from zoo.catalog import resolve
    from zoo.evaluate import check_options

    r = resolve("dcgan-digits")
    assert check_options(r, {"truncation": 1}) == {"truncation": 1.0}
    with pytest.raises(RequestError, match="--direction does not apply"):
        check_options(r, {"direction": "a2b"})
    with pytest.raises(RequestError, match="--warp does not apply"):
        check_options(r, {"warp": 1})
    with pytest.raises(RequestError, match="truncation"):
        check_options(r, {"truncation": -1})


def test_write_figure_renders_a_table_with_its_command(tmp_path: Any) -> None:
    import shutil

    from zoo.catalog import resolve
    from zoo.eval_card import write_figure
    from zoo.registry.cards import read_card

    folder = tmp_path / "dcgan-copy"
    shutil.copytree(resolve("dcgan-digits").folder, folder)
    write_figure(
        str(folder),
        "sweep",
        title="A sweep",
        command="python scripts/x.py --write-card",
        columns=["psi", "FID"],
        rows=[[0.5, torch.tensor(12.345678)], [1.0, None]],
        note="lower is better",
    )
    card, body = read_card(folder)
    assert card.zoo.figures["sweep"].rows == [[0.5, 12.3457], [1.0, None]]
    assert "## A sweep" in body and "`python scripts/x.py --write-card`" in body
    assert "| 0.5 | 12.35 |" in body and "| 1 | - |" in body
    assert card.model_index == resolve("dcgan-digits").card.model_index  # the rest is kept
    with pytest.raises(RequestError, match="cells"):
        write_figure(str(folder), "bad", title="t", command="c", columns=["a"], rows=[[1, 2]])
    with pytest.raises(RequestError, match="figure key"):
        write_figure(str(folder), "Bad Key", title="t", command="c", columns=["a"], rows=[])
    json.dumps(card.model_dump(mode="json"))  # the card stays JSON-able


def test_the_card_lists_the_family_options_as_flags() -> None:
    import re

    from zoo.cardtext import render_body
    from zoo.catalog import resolve

    r = resolve("stylegan-scenes")
    body = render_body(r.folder.name, r.card, r.family)
    (line,) = [x for x in body.splitlines() if x.startswith("Options of this family:")]
    assert set(re.findall(r"`(--[^`]+)`", line)) == {
        "--truncation", "--mix-seed", "--mix-layers", "--noise"}  # fmt: skip


def test_load_condition_checks_sizes(tmp_path: Any) -> None:
    from PIL import Image

    from zoo.images import load_condition

    Image.new("RGB", (32, 24)).save(tmp_path / "a.png")
    assert tuple(load_condition(tmp_path / "a.png", 3, multiple_of=8).shape) == (1, 3, 24, 32)
    with pytest.raises(RequestError, match="is 32x24; .*multiples of 16 between 8 and 512"):
        load_condition(tmp_path / "a.png", 3, multiple_of=16)
    with pytest.raises(RequestError, match="between 32 and 64"):
        load_condition(tmp_path / "a.png", 1, min_size=32, max_size=64)
    with pytest.raises(RequestError, match="does not exist"):
        load_condition(tmp_path / "missing.png", 3)


def test_eval_options_take_the_sampler_fields() -> None:
    from zoo.catalog import resolve
    from zoo.evaluate import check_options

    r = resolve("dalle-scenes")
    assert check_options(r, {"top_k": 5, "sampler": "ar"}) == {"sampler": "ar", "top_k": 5}
    with pytest.raises(RequestError, match="--guidance does not apply"):
        check_options(r, {"guidance": 2})
    with pytest.raises(RequestError, match="--steps does not apply to 'dcgan-digits'"):
        check_options(resolve("dcgan-digits"), {"steps": 10})
    from zoo.registry.errors import ZooError

    with pytest.raises(ZooError, match="unknown sampler 'nope'"):
        check_options(r, {"sampler": "nope"})
