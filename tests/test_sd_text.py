"""Stable Diffusion's text side against transformers: CLIPBPETokenizer against
CLIPTokenizer on a vocabulary learned here, and CLIPTextEncoder against CLIPTextModel at
tiny size (fp32, CPU), both loaded from the files a diffusers repo holds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from zoo.plugins.nn.clip_bpe import (
    BOS_TOKEN,
    END_OF_WORD,
    EOS_TOKEN,
    CLIPBPETokenizer,
    build_clip_vocab,
    bytes_to_unicode,
    write_tokenizer,
)
from zoo.plugins.nn.sd_text import ACTIVATIONS, CLIPTextEncoder, CLIPTextEncoderConfig
from zoo.registry.errors import CardError, WeightsMismatchError
from zoo.weights import load_weights, save_weights

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = (
    "a red circle on the left of blue square small large green triangle above below"
    " photo painting of cat dog house tree under sky night city street river mountain"
    " portrait woman man child old young bright dark shiny wooden glass metal"
).split()
ODD = [
    "don't",
    "it's",
    "they're",
    "we've",
    "I'm",
    "you'll",
    "she'd",
    "'s",
    "'t",
    "O'Neil",
    "...",
    "!!!",
    "?!",
    "--",
    "(",
    ")",
    "[x]",
    "{y}",
    "#1",
    "@home",
    "a/b",
    "c\\d",
    "$5",
    "3.14",
    "1,000,000",
    "2024-01-01",
    "x2",
    "4k",
    "8K",
    "HDR",
    "NaN",
    "Über",
    "naïve",
    "café",
    "straße",
    "ÉCOLE",
    "Ångström",
    "ΣΑΣ",
    "Ὀδυσσεύς",
    "Москва",
    "東京",
    "夜景写真",
    "한국어",
    "ไทย",
    "हिन्दी",
    "العربية",
    "🙂",
    "🚀🚀",
    "👩‍🚀",
    "🇫🇷",
    "e\u0301",
    "\u00a0",
    "\u3000",
    "\u200b",
    "\x1c",
    "\x07",
    "\ufffd",
    "<|endoftext|>",
    "<|STARTOFTEXT|>",
    "</w>",
    "!",
    "a!",
    "!b",
    "''",
    "'''s",
    "\t",
    "\n",
    "  ",
    "\r\n",
]


def corpus(n: int = 300) -> list[str]:
    """Varied training sentences: scene words with odd tokens mixed in."""
    rng = random.Random(0)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(ODD))
        out.append(" ".join(words))
    return out


def probes(n: int = 200) -> list[str]:
    """Strings to tokenize: hand-picked edge cases, then random mixtures."""
    fixed = [
        "",
        " ",
        "a red circle",
        "A Red CIRCLE on the Left!",
        "The cat's hat isn't here; they're gone, we've left, I'm sure you'll see, she'd go.",
        "punctuation!!! runs??? ...and ---dashes--- ((nested)) [[x]]",
        "numbers 0123456789 3.14159 1,234,567 2nd 10x",
        "tabs\tand\nnewlines\r\nand   multiple    spaces\u00a0\u3000wide",
        "café naïve Über straße ÉCOLE e\u0301 Ångström",
        "ΣΑΣ ΟΔΥΣΣΕΥΣ final sigma Σ.",
        "東京の夜景写真 한국어 텍스트 中文字符",
        "emoji 🙂🚀 👩‍🚀 🇫🇷 party!!!",
        "control \x07\x1c\x1f chars \ufffd \u200b",
        "<|startoftext|>already<|endoftext|> and <|ENDOFTEXT|> shouting <|StartOfText|>",
        "a!b !c d! !!! ! ! wow!",
        "'s 'S 't 're 've 'm 'll 'd ''s '''",
        "</w> a</w> <w>",
        " ".join(WORDS * 4),  # truncated at 77
        "x" * 400,
        "🚀" * 100,
        "1" * 120,
    ]
    rng = random.Random(1)
    pieces = WORDS + ODD + [" ", "  ", "\t", "\n"]
    out = list(fixed)
    while len(out) < n:
        k = rng.choice((1, 2, 5, 10, 30, 90))
        parts = [rng.choice(pieces) for _ in range(k)]
        out.append(rng.choice(("", " ")).join(parts))
    return out


@pytest.fixture(scope="module")
def learned() -> tuple[dict[str, int], list[tuple[str, str]]]:
    return build_clip_vocab(corpus(), 250)


def layout_folder(folder: Path, learned, layout: str) -> Path:
    """A tokenizer folder as Stable Diffusion repos have them."""
    vocab, merges = learned
    if layout == "sd1":  # pad <|endoftext|>
        return write_tokenizer(folder, vocab, merges)
    if layout == "pad!":  # pad "!" in both files
        return write_tokenizer(folder, vocab, merges, pad_token="!")
    write_tokenizer(folder, vocab, merges)
    if layout == "sd2":  # SD 2.x: the config says <|endoftext|>, the special map "!"
        special = json.loads((folder / "special_tokens_map.json").read_text())
        special["pad_token"] = "!"
        (folder / "special_tokens_map.json").write_text(json.dumps(special))
    elif layout == "decoder":  # re-saved by newer transformers: added_tokens_decoder
        config = json.loads((folder / "tokenizer_config.json").read_text())

        def entry(token: str, normalized: bool) -> dict:
            return {"content": token, "lstrip": False, "normalized": normalized}

        config.update(
            bos_token=BOS_TOKEN,
            eos_token=EOS_TOKEN,
            unk_token=EOS_TOKEN,
            pad_token="!",
            added_tokens_decoder={
                str(vocab["!"]): entry("!", False) | {"rstrip": False, "special": True},
                str(vocab[BOS_TOKEN]): entry(BOS_TOKEN, True) | {"special": True},
                str(vocab[EOS_TOKEN]): entry(EOS_TOKEN, False) | {"special": True},
            },
        )
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


# -- tokenizer ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sd1", "pad!", "sd2", "decoder"])
def test_tokenizer_matches_transformers(tmp_path: Path, learned, layout: str) -> None:
    folder = layout_folder(tmp_path / "tokenizer", learned, layout)
    ours = CLIPBPETokenizer.from_folder(folder)
    theirs = transformers.CLIPTokenizer.from_pretrained(str(folder))
    assert ours.pad_token == theirs.pad_token == ("<|endoftext|>" if layout == "sd1" else "!")
    texts = probes()
    for text in texts:
        assert ours.encode(text) == theirs(text, add_special_tokens=False).input_ids, text
    want = theirs(texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    got = ours(texts)
    assert got.dtype == torch.long and got.shape == (len(texts), 77)
    assert torch.equal(got, want.input_ids)
    short = theirs(texts, padding="max_length", truncation=True, max_length=9, return_tensors="pt")
    assert torch.equal(ours(texts, max_length=9), short.input_ids)
    for row in got[:40].tolist():
        assert ours.decode(row) == theirs.decode(row, skip_special_tokens=True)


def test_tokenizer_from_vocab_matches_transformers_constructor(learned) -> None:
    """Built from a vocab and merges (every special token plain, found in raw text)."""
    vocab, merges = learned
    ours = CLIPBPETokenizer(vocab, merges)
    theirs = transformers.CLIPTokenizer(vocab=vocab, merges=list(merges))
    for text in probes(120):
        assert ours.encode(text) == theirs(text, add_special_tokens=False).input_ids, text


def test_padding_and_truncation(learned) -> None:
    vocab, merges = learned
    sd1 = CLIPBPETokenizer(vocab, merges)
    sd2 = CLIPBPETokenizer(vocab, merges, pad_token="!")
    eos, bos = vocab[EOS_TOKEN], vocab[BOS_TOKEN]
    ids = sd1(["", "red circle"])
    assert ids[0, :2].tolist() == [bos, eos] and (ids[0, 2:] == eos).all()
    assert sd2([""])[0, 2:].eq(vocab["!"]).all() and vocab["!"] == 0
    long = sd1(["red " * 200])[0]
    body = sd1.encode("red " * 200)
    assert len(body) == 200 and long.tolist() == [bos, *body[:75], eos]
    assert sd1("red", max_length=4).tolist() == [[bos, *sd1.encode("red"), eos, eos]]
    with pytest.raises(ValueError):
        sd1("red", max_length=1)


def test_any_text_tokenizes(learned) -> None:
    """Characters never seen in training, and a lone surrogate, fall back to bytes."""
    vocab, merges = learned
    tok = CLIPBPETokenizer(vocab, merges)
    table = bytes_to_unicode()
    for text in ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ 𓂀", "\ud800 lone", "\U0010ffff", "\x00"):
        ids = tok.encode(text)
        assert ids and all(0 <= i < len(vocab) for i in ids)
        assert vocab[EOS_TOKEN] not in ids  # no symbol fell back to the unknown token
    assert tok.encode("ꙮ") == [vocab[table[b]] for b in "ꙮ".encode()[:-1]] + [
        vocab[table["ꙮ".encode()[-1]] + END_OF_WORD]
    ]


def test_learned_vocabulary_layout(learned) -> None:
    vocab, merges = learned
    chars = list(bytes_to_unicode().values())
    ordered = sorted(vocab, key=vocab.__getitem__)
    assert ordered[:256] == chars and ordered[256:512] == [c + END_OF_WORD for c in chars]
    assert ordered[-2:] == [BOS_TOKEN, EOS_TOKEN] and sorted(vocab.values()) == list(
        range(len(vocab))
    )
    assert len(merges) == 250 and all(a + b in vocab for a, b in merges)
    assert len(set(merges)) == len(merges)
    assert build_clip_vocab(corpus(), 250) == (vocab, merges)  # deterministic
    # frequent words become single tokens
    tok = CLIPBPETokenizer(vocab, merges)
    assert tok.encode("circle") == [vocab["circle" + END_OF_WORD]]
    assert build_clip_vocab(["aa"], 50)[1] == [("a", "a</w>")]  # stops when nothing is left


def test_tokenizer_folder_errors(tmp_path: Path, learned) -> None:
    vocab, merges = learned
    folder = write_tokenizer(tmp_path / "tok", vocab, merges)
    (folder / "merges.txt").write_text("#version: 0.2\na b c\n")
    with pytest.raises(CardError, match=r"merges.txt line 2 is not two symbols"):
        CLIPBPETokenizer.from_folder(folder)
    (folder / "merges.txt").write_text("#version: 0.2\nzz qq\n")
    with pytest.raises(CardError, match=r"merge 1 \(zz qq\) uses 'zz'"):
        CLIPBPETokenizer.from_folder(folder)
    (folder / "merges.txt").unlink()
    with pytest.raises(CardError, match="has no merges.txt"):
        CLIPBPETokenizer.from_folder(folder)
    write_tokenizer(folder, vocab, merges)
    (folder / "vocab.json").write_text("{not json")
    with pytest.raises(CardError, match="vocab.json cannot be read as JSON"):
        CLIPBPETokenizer.from_folder(folder)
    with pytest.raises(CardError, match="pad token 'nope' is not in the vocabulary"):
        write_tokenizer(folder, vocab, merges, pad_token="nope")
    with pytest.raises(CardError, match="the pad token 'nope'"):
        CLIPBPETokenizer(vocab, merges, pad_token="nope")


# -- text encoder ------------------------------------------------------------------------

PROMPTS = [
    "a red circle on the left of a blue square",
    "",
    "Portrait of an old man, shiny metal!!! 東京 🙂",
    "tree " * 120,  # fills all 77 positions: the end token last
]


def reference(tmp_path: Path, vocab: dict[str, int], sd: int, attention: str):
    """A seeded tiny CLIPTextModel saved by transformers, and its folder."""
    eos = vocab[EOS_TOKEN]
    config = transformers.CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=96,
        projection_dim=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="quick_gelu" if sd == 1 else "gelu",
        layer_norm_eps=1e-5,
        bos_token_id=vocab[BOS_TOKEN],
        # SD 1.x's config says 2 (pool at the largest id); a fixed config the real id
        eos_token_id=2 if sd == 1 else eos,
        pad_token_id=1,
        attn_implementation=attention,
    )
    torch.manual_seed(sd)
    model = transformers.CLIPTextModel(config).eval()
    with torch.no_grad():  # post-init LayerNorms are exact identities: perturb them
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    folder = tmp_path / "text_encoder"
    model.save_pretrained(folder, safe_serialization=True)
    return model, folder


def loaded(folder: Path) -> CLIPTextEncoder:
    ours = CLIPTextEncoder(CLIPTextEncoderConfig.from_file(folder / "config.json")).eval()
    ours.load_state(load_weights(folder / "model.safetensors"), str(folder))
    return ours


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("sd", [1, 2])
def test_encoder_matches_transformers(tmp_path: Path, learned, sd: int, attention: str) -> None:
    vocab, merges = learned
    model, folder = reference(tmp_path, vocab, sd, attention)
    ours = loaded(folder)
    tokenizer = CLIPBPETokenizer(vocab, merges, pad_token=EOS_TOKEN if sd == 1 else "!")
    ids = tokenizer(PROMPTS)
    assert ids[:, -1].tolist()[-1] == vocab[EOS_TOKEN]
    with torch.no_grad():
        want = model(ids, output_hidden_states=True)
        last, pooled = ours(ids)
        assert torch.allclose(last, want.last_hidden_state, atol=1e-4)
        assert torch.allclose(pooled, want.pooler_output, atol=1e-4)
        # pooled is the state at the end token in both conventions
        ends = (ids == vocab[EOS_TOKEN]).int().argmax(dim=1)
        assert torch.equal(pooled, last[torch.arange(len(PROMPTS)), ends])
        # diffusers' clip skip: hidden_states[-(clip_skip + 1)] then final_layer_norm
        norm = getattr(model, "text_model", model).final_layer_norm
        for skip in range(3):
            want_skip = norm(want.hidden_states[-(skip + 1)])
            assert torch.allclose(ours.hidden_states(ids, skip), want_skip, atol=1e-4), skip
        # the padding mask of configs with use_attention_mask
        mask = (torch.arange(77)[None] <= ends[:, None]).long()
        masked = model(ids, attention_mask=mask)
        last_m, pooled_m = ours(ids, attention_mask=mask)
        assert torch.allclose(last_m, masked.last_hidden_state, atol=1e-4)
        assert torch.allclose(pooled_m, masked.pooler_output, atol=1e-4)
        assert not torch.allclose(last_m, last, atol=1e-3)  # the pad positions changed


def test_eos_pooling_rules() -> None:
    """eos_token_id 2: the largest id's position; otherwise the first end token."""
    ids = torch.tensor([[5, 9, 7, 3, 3], [5, 3, 9, 9, 3]])
    old = CLIPTextEncoder(
        CLIPTextEncoderConfig(
            vocab_size=10, eos_token_id=2, hidden_size=8, num_attention_heads=2, num_hidden_layers=1
        )
    )
    new = CLIPTextEncoder(
        CLIPTextEncoderConfig(
            vocab_size=10, eos_token_id=3, hidden_size=8, num_attention_heads=2, num_hidden_layers=1
        )
    )
    assert old.eos_positions(ids).tolist() == [1, 2]
    assert new.eos_positions(ids).tolist() == [3, 1]


def test_checkpoint_layouts(tmp_path: Path, learned) -> None:
    """Stable Diffusion's files name tensors text_model.* and may hold position_ids."""
    vocab, _ = learned
    model, folder = reference(tmp_path, vocab, 1, "sdpa")
    state = load_weights(folder / "model.safetensors")
    sd_state = {"text_model." + k: v for k, v in state.items()}
    sd_state["text_model.embeddings.position_ids"] = torch.arange(77)[None]
    save_weights(sd_state, tmp_path / "sd.safetensors")
    ours = loaded(folder)
    other = CLIPTextEncoder(ours.config)
    other.load_state(load_weights(tmp_path / "sd.safetensors"))
    assert all(
        torch.equal(a, b)
        for a, b in zip(ours.state_dict().values(), other.state_dict().values(), strict=True)
    )
    names = set(other.state_dict())
    assert "text_model.embeddings.token_embedding.weight" in names
    assert "text_model.encoder.layers.0.self_attn.q_proj.weight" in names
    assert "text_model.final_layer_norm.weight" in names
    assert "text_model.embeddings.position_ids" not in names
    fresh = CLIPTextEncoder(ours.config)
    fresh.load_state_dict(sd_state, strict=True)  # torch's own strict load takes both
    fresh.load_state_dict({k: v for k, v in sd_state.items() if "position_ids" not in k})


def test_weight_errors(tmp_path: Path, learned) -> None:
    vocab, _ = learned
    _, folder = reference(tmp_path, vocab, 2, "sdpa")
    ours = loaded(folder)
    state = dict(ours.state_dict())
    missing = {k: v for k, v in state.items() if "layers.2.mlp.fc1.bias" not in k}
    with pytest.raises(
        WeightsMismatchError, match=r"'text_model.encoder.layers.2.mlp.fc1.bias' missing"
    ) as err:
        ours.load_state(missing)
    assert "\n" not in str(err.value)
    wrong = state | {"text_model.final_layer_norm.weight": torch.ones(65)}
    with pytest.raises(
        WeightsMismatchError, match=r"'text_model.final_layer_norm.weight' has shape \(65,\)"
    ):
        ours.load_state(wrong)
    extra = state | {"text_projection.weight": torch.ones(32, 64)}
    with pytest.raises(
        WeightsMismatchError, match="unexpected tensor 'text_model.text_projection.weight'"
    ):
        ours.load_state(extra)
    with pytest.raises(ValueError, match="78 tokens is more than"):
        ours(torch.zeros(1, 78, dtype=torch.long))
    with pytest.raises(ValueError, match="clip skip 3"):
        ours.hidden_states(torch.zeros(1, 4, dtype=torch.long), skip=3)


def write_config(tmp_path: Path, **changes) -> Path:
    """SD 1.5's text_encoder/config.json at tiny size, with ``changes``."""
    config = {
        "_name_or_path": "openai/clip-vit-large-patch14",
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 2,
        "hidden_act": "quick_gelu",
        "hidden_size": 16,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 32,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 1,
        "projection_dim": 16,
        "torch_dtype": "float32",
        "transformers_version": "4.22.0.dev0",
        "vocab_size": 600,
    } | changes
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))
    return path


def test_config_files(tmp_path: Path) -> None:
    config = CLIPTextEncoderConfig.from_file(write_config(tmp_path))
    assert (config.hidden_size, config.eos_token_id, config.hidden_act) == (16, 2, "quick_gelu")
    bad = {
        "hidden_act": ("tanh", r"hidden_act 'tanh' is not supported; use one of quick_gelu"),
        "eos_token_id": ([2, 3], r"eos_token_id \[2, 3\] is not supported"),
        "num_attention_heads": (3, "hidden_size 16 must be divisible by num_attention_heads 3"),
        "hidden_sise": (16, "'hidden_sise': is not a key of this config"),
        "num_hidden_layers": (0, "'num_hidden_layers': Input should be greater than or equal to 1"),
    }
    for key, (value, message) in bad.items():
        with pytest.raises(CardError, match=message) as err:
            CLIPTextEncoderConfig.from_file(write_config(tmp_path, **{key: value}))
        assert "\n" not in str(err.value) and "config.json" in str(err.value)
    with pytest.raises(CardError, match="hidden_act 'tanh' is not supported"):
        CLIPTextEncoderConfig(hidden_act="tanh")
    (tmp_path / "config.json").write_text("[1, 2")
    with pytest.raises(CardError, match="cannot be read as JSON"):
        CLIPTextEncoderConfig.from_file(tmp_path / "config.json")
    with pytest.raises(CardError, match="is missing"):
        CLIPTextEncoderConfig.from_file(tmp_path / "nope.json")


def test_defaults_are_transformers_defaults() -> None:
    theirs = transformers.CLIPTextConfig()
    ours = CLIPTextEncoderConfig()
    for key in CLIPTextEncoderConfig.model_fields:
        if key != "use_attention_mask":
            assert getattr(ours, key) == getattr(theirs, key), key


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_transformers(name: str) -> None:
    from transformers.activations import ACT2FN

    from zoo.plugins.nn.sd_text import activation

    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(activation(name, x), ACT2FN[name](x), atol=1e-5)
