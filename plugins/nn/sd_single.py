"""Single-file Stable Diffusion 1.x and 2.x checkpoints (``v1-5-pruned.safetensors``,
``v2-1_768-ema-pruned.safetensors``): the original latent-diffusion layout, one state dict
holding all three networks, renamed to the names of a diffusers repo's subfolders.

A single file holds, under these prefixes:

- ``model.diffusion_model.``: the U-Net in the CompVis layout (``unet_from_original``);
  some files also carry its exponential moving average as ``model_ema.*`` (LitEma's
  names: the original name without dots), taken with ``ema=True``;
- ``first_stage_model.``: the autoencoder (``vae_from_original``);
- ``cond_stage_model.``: the text encoder. SD 1.x: ``transformer.text_model.*``, OpenAI's
  CLIP ViT-L/14 text tower already in transformers' ``CLIPTextModel`` names. SD 2.x:
  ``model.*``, OpenCLIP ViT-H/14's text tower (``token_embedding``, ``positional_embedding``,
  ``transformer.resblocks.N`` with q, k, v stacked in ``attn.in_proj_*``, ``ln_final``,
  ``text_projection``). SD 2.x conditions on the penultimate block's output followed by
  ``ln_final``, which is exactly a ``CLIPTextModel`` one layer shallower: the last
  resblock and the projection are dropped (diffusers' SD 2 text encoder has 23 layers
  for OpenCLIP's 24);
- top-level buffers of the training process (``betas``, ``alphas_cumprod``, ...), not read.

What the weights cannot tell: whether the U-Net predicts noise or v (SD 2.x 768-v and
512-base have the same tensors), the attention head counts, or the scheduler; those come
from the user or a config. Nothing here imports diffusers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal

import torch

from zoo.plugins.nn.sd_unet import EMA_PREFIX, SDUNetConfig, unet_from_original
from zoo.plugins.nn.sd_unet import ORIGINAL_PREFIX as UNET_PREFIX
from zoo.plugins.nn.sd_vae import ORIGINAL_PREFIX as VAE_PREFIX
from zoo.plugins.nn.sd_vae import KLAutoencoderConfig, vae_from_original
from zoo.registry.errors import WeightsMismatchError

TEXT_PREFIX = "cond_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."  # SD 1.x, then text_model.*
OPENCLIP_PREFIX = "cond_stage_model.model."  # SD 2.x

# Tensors a single file may carry that a CLIPTextModel has no place for: transformers'
# old position_ids buffer; OpenCLIP's contrastive projection and temperature.
_CLIP_SKIPPED = ("text_model.embeddings.position_ids",)
_OPENCLIP_SKIPPED = ("text_projection", "logit_scale")

# OpenCLIP name -> CLIPTextModel name, per resblock and outside them
_OPENCLIP_LAYER = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "attn.out_proj": "self_attn.out_proj",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
}
_OPENCLIP_TOP = {
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}
_RESBLOCK = re.compile(r"^transformer\.resblocks\.(\d+)\.")
_CROSS_KEY = re.compile(
    r"^(model\.diffusion_model\.)?(input_blocks|middle_block|output_blocks)\..*\.attn2\.to_k\.weight$"
)
_VERSIONS: dict[int, Literal["sd1", "sd2"]] = {768: "sd1", 1024: "sd2"}


def _clip_names(hidden_layers: int) -> list[str]:
    """transformers' ``CLIPTextModel`` names (as a repo's ``text_encoder`` file has them)."""
    names = [
        "text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight",
    ]
    parts = [f"self_attn.{p}_proj" for p in "qkv"] + ["self_attn.out_proj"]
    parts += ["layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2"]
    for n in range(hidden_layers):
        for part in parts:
            names += [f"text_model.encoder.layers.{n}.{part}.{p}" for p in ("weight", "bias")]
    return names + ["text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias"]


def _checked(
    out: dict[str, torch.Tensor],
    hidden_layers: int,
    what: str,
    source: Callable[[str], str] = lambda name: name,
) -> dict[str, torch.Tensor]:
    """``out`` in ``CLIPTextModel`` order, after checking that it has every name; a
    missing one is named as the checkpoint spells it, ``source(name)``."""
    names = _clip_names(hidden_layers)
    for name in names:
        if name not in out:
            raise WeightsMismatchError(
                f"{what} lack '{source(name)}' ({hidden_layers} layers expected);"
                " the checkpoint's text encoder has fewer layers or is not a CLIP text model"
            )
    return {name: out[name] for name in names}


def _openclip_name(name: str) -> str:
    """CLIPTextModel name -> the OpenCLIP name it is read from."""
    top = {new: old for old, new in _OPENCLIP_TOP.items()}
    if name in top:
        return top[name]
    n, rest = name.removeprefix("text_model.encoder.layers.").split(".", 1)
    part, leaf = rest.rsplit(".", 1)
    if part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
        return f"transformer.resblocks.{n}.attn.in_proj_{leaf}"
    old = {new: old for old, new in _OPENCLIP_LAYER.items()}[part]
    return f"transformer.resblocks.{n}.{old}.{leaf}"


def _from_clip(state: Mapping[str, torch.Tensor], hidden_layers: int) -> dict[str, torch.Tensor]:
    names = set(_clip_names(hidden_layers))
    what = "SD 1.x text-encoder weights"
    out = {}
    for key, tensor in state.items():
        if key in _CLIP_SKIPPED:
            continue
        if key not in names:
            raise WeightsMismatchError(
                f"{what} have '{key}', which a {hidden_layers}-layer CLIPTextModel does not"
                " have; check the text encoder's num_hidden_layers"
            )
        out[key] = tensor
    return _checked(out, hidden_layers, what)


def _from_openclip(
    state: Mapping[str, torch.Tensor], hidden_layers: int
) -> dict[str, torch.Tensor]:
    """OpenCLIP's text tower -> ``CLIPTextModel``; resblock ``hidden_layers`` (the last
    one, which the penultimate-layer encoder never runs) is dropped."""
    what = "SD 2.x (OpenCLIP) text-encoder weights"
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key in _OPENCLIP_SKIPPED:
            continue
        if key in _OPENCLIP_TOP:
            out[_OPENCLIP_TOP[key]] = tensor
            continue
        block = _RESBLOCK.match(key)
        rest = key[block.end() :] if block else ""
        stem, _, leaf = rest.rpartition(".")
        n = int(block.group(1)) if block else -1
        known = rest in ("attn.in_proj_weight", "attn.in_proj_bias") or (
            stem in _OPENCLIP_LAYER and leaf in ("weight", "bias")
        )
        if not known or n > hidden_layers:
            raise WeightsMismatchError(
                f"{what} have '{key}', which a {hidden_layers}-layer CLIPTextModel (plus the"
                " unused last resblock) does not have; check the text encoder's num_hidden_layers"
            )
        if n == hidden_layers:
            continue
        layer = f"text_model.encoder.layers.{n}"
        if stem in _OPENCLIP_LAYER:
            out[f"{layer}.{_OPENCLIP_LAYER[stem]}.{leaf}"] = tensor
            continue
        leaf = "weight" if rest.endswith("weight") else "bias"
        width = tensor.shape[-1] if leaf == "weight" else tensor.shape[0] // 3
        if tensor.dim() != (2 if leaf == "weight" else 1) or tensor.shape[0] != 3 * width:
            raise WeightsMismatchError(
                f"{what} have '{key}' of shape {tuple(tensor.shape)}, not q, k and v stacked"
                " (3 x width rows); the checkpoint is not an OpenCLIP text tower"
            )
        # copies, not views: tensors sharing storage cannot be saved to safetensors
        for name, part in zip("qkv", tensor.split(width), strict=True):
            out[f"{layer}.self_attn.{name}_proj.{leaf}"] = part.clone()
    return _checked(out, hidden_layers, what, _openclip_name)


def text_from_original(
    state: Mapping[str, torch.Tensor], hidden_layers: int
) -> dict[str, torch.Tensor]:
    """Rename a single file's text encoder to transformers' ``CLIPTextModel`` names
    (``text_model.embeddings.token_embedding.weight``, ...).

    Accepts a whole checkpoint (only the ``cond_stage_model.`` keys are read) or the text
    encoder's keys without that prefix: SD 1.x ``text_model.*``, or SD 2.x OpenCLIP
    (``token_embedding.weight``, ``transformer.resblocks.N.*``, ...). OpenCLIP's stacked
    ``attn.in_proj_*`` split into q, k, v (in that order); its resblock number
    ``hidden_layers`` and ``text_projection`` are dropped, so SD 2.x takes
    ``hidden_layers=23`` (OpenCLIP ViT-H/14 has 24 resblocks), SD 1.x 12.

    Raises:
        WeightsMismatchError: no text encoder is recognised, a layer's tensor is missing,
            a key does not belong to a ``hidden_layers``-layer encoder, or a stacked q, k,
            v tensor does not split in three.
    """
    clip = {k[len(CLIP_PREFIX) :]: state[k] for k in state if k.startswith(CLIP_PREFIX)}
    openclip = {k[len(OPENCLIP_PREFIX) :]: state[k] for k in state if k.startswith(OPENCLIP_PREFIX)}
    if clip and openclip:
        raise WeightsMismatchError(
            "the checkpoint has both SD 1.x (cond_stage_model.transformer.*) and SD 2.x"
            " (cond_stage_model.model.*) text encoders; it is not a Stable Diffusion 1.x/2.x file"
        )
    if clip:
        return _from_clip(clip, hidden_layers)
    if openclip:
        return _from_openclip(openclip, hidden_layers)
    if any(key.startswith(TEXT_PREFIX) for key in state):
        other = next(key for key in state if key.startswith(TEXT_PREFIX))
        raise WeightsMismatchError(
            f"text-encoder key '{other}' is neither SD 1.x CLIP ({CLIP_PREFIX}text_model.*) nor"
            f" SD 2.x OpenCLIP ({OPENCLIP_PREFIX}*); this single-file layout is not supported"
        )
    if any(key.startswith("text_model.") for key in state):
        return _from_clip(state, hidden_layers)
    if "token_embedding.weight" in state or any(_RESBLOCK.match(key) for key in state):
        return _from_openclip(state, hidden_layers)
    raise WeightsMismatchError(
        "no text-encoder weights found: expected cond_stage_model.transformer.text_model.*"
        " (SD 1.x) or cond_stage_model.model.* (SD 2.x) keys, or the same without that prefix"
    )


def guess_version(state: Mapping[str, torch.Tensor]) -> Literal["sd1", "sd2"]:
    """Tell an SD 1.x from an SD 2.x single file by its tensors' names and shapes.

    The U-Net's cross-attention keys take the text width: 768 (CLIP ViT-L/14, SD 1.x) or
    1024 (OpenCLIP ViT-H/14, SD 2.x); the text encoder's keys say CLIP or OpenCLIP. Either
    is enough; when both are present they must agree. Only shapes are read.

    Raises:
        WeightsMismatchError: neither is found, the width is another one (SD-XL: 2048),
            or U-Net and text encoder disagree.
    """
    from_unet: Literal["sd1", "sd2"] | None = None
    cross = next((key for key in state if _CROSS_KEY.match(key)), None)
    if cross is not None:
        width = int(state[cross].shape[-1])
        if width not in _VERSIONS:
            raise WeightsMismatchError(
                f"the U-Net cross-attends to width {width} ('{cross}'), neither 768 (SD 1.x)"
                " nor 1024 (SD 2.x); only Stable Diffusion 1.x and 2.x single files are read"
            )
        from_unet = _VERSIONS[width]
    from_text: Literal["sd1", "sd2"] | None = None
    if any(key.startswith(CLIP_PREFIX + "text_model.") for key in state):
        from_text = "sd1"
    elif any(key.startswith(OPENCLIP_PREFIX) for key in state):
        from_text = "sd2"
    if from_unet and from_text and from_unet != from_text:
        raise WeightsMismatchError(
            f"the U-Net is {from_unet} (cross-attention width of '{cross}') but the text"
            f" encoder's keys are {from_text}'s; the checkpoint mixes versions"
        )
    version = from_unet or from_text
    if version is None:
        raise WeightsMismatchError(
            "cannot tell SD 1.x from SD 2.x: no U-Net cross-attention key (...attn2.to_k.weight)"
            " and no cond_stage_model text encoder; is this a Stable Diffusion 1.x/2.x file?"
        )
    return version


def split_single_file(
    state: Mapping[str, torch.Tensor],
    unet: SDUNetConfig,
    vae: KLAutoencoderConfig,
    text_layers: int,
    ema: bool = False,
) -> dict[str, dict[str, torch.Tensor]]:
    """A single-file checkpoint as three diffusers-layout state dicts.

    Args:
        state: the file's tensors by name (a dict, or a lazy mapping: only the keys of
            the three parts are read).
        unet, vae: the configs of the U-Net and the autoencoder to load them into.
        text_layers: the ``CLIPTextModel``'s ``num_hidden_layers`` (SD 1.x 12, SD 2.x 23).
        ema: take the U-Net's EMA copy (``model_ema.*``) instead of its raw weights.

    Returns:
        ``{"unet": ..., "vae": ..., "text_encoder": ...}``, each with the names of the
        matching diffusers repo subfolder's weights file.

    Raises:
        WeightsMismatchError: a part is absent, or does not fit its config.
    """
    parts = {
        "U-Net": EMA_PREFIX if ema else UNET_PREFIX,
        "autoencoder": VAE_PREFIX,
        "text encoder": TEXT_PREFIX,
    }
    for part, prefix in parts.items():
        if not any(key.startswith(prefix) for key in state):
            hint = "; load it without ema" if ema and part == "U-Net" else ""
            raise WeightsMismatchError(
                f"the checkpoint has no {part} (no '{prefix}*' keys){hint}; a Stable Diffusion"
                " single file holds model.diffusion_model, first_stage_model and cond_stage_model"
            )
    # Each part is given only its own keys: a lazy mapping (safetensors' safe_open) then
    # reads each tensor once, and never the part that is not used (EMA or raw U-Net).
    own = {part: {k: state[k] for k in state if k.startswith(p)} for part, p in parts.items()}
    return {
        "unet": unet_from_original(own["U-Net"], unet, ema=ema),
        "vae": vae_from_original(own["autoencoder"], vae),
        "text_encoder": text_from_original(own["text encoder"], text_layers),
    }
