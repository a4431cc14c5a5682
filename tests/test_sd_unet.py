"""The zoo's Stable Diffusion U-Net against diffusers' UNet2DConditionModel: same config.json,
same safetensors, same outputs (fp32, CPU, small random configs of SD 1.x and 2.x shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from safetensors.torch import load_file  # noqa: E402

from zoo.plugins.nn.sd_unet import SDUNet, SDUNetConfig  # noqa: E402
from zoo.registry.errors import CardError  # noqa: E402

SD1 = {  # conv projections, attention_head_dim = heads, one transformer layer
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "cross_attention_dim": 24,
    "attention_head_dim": 4,
}
SD2 = {  # linear projections, heads per level, upcast attention, 9 input channels (inpainting)
    "sample_size": 16,
    "in_channels": 9,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [16, 32, 32],
    "layers_per_block": 2,
    "norm_num_groups": 8,
    "cross_attention_dim": 20,
    "attention_head_dim": [2, 4, 4],
    "use_linear_projection": True,
    "upcast_attention": True,
    "transformer_layers_per_block": [1, 2, 1],
}


def saved(config: dict, folder: Path, seed: int = 0) -> object:
    torch.manual_seed(seed)
    ref = diffusers.UNet2DConditionModel(**config).eval()
    with torch.no_grad():  # move every weight off its init (zero-init layers hide mistakes)
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref.save_pretrained(folder)
    return ref


@pytest.mark.parametrize("config", [SD1, SD2], ids=["sd1", "sd2"])
@pytest.mark.parametrize("size", [(16, 16), (9, 14)])  # 9: uneven, upsampled to fit
def test_outputs_match_diffusers(config: dict, size: tuple[int, int], tmp_path: Path) -> None:
    ref = saved(config, tmp_path)
    cfg = SDUNetConfig.from_file(tmp_path / "config.json")
    net = SDUNet(cfg).eval()
    net.load_state_dict(load_file(tmp_path / "diffusion_pytorch_model.safetensors"), strict=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, config["in_channels"], *size, generator=g)
    t = torch.tensor([999.0, 17.5])
    context = torch.randn(2, 7, config["cross_attention_dim"], generator=g)
    with torch.no_grad():
        want = ref(x, t, encoder_hidden_states=context).sample
        got = net(x, t, context)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-4


def test_controlnet_residuals_are_added_where_diffusers_adds_them(tmp_path: Path) -> None:
    ref = saved(SD1, tmp_path)
    net = SDUNet(SDUNetConfig.from_file(tmp_path / "config.json")).eval()
    net.load_state_dict(load_file(tmp_path / "diffusion_pytorch_model.safetensors"))
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 4, 16, 16, generator=g)
    context = torch.randn(1, 5, 24, generator=g)
    t = torch.tensor([400])
    shapes = [(1, 32, 16, 16), (1, 32, 16, 16), (1, 32, 8, 8), (1, 64, 8, 8)]
    down = [torch.randn(s, generator=g) for s in shapes]
    mid = torch.randn(1, 64, 8, 8, generator=g)
    with torch.no_grad():
        want = ref(
            x,
            t,
            encoder_hidden_states=context,
            down_block_additional_residuals=tuple(down),
            mid_block_additional_residual=mid,
        ).sample
        got = net(x, t, context, down_residuals=down, mid_residual=mid)
        plain = net(x, t, context)
    assert (got - want).abs().max().item() < 1e-4
    assert (got - plain).abs().max().item() > 1e-2  # the residuals matter


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"class_embed_type": "timestep"}, "class_embed_type = 'timestep' is not supported"),
        ({"down_block_types": ["SimpleDownBlock", "DownBlock2D"]}, "down block 'SimpleDownBlock'"),
        ({"wobble": 3}, "'wobble': is not a key of this config"),
        ({"block_out_channels": [32, 64, 64]}, "3 block_out_channels but 2 down"),
        ({"norm_num_groups": 5}, "do not split into 5 groups"),
    ],
)
def test_bad_configs_are_one_line(change: dict, message: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**SD1, "_class_name": "UNet2DConditionModel", **change}))
    with pytest.raises(CardError) as err:
        SDUNetConfig.from_file(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_private_keys_and_defaults_of_unused_features_are_accepted(tmp_path: Path) -> None:
    saved(SD2, tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert "_diffusers_version" in raw and raw["class_embed_type"] is None
    cfg = SDUNetConfig.from_dict(raw)
    assert cfg.heads() == [2, 4, 4] and cfg.transformer_depths() == [1, 2, 1]
