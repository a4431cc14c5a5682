"""The KL autoencoder (plugins/nn/sd_vae.py): numerical parity with diffusers' AutoencoderKL
on files diffusers saved itself, its config and weight errors, and the original-layout
(single-file checkpoint) renaming checked against diffusers' own converter.

diffusers is a test extra only; the zoo's autoencoder never imports it.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from zoo.plugins.nn.sd_vae import KLAutoencoder, KLAutoencoderConfig, vae_from_original
from zoo.registry.errors import CardError, WeightsMismatchError
from zoo.weights import apply_weights, load_weights

diffusers = pytest.importorskip("diffusers")

DOWN, UP = "DownEncoderBlock2D", "UpDecoderBlock2D"

# Small configs with the shapes of real ones. "sd" is SD 1.x/2.x's layout at 1/4 width
# and three levels; "sdxl" has SD-XL's scaling factor, two residual blocks per level and
# one channel per GroupNorm group; "flux" has 16 latent channels, a shift factor, no
# quant convs, no mid attention and GELU residual blocks (while the activation before
# conv_out stays SiLU in diffusers).
CONFIGS: dict[str, dict[str, Any]] = {
    "sd": dict(
        block_out_channels=(32, 64, 64),
        down_block_types=(DOWN,) * 3,
        up_block_types=(UP,) * 3,
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
        scaling_factor=0.18215,
    ),
    "sdxl": dict(
        block_out_channels=(32, 64),
        down_block_types=(DOWN,) * 2,
        up_block_types=(UP,) * 2,
        layers_per_block=2,
        norm_num_groups=32,
        latent_channels=4,
        scaling_factor=0.13025,
        force_upcast=False,
    ),
    "flux": dict(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=(DOWN,) * 2,
        up_block_types=(UP,) * 2,
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=16,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
        mid_block_add_attention=False,
        act_fn="gelu",
    ),
}


def _reference(cfg: dict[str, Any], seed: int = 0) -> Any:
    """diffusers' AutoencoderKL with seeded weights, each moved away from its init (so
    GroupNorm's ones and zeros, or any zero-initialised layer, hide no mistake)."""
    torch.manual_seed(seed)
    ref = diffusers.AutoencoderKL(**cfg).eval()
    with torch.no_grad():
        for param in ref.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return ref


def _saved(cfg: dict[str, Any], folder: Path) -> Any:
    """Save a reference into ``folder`` (config.json + diffusion_pytorch_model.safetensors)."""
    ref = _reference(cfg)
    ref.save_pretrained(folder, safe_serialization=True)
    return ref


def _zoo_from(folder: Path) -> KLAutoencoder:
    vae = KLAutoencoder(KLAutoencoderConfig.from_file(folder / "config.json")).eval()
    state = load_weights(folder / "diffusion_pytorch_model.safetensors")
    apply_weights(dict(vae.named_children()), state, where=str(folder))
    return vae


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_encode_and_decode_match_diffusers(name: str, tmp_path: Path) -> None:
    ref = _saved(CONFIGS[name], tmp_path)
    vae = _zoo_from(tmp_path)
    assert list(vae.state_dict()) == list(ref.state_dict())  # same names, same order

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 48, 64, generator=gen) * 2 - 1
    c = CONFIGS[name]["latent_channels"]
    f = vae.downscale
    z = torch.randn(2, c, 48 // f, 64 // f, generator=gen)
    with torch.no_grad():
        posterior = ref.encode(x).latent_dist
        mean, logvar = vae.encode(x)
        expected_x = ref.decode(z).sample
        got_x = vae.decode(z)
    assert mean.shape == (2, c, 48 // f, 64 // f)
    torch.testing.assert_close(mean, posterior.mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(logvar, posterior.logvar, atol=1e-4, rtol=0)
    assert got_x.shape == (2, 3, 48, 64)
    torch.testing.assert_close(got_x, expected_x, atol=1e-4, rtol=0)
    # The outputs are not trivially small, so atol 1e-4 is a real bound.
    assert mean.abs().max() > 0.1 and expected_x.abs().max() > 0.1


# The autoencoder configs of released models (their vae/config.json, private keys left
# out): SD 1.x/2.x, SD-XL, and SD3's 16-channel one without quant convs.
RELEASED: dict[str, dict[str, Any]] = {
    "sd15": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512),
    "sdxl": dict(
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        sample_size=1024,
        scaling_factor=0.13025,
        force_upcast=True,
    ),
    "sd3": dict(
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=16,
        sample_size=1024,
        scaling_factor=1.5305,
        shift_factor=0.0609,
        use_quant_conv=False,
        use_post_quant_conv=False,
    ),
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_configs_have_diffusers_names_and_shapes(name: str) -> None:
    """Full-size, on the meta device (no memory, no time): every name and shape."""
    cfg = {
        **RELEASED[name],
        "down_block_types": (DOWN,) * 4,
        "up_block_types": (UP,) * 4,
    }
    with torch.device("meta"):
        ref = diffusers.AutoencoderKL(**cfg)
        vae = KLAutoencoder(KLAutoencoderConfig(**cfg))
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    assert got == want
    assert len(want) > 200


def test_every_group_norm_has_diffusers_groups_and_eps() -> None:
    """GroupNorm eps is 1e-6 throughout (torch's default is 1e-5). At these sizes that
    changes the outputs by only ~3e-5, under the parity tolerance, so it is checked here
    layer by layer."""
    cfg = CONFIGS["sd"]
    ref = diffusers.AutoencoderKL(**cfg)
    vae = KLAutoencoder(KLAutoencoderConfig(**cfg))

    def norms(net: torch.nn.Module) -> dict[str, tuple[int, float]]:
        return {
            name: (m.num_groups, m.eps)
            for name, m in net.named_modules()
            if isinstance(m, torch.nn.GroupNorm)
        }

    assert norms(vae) == norms(ref)
    assert {eps for _, eps in norms(vae).values()} == {1e-6}


@pytest.mark.parametrize("name", ["sd", "flux"])
def test_scaled_latents_and_images_follow_the_pipelines(name: str) -> None:
    """latents(): what diffusers' pipelines feed the U-Net, (sample - shift) * scaling;
    images(): decode(latents / scaling + shift)."""
    cfg = CONFIGS[name]
    ref = _reference(cfg)
    vae = KLAutoencoder(KLAutoencoderConfig(**cfg)).eval()
    vae.load_state_dict(ref.state_dict(), strict=True)
    scale, shift = cfg["scaling_factor"], cfg.get("shift_factor") or 0.0
    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        posterior = ref.encode(x).latent_dist
        sample = posterior.sample(generator=torch.Generator().manual_seed(3))
        noise = torch.randn(posterior.mean.shape, generator=torch.Generator().manual_seed(3))
        drawn = vae.latents(x, noise)
        mode = vae.latents(x)
        expected_images = ref.decode(drawn / scale + shift).sample
        images = vae.images(drawn)
    torch.testing.assert_close(drawn, (sample - shift) * scale, atol=1e-5, rtol=0)
    torch.testing.assert_close(mode, (posterior.mean - shift) * scale, atol=1e-5, rtol=0)
    assert not torch.allclose(drawn, mode)
    torch.testing.assert_close(images, expected_images, atol=1e-4, rtol=0)


def test_latents_mean_and_std_scale_per_channel() -> None:
    """SD-XL-style per-channel statistics: (z - mean) * scaling / std, and back."""
    cfg = dict(
        CONFIGS["sdxl"], latents_mean=(0.1, -0.2, 0.3, 0.0), latents_std=(2.0, 1.0, 0.5, 4.0)
    )
    vae = KLAutoencoder(KLAutoencoderConfig(**cfg)).eval()
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        mean, _ = vae.encode(x)
        latents = vae.latents(x)
        mu = torch.tensor(cfg["latents_mean"]).view(1, 4, 1, 1)
        sd = torch.tensor(cfg["latents_std"]).view(1, 4, 1, 1)
        torch.testing.assert_close(latents, (mean - mu) * 0.13025 / sd)
        torch.testing.assert_close(vae.images(latents), vae.decode(mean), atol=1e-5, rtol=1e-5)


def test_runs_in_bfloat16_close_to_float32() -> None:
    ref = _reference(CONFIGS["sd"])
    vae = KLAutoencoder(KLAutoencoderConfig(**CONFIGS["sd"])).eval()
    vae.load_state_dict(ref.state_dict(), strict=True)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.no_grad():
        full = vae.images(vae.latents(x))
        vae.to(torch.bfloat16)
        half = vae.images(vae.latents(x.to(torch.bfloat16)))
    assert half.dtype == torch.bfloat16
    assert torch.isfinite(half).all()
    assert (half.float() - full).abs().mean() < 0.05 * full.abs().mean()


# -- config ------------------------------------------------------------------------------


def test_config_reads_a_diffusers_config_json_and_ignores_private_keys(tmp_path: Path) -> None:
    _saved(CONFIGS["flux"], tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert raw["_class_name"] == "AutoencoderKL" and "_diffusers_version" in raw
    cfg = KLAutoencoderConfig.from_file(tmp_path / "config.json")
    assert cfg.shift_factor == pytest.approx(0.1159)
    assert cfg.use_quant_conv is False and cfg.act_fn == "gelu"
    assert cfg.block_out_channels == (16, 32)


def test_config_defaults_are_diffusers_defaults() -> None:
    """Same keys and defaults as AutoencoderKL's constructor, read from its signature."""
    ours = KLAutoencoderConfig().model_dump()
    params = inspect.signature(diffusers.AutoencoderKL.__init__).parameters
    theirs = {key: p.default for key, p in params.items() if key != "self"}
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert ours[key] == expected, key


def _card_error(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data))
    with pytest.raises(CardError) as err:
        KLAutoencoderConfig.from_file(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_config_errors_are_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    base = {"_class_name": "AutoencoderKL", **CONFIGS["sd"]}
    assert "'use_tiling'" in _card_error(path, {**base, "use_tiling": True})
    message = _card_error(
        path, {**base, "down_block_types": [DOWN, "AttnDownEncoderBlock2D", DOWN]}
    )
    assert "down_block_types" in message and "AttnDownEncoderBlock2D" in message
    assert "up_block_types" in _card_error(path, {**base, "up_block_types": [UP, UP]})
    assert "down_block_types" in _card_error(path, {**base, "down_block_types": DOWN})
    assert "tanh" in _card_error(path, {**base, "act_fn": "tanh"})
    assert "layers_per_block" in _card_error(path, {**base, "layers_per_block": "two"})
    assert "norm_num_groups" in _card_error(path, {**base, "norm_num_groups": 12})
    assert "latents_std" in _card_error(path, {**base, "latents_mean": [0.0] * 4})
    path.write_text("{not json")
    with pytest.raises(CardError, match="not valid JSON"):
        KLAutoencoderConfig.from_file(path)
    with pytest.raises(CardError, match="cannot read"):
        KLAutoencoderConfig.from_file(tmp_path / "absent.json")


# -- weights -----------------------------------------------------------------------------


def test_weight_errors_name_the_tensor(tmp_path: Path) -> None:
    """The zoo's apply_weights over the autoencoder's children checks a diffusers file."""
    ref = _reference(CONFIGS["sd"])
    vae = KLAutoencoder(KLAutoencoderConfig(**CONFIGS["sd"]))
    parts = dict(vae.named_children())
    state = dict(ref.state_dict())

    missing = {k: v for k, v in state.items() if k != "encoder.mid_block.attentions.0.to_q.weight"}
    with pytest.raises(
        WeightsMismatchError, match=r"encoder\.mid_block\.attentions\.0\.to_q\.weight"
    ) as err:
        apply_weights(parts, missing, where="vae")
    assert "\n" not in str(err.value)

    wrong = {**state, "decoder.up_blocks.0.upsamplers.0.conv.weight": torch.zeros(64, 64, 1, 1)}
    with pytest.raises(
        WeightsMismatchError,
        match=r"decoder\.up_blocks\.0\.upsamplers\.0\.conv\.weight' has shape \(64, 64, 1, 1\)",
    ) as err:
        apply_weights(parts, wrong, where="vae")
    assert "\n" not in str(err.value)

    with pytest.warns(UserWarning, match=r"encoder\.extra\.weight"):
        apply_weights(parts, {**state, "encoder.extra.weight": torch.zeros(1)}, where="vae")

    # A file for a config with quant convs, loaded into one without: named, not half-loaded.
    bare = KLAutoencoder(KLAutoencoderConfig(**{**CONFIGS["sd"], "use_quant_conv": False}))
    with pytest.warns(UserWarning, match=r"quant_conv\.weight"):
        apply_weights(dict(bare.named_children()), state, where="vae")


# -- original layout ---------------------------------------------------------------------


def _to_original(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    """diffusers names -> the original (CompVis) layout, written here independently of the
    zoo's converter as plain text rules, and (C, C) attention weights back to 1x1 convs."""
    rules = [
        (r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.down.\1.block.\2."),
        (
            r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.",
            r"encoder.down.\1.downsample.conv.",
        ),
        (r"\.mid_block\.resnets\.0\.", ".mid.block_1."),
        (r"\.mid_block\.resnets\.1\.", ".mid.block_2."),
        (r"\.mid_block\.attentions\.0\.group_norm\.", ".mid.attn_1.norm."),
        (r"\.mid_block\.attentions\.0\.to_(q|k|v)\.", r".mid.attn_1.\1."),
        (r"\.mid_block\.attentions\.0\.to_out\.0\.", ".mid.attn_1.proj_out."),
        (r"\.conv_shortcut\.", ".nin_shortcut."),
        (r"\.conv_norm_out\.", ".norm_out."),
    ]
    out = {}
    for key, tensor in state.items():
        new = key
        for pattern, repl in rules:
            new = re.sub(pattern, repl, new)
        up = re.match(r"^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.(.*)$", new)
        if up:
            level = levels - 1 - int(up.group(1))
            inner = f"block.{up.group(3)}" if up.group(2) == "resnets" else "upsample"
            new = f"decoder.up.{level}.{inner}.{up.group(4)}"
        if ".mid.attn_1." in new and new.endswith(".weight") and ".norm." not in new:
            tensor = tensor[:, :, None, None]
        out[new] = tensor
    return out


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)
    for key, tensor in want.items():
        assert got[key].shape == tensor.shape, key
        assert torch.equal(got[key], tensor), key


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_original_layout_converts_as_diffusers_converts_it(name: str) -> None:
    """The reference is diffusers' own single-file converter (original -> diffusers).

    There is no original-layout file at these tiny sizes, so the test makes one: it
    renames a diffusers state dict by the text rules of ``_to_original``, then checks
    that diffusers' ``convert_ldm_vae_checkpoint`` maps it back to exactly the diffusers
    state dict (every key and tensor, nothing dropped or added; the converter ignores
    keys it does not know, so a misnamed key would show up as missing). That makes the
    made-up dict an original-layout checkpoint as diffusers reads one. The zoo's
    ``vae_from_original``, written separately from these rules, must then give the same
    dict, with and without the single-file ``first_stage_model.`` prefix.
    """
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    cfg = CONFIGS[name]
    diffusers_state = dict(_reference(cfg).state_dict())
    original = _to_original(diffusers_state, levels=len(cfg["block_out_channels"]))
    assert not any("_blocks" in key or "to_" in key for key in original)
    if cfg.get("mid_block_add_attention", True):
        width = cfg["block_out_channels"][-1]
        assert original["encoder.mid.attn_1.q.weight"].shape == (width, width, 1, 1)

    checkpoint = {f"first_stage_model.{k}": v for k, v in original.items()}
    _assert_same(convert_ldm_vae_checkpoint(checkpoint, cfg), diffusers_state)

    config = KLAutoencoderConfig(**cfg)
    _assert_same(vae_from_original(original, config), diffusers_state)
    unet_key = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)}
    _assert_same(vae_from_original({**checkpoint, **unet_key}, config), diffusers_state)


def test_original_layout_errors_name_the_key() -> None:
    cfg = CONFIGS["sd"]
    config = KLAutoencoderConfig(**cfg)
    original = _to_original(dict(_reference(cfg).state_dict()), levels=3)

    lacking = {k: v for k, v in original.items() if k != "decoder.up.2.upsample.conv.bias"}
    with pytest.raises(WeightsMismatchError, match=r"lack 'decoder\.up\.2\.upsample\.conv\.bias'"):
        vae_from_original(lacking, config)

    extra = {**original, "encoder.down.2.downsample.conv.weight": torch.zeros(64, 64, 3, 3)}
    with pytest.raises(
        WeightsMismatchError, match=r"'encoder\.down\.2\.downsample\.conv\.weight'"
    ) as err:
        vae_from_original(extra, config)
    assert "\n" not in str(err.value)

    kernel = {**original, "decoder.mid.attn_1.k.weight": torch.zeros(64, 64, 3, 3)}
    with pytest.raises(WeightsMismatchError, match=r"'decoder\.mid\.attn_1\.k\.weight' has shape"):
        vae_from_original(kernel, config)

    # A config with fewer blocks than the checkpoint: the first surplus key is named.
    smaller = KLAutoencoderConfig(**{**cfg, "mid_block_add_attention": False})
    with pytest.raises(WeightsMismatchError, match=r"'encoder\.mid\.attn_1\.\w+\.\w+'"):
        vae_from_original(original, smaller)

    # The training loss's networks, present in some autoencoder checkpoints, are skipped.
    with_loss = {**original, "loss.discriminator.main.0.weight": torch.zeros(1)}
    assert len(vae_from_original(with_loss, config)) == len(original)
