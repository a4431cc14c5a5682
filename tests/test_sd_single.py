"""Single-file (original latent-diffusion layout) Stable Diffusion checkpoints: the U-Net
and text-encoder renaming checked against diffusers' own single-file converters, the
converted U-Net against diffusers' outputs, the converted OpenCLIP text tower against an
independent forward pass of the original, and the errors.

No original-layout file exists at these tiny sizes, so each test makes one: it renames a
small random diffusers / transformers state dict by inverse rules written here (plain
text rules, independent of the zoo's converter), and first checks that diffusers'
converter maps it back to exactly the state dict it came from (every key and tensor,
nothing dropped or added; the converters ignore keys they do not know, so a misnamed key
shows up as missing). That makes the made-up dict an original checkpoint as diffusers
reads one; the zoo's converter must then give the same dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from zoo.plugins.nn.sd_single import guess_version, split_single_file, text_from_original
from zoo.plugins.nn.sd_unet import SDUNet, SDUNetConfig, unet_from_original
from zoo.plugins.nn.sd_vae import KLAutoencoderConfig
from zoo.registry.errors import WeightsMismatchError

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from diffusers.loaders.single_file_utils import (  # noqa: E402
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_open_clip_checkpoint,
)

from tests.test_sd_vae import CONFIGS as VAE_CONFIGS  # noqa: E402
from tests.test_sd_vae import _assert_same  # noqa: E402
from tests.test_sd_vae import _reference as vae_reference  # noqa: E402
from tests.test_sd_vae import _to_original as vae_to_original  # noqa: E402

# Four levels and two resnets per level like SD itself, so the original numbering reaches
# input_blocks.11 and output_blocks.11; the real text widths, so guess_version reads them.
SD1: dict[str, Any] = {  # conv projections, attention_head_dim = heads
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [16, 16, 32, 32],
    "layers_per_block": 2,
    "norm_num_groups": 8,
    "cross_attention_dim": 768,
    "attention_head_dim": 2,
}
SD2: dict[str, Any] = {  # linear projections, heads per level, 9 input channels (inpainting)
    **SD1,
    "in_channels": 9,
    "block_out_channels": [16, 32, 32, 32],
    "cross_attention_dim": 1024,
    "attention_head_dim": [2, 4, 4, 4],
    "use_linear_projection": True,
    "upcast_attention": True,
    "transformer_layers_per_block": [1, 2, 1, 1],
}
UNETS = {"sd1": SD1, "sd2": SD2}


def _unet_reference(cfg: dict[str, Any], seed: int = 0) -> Any:
    torch.manual_seed(seed)
    ref = diffusers.UNet2DConditionModel(**cfg).eval()
    with torch.no_grad():  # move every weight off its init (zero-init layers hide mistakes)
        for param in ref.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return ref


def _unet_to_original(state: dict[str, torch.Tensor], cfg: dict[str, Any]) -> dict[str, Any]:
    """diffusers U-Net names -> CompVis names, as text rules."""
    per = cfg["layers_per_block"] + 1
    resnet = [
        (r"\.norm1\.", ".in_layers.0."),
        (r"\.conv1\.", ".in_layers.2."),
        (r"\.time_emb_proj\.", ".emb_layers.1."),
        (r"\.norm2\.", ".out_layers.0."),
        (r"\.conv2\.", ".out_layers.3."),
        (r"\.conv_shortcut\.", ".skip_connection."),
    ]
    top = [
        (r"^conv_in\.", "input_blocks.0.0."),
        (r"^time_embedding\.linear_1\.", "time_embed.0."),
        (r"^time_embedding\.linear_2\.", "time_embed.2."),
        (r"^conv_norm_out\.", "out.0."),
        (r"^conv_out\.", "out.2."),
        (r"^mid_block\.attentions\.0\.", "middle_block.1."),
    ]
    out = {}
    for key, tensor in state.items():
        new = key
        for pattern, repl in top:
            new = re.sub(pattern, repl, new)
        m = re.match(r"^(down|up|mid)_blocks?\.(?:(\d+)\.)?resnets\.(\d+)\.(.*)$", new)
        if m:
            side, level, j, rest = m.groups()
            for pattern, repl in resnet:
                rest = re.sub(pattern, repl, "." + rest)[1:]
            if side == "mid":
                new = f"middle_block.{2 * int(j)}.{rest}"
            elif side == "down":
                new = f"input_blocks.{1 + int(level) * per + int(j)}.0.{rest}"
            else:
                new = f"output_blocks.{int(level) * per + int(j)}.0.{rest}"
        m = re.match(r"^(down|up)_blocks\.(\d+)\.attentions\.(\d+)\.(.*)$", new)
        if m:
            side, level, j, rest = m.groups()
            k = 1 + int(level) * per + int(j) if side == "down" else int(level) * per + int(j)
            new = f"{'input' if side == 'down' else 'output'}_blocks.{k}.1.{rest}"
        m = re.match(r"^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$", new)
        if m:
            new = f"input_blocks.{(int(m.group(1)) + 1) * per}.0.op.{m.group(2)}"
        m = re.match(r"^up_blocks\.(\d+)\.upsamplers\.0\.(.*)$", new)
        if m:
            level = int(m.group(1))
            slot = 2 if cfg["up_block_types"][level].startswith("CrossAttn") else 1
            new = f"output_blocks.{level * per + per - 1}.{slot}.{m.group(2)}"
        out[new] = tensor
    return out


# -- U-Net -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNETS))
def test_unet_converts_as_diffusers_converts_it(name: str) -> None:
    cfg = UNETS[name]
    ref = _unet_reference(cfg)
    want = dict(ref.state_dict())
    original = _unet_to_original(want, cfg)
    diffusers_words = ("down_blocks", "up_blocks", "mid_block.", "resnets", "time_embedding")
    assert not any(word in k for k in original for word in diffusers_words)
    assert len(original) == len(want)
    assert {"input_blocks.11.0.out_layers.3.weight", "output_blocks.11.1.proj_out.weight"} <= set(
        original
    )
    checkpoint = {f"model.diffusion_model.{k}": v for k, v in original.items()}
    _assert_same(convert_ldm_unet_checkpoint(checkpoint, cfg), want)

    config = SDUNetConfig(**cfg)
    _assert_same(unet_from_original(original, config), want)
    others = {"first_stage_model.encoder.conv_in.weight": torch.zeros(1), "betas": torch.zeros(3)}
    converted = unet_from_original({**checkpoint, **others}, config)
    _assert_same(converted, want)

    # The zoo's U-Net with the converted weights computes what diffusers' does.
    net = SDUNet(config).eval()
    net.load_state_dict(converted, strict=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, cfg["in_channels"], 16, 16, generator=g)
    t = torch.tensor([999.0, 17.0])
    context = torch.randn(2, 5, cfg["cross_attention_dim"], generator=g)
    with torch.no_grad():
        expected = ref(x, t, encoder_hidden_states=context).sample
        diff = (net(x, t, context) - expected).abs().max().item()
    assert diff < 1e-4, diff


# The U-Net configs of released models (their unet/config.json, defaults left out).
_RELEASED_BASE: dict[str, Any] = {
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
}
RELEASED: dict[str, dict[str, Any]] = {
    "sd15": {**_RELEASED_BASE, "cross_attention_dim": 768, "attention_head_dim": 8},
    "sd21": {
        **_RELEASED_BASE,
        "sample_size": 96,
        "cross_attention_dim": 1024,
        "attention_head_dim": [5, 10, 20, 20],
        "use_linear_projection": True,
        "upcast_attention": True,
    },
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_unets_convert_with_every_name_and_shape(name: str) -> None:
    """Full-size, on the meta device (no memory, no time): the 686 U-Net tensors of
    v1-5-pruned / v2-1_768-ema-pruned, by the names those files use."""
    cfg = RELEASED[name]
    with torch.device("meta"):
        ref = diffusers.UNet2DConditionModel(**cfg)
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    original = _unet_to_original(dict(ref.state_dict()), cfg)
    assert len(original) == 686
    width = cfg["cross_attention_dim"]
    assert original["input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"].shape == (320, width)
    upsamplers = {"output_blocks.2.1.conv.weight", "output_blocks.5.2.conv.weight"}
    assert upsamplers | {"output_blocks.8.2.conv.bias"} <= set(original)
    checkpoint = {f"model.diffusion_model.{k}": v for k, v in original.items()}
    assert guess_version(checkpoint) == ("sd1" if width == 768 else "sd2")
    converted = convert_ldm_unet_checkpoint(checkpoint, cfg)
    assert {k: tuple(v.shape) for k, v in converted.items()} == want
    ours = unet_from_original(checkpoint, SDUNetConfig(**cfg))
    assert {k: tuple(v.shape) for k, v in ours.items()} == want


def test_unet_ema_copy_is_taken_as_diffusers_takes_it() -> None:
    """LitEma stores ``model_ema.`` + the U-Net's names without their dots; diffusers'
    ``extract_ema`` reads them so, and so does ``ema=True``."""
    raw, averaged = _unet_reference(SD1, seed=0), _unet_reference(SD1, seed=1)
    original = _unet_to_original(dict(raw.state_dict()), SD1)
    ema = _unet_to_original(dict(averaged.state_dict()), SD1)
    checkpoint = {f"model.diffusion_model.{k}": v for k, v in original.items()}
    checkpoint |= {
        "model_ema." + f"diffusion_model.{k}".replace(".", ""): v for k, v in ema.items()
    }
    checkpoint |= {
        "model_ema.decay": torch.tensor(0.9999),
        "model_ema.num_updates": torch.tensor(7),
    }
    assert "model_ema.diffusion_modelinput_blocks110in_layers0weight" in checkpoint
    want = dict(averaged.state_dict())
    _assert_same(convert_ldm_unet_checkpoint(checkpoint, SD1, extract_ema=True), want)

    config = SDUNetConfig(**SD1)
    _assert_same(unet_from_original(checkpoint, config, ema=True), want)
    bare = {k.removeprefix("model_ema."): v for k, v in checkpoint.items() if "model_ema" in k}
    _assert_same(unet_from_original(bare, config, ema=True), want)
    # the default is the raw weights, as diffusers' default is
    _assert_same(unet_from_original(checkpoint, config), dict(raw.state_dict()))

    with pytest.raises(WeightsMismatchError, match="no EMA copy of the U-Net") as err:
        unet_from_original({k: v for k, v in checkpoint.items() if "ema" not in k}, config, True)
    assert "\n" not in str(err.value)
    lacking = {k: v for k, v in checkpoint.items() if k != "model_ema.diffusion_modelout2bias"}
    with pytest.raises(WeightsMismatchError, match=r"EMA weights lack 'diffusion_modelout2bias'"):
        unet_from_original(lacking, config, ema=True)


def test_unet_errors_name_the_key() -> None:
    config = SDUNetConfig(**SD1)
    original = _unet_to_original(dict(_unet_reference(SD1).state_dict()), SD1)

    def error(state: dict[str, torch.Tensor], cfg: SDUNetConfig = config) -> str:
        with pytest.raises(WeightsMismatchError) as err:
            unet_from_original(state, cfg)
        assert "\n" not in str(err.value)
        return str(err.value)

    key = "output_blocks.8.2.conv.weight"  # level 2's upsampler, after its transformer
    assert key in original
    assert f"lack '{key}'" in error({k: v for k, v in original.items() if k != key})
    extra = "input_blocks.12.0.in_layers.0.weight"
    assert f"have '{extra}'" in error({**original, extra: torch.zeros(32)})
    # SD 1.x's 1x1-conv projections offered to a linear-projection (SD 2.x) config
    linear = SDUNetConfig(**{**SD1, "use_linear_projection": True})
    message = error(original, linear)
    assert "'input_blocks.1.1.proj_in.weight' of shape (16, 16, 1, 1)" in message
    assert "(16, 16)" in message and "use_linear_projection" in message
    # one transformer layer fewer than the checkpoint's
    shallow = SDUNetConfig(**{**SD2, "transformer_layers_per_block": 1})
    sd2 = _unet_to_original(dict(_unet_reference(SD2).state_dict()), SD2)
    assert "have 'input_blocks.4.1.transformer_blocks.1." in error(sd2, shallow)


# -- text encoder ------------------------------------------------------------------------


def _clip(layers: int, width: int = 16, act: str = "quick_gelu", seed: int = 0) -> Any:
    torch.manual_seed(seed)
    config = transformers.CLIPTextConfig(
        vocab_size=40,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=9,
        hidden_act=act,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    model = transformers.CLIPTextModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model


def _prefixed(model: Any) -> dict[str, torch.Tensor]:
    """transformers' state dict with the ``text_model.`` names a repo's file has (recent
    transformers drop that level from ``CLIPTextModel`` itself)."""
    state = model.state_dict()
    return {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in state.items()}


def _load(model: Any, state: dict[str, torch.Tensor]) -> None:
    if not hasattr(model, "text_model"):
        state = {k.removeprefix("text_model."): v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


def test_sd1_text_encoder_converts_as_diffusers_converts_it() -> None:
    want = _prefixed(_clip(layers=3))
    checkpoint = {f"cond_stage_model.transformer.{k}": v for k, v in want.items()}
    _assert_same(convert_ldm_clip_checkpoint(checkpoint), want)
    buffer = {"cond_stage_model.transformer.text_model.embeddings.position_ids": torch.arange(9)}
    unet = {"model.diffusion_model.out.2.bias": torch.zeros(4)}
    _assert_same(text_from_original({**checkpoint, **buffer, **unet}, hidden_layers=3), want)
    _assert_same(text_from_original(want, hidden_layers=3), want)


def _to_openclip(
    state: dict[str, torch.Tensor], layers: int, projection: int, seed: int = 3
) -> dict[str, torch.Tensor]:
    """CLIPTextModel names -> OpenCLIP's text tower, q, k, v stacked, plus what OpenCLIP
    has beyond a ``layers``-deep CLIPTextModel: one more resblock, the projection, the
    temperature (all random)."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        new = key.removeprefix("text_model.")
        new = new.replace("embeddings.token_embedding.", "token_embedding.")
        new = new.replace("embeddings.position_embedding.weight", "positional_embedding")
        new = new.replace("final_layer_norm.", "ln_final.")
        new = new.replace("encoder.layers.", "transformer.resblocks.")
        for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), (".fc1.", ".c_fc.")):
            new = new.replace(a, b)
        new = new.replace(".fc2.", ".c_proj.").replace("self_attn.out_proj", "attn.out_proj")
        if re.search(r"self_attn\.[qkv]_proj", new):
            continue
        out[new] = tensor
    for n in range(layers):
        p = f"text_model.encoder.layers.{n}.self_attn"
        for leaf in ("weight", "bias"):
            stacked = torch.cat([state[f"{p}.{x}_proj.{leaf}"] for x in "qkv"])
            out[f"transformer.resblocks.{n}.attn.in_proj_{leaf}"] = stacked
    g = torch.Generator().manual_seed(seed)
    last = f"transformer.resblocks.{layers}."
    for key in [k for k in out if k.startswith("transformer.resblocks.0.")]:
        out[last + key.split(".", 3)[3]] = torch.randn(out[key].shape, generator=g)
    width = out["token_embedding.weight"].shape[1]
    out["text_projection"] = torch.randn(width, projection, generator=g)
    out["logit_scale"] = torch.tensor(4.6)
    return out


def _openclip_penultimate(state: dict[str, torch.Tensor], ids: torch.Tensor, heads: int) -> Any:
    """What SD 2.x's FrozenOpenCLIPEmbedder(layer="penultimate") computes, from the
    original tensors: every resblock but the last (causal attention, GELU MLP), then
    ln_final."""
    b, n = ids.shape
    x = state["token_embedding.weight"][ids] + state["positional_embedding"][:n]
    d = x.shape[-1]
    blocks = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})

    def ln(h: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(h, (d,), state[f"{name}.weight"], state[f"{name}.bias"])

    def lin(h: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(h, state[f"{name}.weight"], state[f"{name}.bias"])

    for i in range(blocks - 1):
        p = f"transformer.resblocks.{i}"
        qkv = F.linear(ln(x, f"{p}.ln_1"), state[f"{p}.attn.in_proj_weight"])
        qkv = qkv + state[f"{p}.attn.in_proj_bias"]
        q, k, v = (t.view(b, n, heads, d // heads).transpose(1, 2) for t in qkv.chunk(3, -1))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + lin(attended.transpose(1, 2).reshape(b, n, d), f"{p}.attn.out_proj")
        x = x + lin(F.gelu(lin(ln(x, f"{p}.ln_2"), f"{p}.mlp.c_fc")), f"{p}.mlp.c_proj")
    return ln(x, "ln_final")


def test_openclip_text_encoder_converts_as_diffusers_converts_it() -> None:
    """SD 2.x: OpenCLIP's 24 resblocks (here 8 channels wide) -> a 23-layer CLIPTextModel
    with GELU, as diffusers' converter (which drops resblock 23 and text_projection by
    name) and the stabilityai/stable-diffusion-2 text_encoder config have it. The
    converter takes the model only to read its width; nothing is downloaded."""
    reference = _clip(layers=23, width=8, act="gelu")
    want = _prefixed(reference)
    original = _to_openclip(want, layers=23, projection=6)
    assert original["transformer.resblocks.0.attn.in_proj_weight"].shape == (24, 8)
    checkpoint = {f"cond_stage_model.model.{k}": v for k, v in original.items()}
    _assert_same(convert_open_clip_checkpoint(reference, checkpoint), want)

    _assert_same(text_from_original(checkpoint, hidden_layers=23), want)
    _assert_same(text_from_original(original, hidden_layers=23), want)
    without_last = {k: v for k, v in original.items() if ".resblocks.23." not in k}
    _assert_same(text_from_original(without_last, hidden_layers=23), want)

    # transformers' CLIPTextModel with the converted weights is SD 2.x's text conditioning.
    model = _clip(layers=23, width=8, act="gelu", seed=5)
    _load(model, text_from_original(checkpoint, hidden_layers=23))
    ids = torch.tensor([[0, 5, 17, 33, 1, 1], [0, 9, 1, 1, 1, 1]])
    with torch.no_grad():
        got = model(input_ids=ids).last_hidden_state
        expected = reference(input_ids=ids).last_hidden_state
        independent = _openclip_penultimate(original, ids, heads=2)
    assert torch.equal(got, expected)
    assert (got - independent).abs().max().item() < 1e-5


def test_text_errors_name_the_key() -> None:
    sd1 = {f"cond_stage_model.transformer.{k}": v for k, v in _prefixed(_clip(layers=2)).items()}
    openclip = _to_openclip(_prefixed(_clip(layers=2, width=8)), layers=2, projection=8)

    def error(state: dict[str, torch.Tensor], layers: int) -> str:
        with pytest.raises(WeightsMismatchError) as err:
            text_from_original(state, hidden_layers=layers)
        assert "\n" not in str(err.value)
        return str(err.value)

    assert "lack 'text_model.encoder.layers.2.self_attn.q_proj.weight'" in error(sd1, 3)
    assert "have 'text_model.encoder.layers.1.self_attn.k_proj.weight'" in error(sd1, 1)
    # OpenCLIP: one resblock beyond hidden_layers is dropped, two is a mismatch
    assert "have 'transformer.resblocks.2." in error(openclip, 1)
    lacking = {k: v for k, v in openclip.items() if k != "transformer.resblocks.1.mlp.c_fc.bias"}
    assert "lack 'transformer.resblocks.1.mlp.c_fc.bias'" in error(lacking, 2)
    no_qkv = {k: v for k, v in openclip.items() if k != "transformer.resblocks.0.attn.in_proj_bias"}
    assert "lack 'transformer.resblocks.0.attn.in_proj_bias'" in error(no_qkv, 2)
    no_pos = {k: v for k, v in openclip.items() if k != "positional_embedding"}
    assert "lack 'positional_embedding'" in error(no_pos, 2)
    skewed = {**openclip, "transformer.resblocks.0.attn.in_proj_weight": torch.zeros(20, 8)}
    message = error(skewed, 2)
    assert "'transformer.resblocks.0.attn.in_proj_weight' of shape (20, 8)" in message
    assert "'ln_x.weight'" in error({**openclip, "ln_x.weight": torch.zeros(8)}, 2)
    assert "no text-encoder weights" in error(
        {"model.diffusion_model.out.2.bias": torch.ones(1)}, 2
    )
    assert "neither SD 1.x" in error({"cond_stage_model.embedders.0.x": torch.ones(1)}, 2)


# -- version and the whole file ----------------------------------------------------------

_CROSS = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


@pytest.mark.parametrize(
    ("state", "version"),
    [
        ({_CROSS: torch.empty(320, 768)}, "sd1"),
        ({_CROSS: torch.empty(320, 1024)}, "sd2"),
        ({_CROSS.removeprefix("model.diffusion_model."): torch.empty(320, 1024)}, "sd2"),
        ({"cond_stage_model.transformer.text_model.final_layer_norm.bias": torch.empty(8)}, "sd1"),
        ({"cond_stage_model.model.ln_final.bias": torch.empty(8)}, "sd2"),
    ],
)
def test_guess_version(state: dict[str, torch.Tensor], version: str) -> None:
    assert guess_version(state) == version


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({_CROSS: torch.empty(320, 2048)}, "cross-attends to width 2048"),
        (
            {_CROSS: torch.empty(320, 768), "cond_stage_model.model.ln_final.bias": torch.empty(8)},
            "the U-Net is sd1",
        ),
        ({"first_stage_model.encoder.conv_in.weight": torch.empty(1)}, "cannot tell SD 1.x"),
    ],
)
def test_guess_version_errors(state: dict[str, torch.Tensor], message: str) -> None:
    with pytest.raises(WeightsMismatchError, match=message) as err:
        guess_version(state)
    assert "\n" not in str(err.value)


class _Recording(Mapping[str, torch.Tensor]):
    """A mapping that records which tensors were read, as safetensors' safe_open would
    load them."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self.state, self.read = state, set[str]()

    def __getitem__(self, key: str) -> torch.Tensor:
        self.read.add(key)
        return self.state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.state)

    def __len__(self) -> int:
        return len(self.state)


def test_split_single_file() -> None:
    """A whole SD 2.x file: the three parts in diffusers' names, the EMA copy on request,
    the training buffers ignored; the tiny U-Net's width tells the version."""
    unet = _unet_reference(SD2)
    vae_cfg = VAE_CONFIGS["sd"]
    vae = vae_reference(vae_cfg)
    text = _prefixed(_clip(layers=2, width=8, act="gelu"))
    checkpoint = {
        f"model.diffusion_model.{k}": v
        for k, v in _unet_to_original(unet.state_dict(), SD2).items()
    }
    levels = len(vae_cfg["block_out_channels"])
    original_vae = vae_to_original(dict(vae.state_dict()), levels=levels)
    checkpoint |= {f"first_stage_model.{k}": v for k, v in original_vae.items()}
    checkpoint |= {f"cond_stage_model.model.{k}": v for k, v in _to_openclip(text, 2, 8).items()}
    checkpoint |= {"betas": torch.linspace(1e-4, 2e-2, 10), "alphas_cumprod": torch.ones(10)}
    assert guess_version(checkpoint) == "sd2"

    configs = (SDUNetConfig(**SD2), KLAutoencoderConfig(**vae_cfg))
    parts = split_single_file(checkpoint, *configs, text_layers=2)
    assert sorted(parts) == ["text_encoder", "unet", "vae"]
    _assert_same(parts["unet"], dict(unet.state_dict()))
    _assert_same(parts["vae"], dict(vae.state_dict()))
    _assert_same(parts["text_encoder"], text)

    with pytest.raises(WeightsMismatchError, match=r"no U-Net \(no 'model_ema\.\*' keys\)"):
        split_single_file(checkpoint, *configs, text_layers=2, ema=True)

    # With an EMA copy: a lazy mapping is read only where a part is taken from.
    averaged = _unet_reference(SD2, seed=1)
    ema = _unet_to_original(dict(averaged.state_dict()), SD2)
    checkpoint |= {
        "model_ema." + f"diffusion_model.{k}".replace(".", ""): v for k, v in ema.items()
    }
    for use_ema, skipped in ((False, "model_ema."), (True, "model.diffusion_model.")):
        lazy = _Recording(checkpoint)
        parts = split_single_file(lazy, *configs, text_layers=2, ema=use_ema)
        _assert_same(parts["unet"], dict((averaged if use_ema else unet).state_dict()))
        assert lazy.read and not any(key.startswith(skipped) for key in lazy.read)
        assert "betas" not in lazy.read
    no_vae = {k: v for k, v in checkpoint.items() if not k.startswith("first_stage_model.")}
    with pytest.raises(WeightsMismatchError, match="no autoencoder") as err:
        split_single_file(no_vae, *configs, text_layers=2)
    assert "\n" not in str(err.value)
