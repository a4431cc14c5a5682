"""Repos in diffusers' pipeline layout, read without a zoo card.

A folder with a ``model_index.json`` (a Stable Diffusion repo as diffusers saves it, or its
Hub snapshot) is recognised by the pipeline class it names: the family whose
``FamilySpec.pipelines`` lists that class reads it. The zoo then writes the card it would
have needed, in memory:

- ``config``: each component's config file (``unet/config.json``,
  ``scheduler/scheduler_config.json``, ``tokenizer/tokenizer_config.json``, ...) under the
  component's name, plus the index's plain values;
- ``zoo.files``: the safetensors of each network component the family names
  (``FamilySpec.pipeline_networks``): the plain file, else a single variant
  (``*.fp16.safetensors``), each possibly sharded with an index; pickle-only components are
  refused. Each file's sha256 is the Hub's own (the LFS object id a snapshot's blob is
  named by) where the file is a Hub blob, else computed here;
- the default sampler, from the scheduler's class.

Weights of a component live in its subfolder and carry the network's own tensor names; the
loader prefixes them with the component's name (``zoo.api``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from zoo.registry.cards import CARD_FILE, read_json_object, split_front_matter
from zoo.registry.discovery import Registry
from zoo.registry.errors import CardError
from zoo.registry.schemas import FamilySpec, FileEntry, ModelCard

INDEX = "model_index.json"
CONFIG_FILES = ("config.json", "scheduler_config.json", "tokenizer_config.json")
WEIGHT_STEMS = ("diffusion_pytorch_model", "model")
MAX_JSON_BYTES = 16 * 2**20  # a tokenizer_config.json can be large; a config is not

# diffusers scheduler classes -> the zoo sampler that steps the same way
SCHEDULER_SAMPLERS = {
    "DDIMScheduler": "ddim",
    "DDPMScheduler": "ddpm",
    "DPMSolverMultistepScheduler": "dpm++2m",
    "EulerDiscreteScheduler": "euler",
    "EulerAncestralDiscreteScheduler": "euler-a",
}
_BLOB = re.compile(r"[0-9a-f]{64}")


def is_pipeline_folder(folder: Path) -> bool:
    """True when ``folder`` is a diffusers pipeline repo the zoo should read without a card:
    it has a model_index.json and no card with a ``zoo:`` section."""
    if not (folder / INDEX).is_file():
        return False
    card = folder / CARD_FILE
    if not card.is_file():
        return True
    head = card.read_text(encoding="utf-8", errors="replace").split("\n---", 1)[0]
    return re.search(r"^zoo:", head, flags=re.MULTILINE) is None


def _json(path: Path) -> dict[str, Any]:
    return read_json_object(path, MAX_JSON_BYTES)


def family_for(index: dict[str, Any], folder: Path, reg: Registry) -> FamilySpec:
    name = index.get("_class_name")
    for family in reg.families.values():
        if name in family.pipelines:
            return family
    known = sorted(p for f in reg.families.values() for p in f.pipelines)
    raise CardError(
        f"{folder} is a diffusers '{name}' repo; no installed family reads it (the zoo reads "
        f"{', '.join(known) or 'none'})"
    )


def weight_files(sub: Path, component: str, present: list[str] | None = None) -> list[str]:
    """The safetensors of one component, relative to ``sub``: the plain file or its shards,
    else the one variant present; errors name what is there instead.

    ``present``: the file names in the component's folder (default: listed from ``sub``;
    a Hub pull passes the repo's listing before the weights are downloaded). A sharded
    component's index json must be in ``sub``.
    """
    if present is None:
        present = sorted(p.name for p in sub.iterdir() if p.is_file()) if sub.is_dir() else []
    for stem in WEIGHT_STEMS:
        if f"{stem}.safetensors" in present:
            return [f"{stem}.safetensors"]
        if f"{stem}.safetensors.index.json" in present:
            return _shards(sub / f"{stem}.safetensors.index.json")
    variants = sorted(
        {
            m.group(2)
            for name in present
            if (m := re.fullmatch(r"(diffusion_pytorch_model|model)\.(\w+)\.safetensors", name))
        }
        | {
            m.group(2)
            for name in present
            if (
                m := re.fullmatch(
                    r"(diffusion_pytorch_model|model)\.safetensors\.index\.(\w+)\.json", name
                )
            )
        }
    )
    if len(variants) == 1:
        (variant,) = variants
        for stem in WEIGHT_STEMS:
            if f"{stem}.{variant}.safetensors" in present:
                return [f"{stem}.{variant}.safetensors"]
            if f"{stem}.safetensors.index.{variant}.json" in present:
                return _shards(sub / f"{stem}.safetensors.index.{variant}.json")
    if len(variants) > 1:
        raise CardError(
            f"{component}/ has weights in several variants ({', '.join(variants)}) and no plain "
            "file; keep one variant in the folder"
        )
    if any(name.endswith((".bin", ".ckpt", ".pt", ".pth")) for name in present):
        raise CardError(
            f"{component}/ has only pickle weights (.bin); the zoo loads safetensors only "
            "(unpickling can run code)"
        )
    raise CardError(f"{component}/ has no safetensors weights ({sub})")


def _shards(index_path: Path) -> list[str]:
    index = _json(index_path)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CardError(f"{index_path} has no weight_map")
    names = sorted(set(weight_map.values()))
    for name in names:
        if not re.fullmatch(r"[\w.-]+\.safetensors", str(name)):
            raise CardError(
                f"{index_path} names a shard '{str(name)[:80]}' that is not a safetensors file"
            )
    return names


def _entry(path: Path) -> FileEntry:
    """Size and sha256 of a weight file: a Hub blob's name is its sha256 (the LFS object id)."""
    from zoo.weights import sha256_file

    size = path.stat().st_size
    if path.is_symlink():
        target = os.path.basename(os.readlink(path))
        if _BLOB.fullmatch(target):
            return FileEntry(sha256=target, size=size)
    return FileEntry(sha256=sha256_file(path), size=size)


def _hub_card(folder: Path) -> tuple[dict[str, Any], str]:
    """The front matter and body of a repo's own README (a Hub card), if it reads."""
    path = folder / CARD_FILE
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        return {}, ""
    try:
        front, body = split_front_matter(path.read_text(encoding="utf-8", errors="replace"))
        data = yaml.safe_load(front)
    except (CardError, yaml.YAMLError):
        return {}, ""
    return (data if isinstance(data, dict) else {}), body


def network_weights(folder: Path, reg: Registry, listing: list[str]) -> list[str]:
    """Repo paths of the weight files a pipeline repo's networks need, chosen from
    ``listing`` (every path in the repo) as ``read_pipeline`` would choose them."""
    index = _json(folder / INDEX)
    family = family_for(index, folder, reg)
    out = []
    for component in family.pipeline_networks:
        names = [p.split("/", 1)[1] for p in listing if p.startswith(component + "/")]
        names = [n for n in names if "/" not in n]
        out += [f"{component}/{n}" for n in weight_files(folder / component, component, names)]
    return out


def read_pipeline(folder: Path, reg: Registry) -> tuple[ModelCard, str, dict[str, Any]]:
    """(card, card body, config) of a diffusers pipeline folder (see the module docstring)."""
    index = _json(folder / INDEX)
    family = family_for(index, folder, reg)
    config: dict[str, Any] = {}
    files: dict[str, FileEntry] = {}
    for component, spec in index.items():
        if component.startswith("_"):
            continue
        if not (isinstance(spec, list) and len(spec) == 2):
            config[component] = spec  # a plain value (requires_safety_checker, ...)
            continue
        if spec[0] is None:  # a component saved as absent
            config[component] = None
            continue
        sub = folder / component
        found = [sub / name for name in CONFIG_FILES if (sub / name).is_file()]
        config[component] = {"_class_name": spec[1], **(_json(found[0]) if found else {})}
        if component in family.pipeline_networks:
            for name in weight_files(sub, component):
                files[f"{component}/{name}"] = _entry(sub / name)
    missing = [c for c in family.pipeline_networks if c not in config or config[c] is None]
    if missing:
        raise CardError(f"{folder}/{INDEX} names no '{missing[0]}' component")
    scheduler = config.get("scheduler") or {}
    sampler = SCHEDULER_SAMPLERS.get(str(scheduler.get("_class_name")), "ddim")
    front, body = _hub_card(folder)
    card = ModelCard.model_validate(
        {
            **{k: v for k, v in front.items() if k in ("license", "tags", "pipeline_tag")},
            "library_name": "diffusers",
            "zoo": {"family": family.name, "files": files, "default_sampler": sampler},
        }
    )
    if not body:
        body = (
            f"A diffusers {index.get('_class_name')} repo, read by the zoo's {family.name} family."
        )
    return card, body, config
