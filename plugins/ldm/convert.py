"""Single-file Stable Diffusion checkpoints (the original CompVis layout) -> a diffusers
layout folder the ldm family loads.

A single ``.safetensors`` file (``model.diffusion_model.*``, ``first_stage_model.*``,
``cond_stage_model.*``) holds weights only: no configs, no tokenizer, no scheduler, and
nothing in it tells epsilon from v-prediction. So, as diffusers' ``from_single_file`` takes
a ``config`` repo, the conversion takes a repo ``like`` it (same version and shape): its
``model_index.json``, component configs, tokenizer and scheduler are copied, and the file's
tensors, renamed by ``plugins/nn/sd_single.py``, become the U-Net's, autoencoder's and
text encoder's safetensors. The folder is written beside ``out`` and renamed into place.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from zoo.plugins.nn.sd_single import OPENCLIP_PREFIX, split_single_file
from zoo.plugins.nn.sd_text import CLIPTextEncoderConfig
from zoo.plugins.nn.sd_unet import SDUNetConfig
from zoo.plugins.nn.sd_vae import KLAutoencoderConfig
from zoo.registry.errors import CardError, RequestError

WEIGHT_NAMES = {
    "unet": "diffusion_pytorch_model.safetensors",
    "vae": "diffusion_pytorch_model.safetensors",
    "text_encoder": "model.safetensors",
}
_SMALL = (".json", ".txt")


def convert(checkpoint: Path, like: Path, out: Path, ema: bool = False) -> Path:
    """Write ``out``: ``like``'s configs and tokenizer with ``checkpoint``'s weights.

    Raises:
        RequestError: ``out`` exists, or the checkpoint is not a safetensors file.
        CardError: ``like`` lacks a component config.
        WeightsMismatchError: the checkpoint does not fit ``like``'s configs (named tensor).
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save_file

    if out.exists():
        raise RequestError(f"{out} exists; choose another folder")
    if checkpoint.suffix != ".safetensors":
        raise RequestError(f"{checkpoint} is not a .safetensors file (pickles are refused)")
    configs = {}
    for part in WEIGHT_NAMES:
        path = like / part / "config.json"
        if not path.is_file():
            raise CardError(f"{like} has no {part}/config.json to convert against")
        configs[part] = json.loads(path.read_text(encoding="utf-8"))
    unet = SDUNetConfig.from_dict(configs["unet"], where=f"{like}/unet/config.json")
    vae = KLAutoencoderConfig.from_dict(configs["vae"], where=f"{like}/vae/config.json")
    text = CLIPTextEncoderConfig.from_file(like / "text_encoder" / "config.json")
    try:
        handle = safe_open(str(checkpoint), framework="pt")
    except (SafetensorError, OSError) as err:
        raise RequestError(f"cannot read {checkpoint}: {err}") from None
    with handle as f:
        keys = list(f.keys())
        lazy = _Lazy(f, keys)
        # the text encoder's keys tell CLIP (SD 1.x) from OpenCLIP (SD 2.x) at any width
        version = "sd2" if any(k.startswith(OPENCLIP_PREFIX) for k in keys) else "sd1"
        want = "sd2" if text.hidden_act == "gelu" else "sd1"
        if version != want:
            raise RequestError(
                f"{checkpoint.name} is an {version.upper()} checkpoint but {like} is "
                f"{want.upper()}-shaped; convert it like a repo of its own version"
            )
        parts = split_single_file(lazy, unet, vae, text.num_hidden_layers, ema=ema)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    for path in like.rglob("*"):  # configs, tokenizer, scheduler, index: the small files
        rel = path.relative_to(like)
        if path.is_file() and path.suffix in _SMALL and not rel.parts[0].startswith("."):
            if path.name.endswith(".safetensors.index.json"):
                continue  # the weights are written whole, not sharded
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp / rel)
    for part, name in WEIGHT_NAMES.items():
        tensors = {k: v.contiguous() for k, v in parts[part].items()}
        (tmp / part).mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(tmp / part / name), metadata={"format": "pt"})
    if not (tmp / "model_index.json").is_file():
        raise CardError(f"{like} has no model_index.json")
    tmp.rename(out)
    return out


class _Lazy:
    """A safetensors file as a read-only mapping that reads a tensor when asked for it."""

    def __init__(self, handle: object, keys: list[str]) -> None:
        self.handle = handle
        self.keys_ = keys
        self.known = set(keys)

    def __getitem__(self, key: str) -> object:
        return self.handle.get_tensor(key)  # type: ignore[attr-defined]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)

    def __contains__(self, key: object) -> bool:
        return key in self.known

    def keys(self) -> list[str]:
        return self.keys_
