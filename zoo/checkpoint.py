"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a folder ``DIR/checkpoints/step-NNNNNNN/`` holding
``state.safetensors`` (every tensor: network weights, optimiser moments, RNG
states, data order) and ``state.json`` (the nesting and the non-tensor values,
with each tensor replaced by its key). ``DIR/checkpoints/latest`` names the
newest complete one and is replaced atomically after the folder is written, so
a run killed mid-write resumes from the previous checkpoint. No pickle.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.images import atomic_write
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch

TENSOR = "__tensor__"


def flatten(tree: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace each tensor leaf of a nested dict/list by a reference, collecting tensors."""
    import torch

    if isinstance(tree, torch.Tensor):
        key = prefix or "root"
        tensors[key] = tree.detach().cpu().contiguous()
        return {TENSOR: key}
    if isinstance(tree, dict):
        return {"__dict__": [[k, flatten(v, f"{prefix}.{k}", tensors)] for k, v in tree.items()]}
    if isinstance(tree, (list, tuple)):
        return [flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(tree)]
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"cannot checkpoint a {type(tree).__name__} at {prefix}")


def unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict) and TENSOR in tree:
        return tensors[tree[TENSOR]]
    if isinstance(tree, dict) and "__dict__" in tree:
        return {k: unflatten(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    return tree


def save(root: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write the checkpoint of ``step`` and point ``latest`` at it; keep the newest ``keep``."""
    from zoo.weights import save_weights

    ckpts = root / "checkpoints"
    folder = ckpts / f"step-{step:07d}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tensors: dict[str, Any] = {}
    skeleton = flatten(state, "s", tensors)
    save_weights(tensors, folder / "state.safetensors")
    text = json.dumps({"step": step, "state": skeleton})
    atomic_write(folder / "state.json", lambda f: f.write(text.encode()))
    atomic_write(ckpts / "latest", lambda f: f.write(folder.name.encode()))
    for old in sorted(p for p in ckpts.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def load_latest(root: Path) -> tuple[int, dict[str, Any]]:
    """(step, state) of the newest complete checkpoint under ``root``."""
    from zoo.weights import load_weights

    pointer = root / "checkpoints" / "latest"
    if not pointer.is_file():
        raise RequestError(f"no checkpoint to resume in {root}; run without --resume")
    folder = root / "checkpoints" / pointer.read_text().strip()
    try:
        meta = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError) as err:
        raise RequestError(
            f"checkpoint {folder} is unreadable ({err}); delete it to start over"
        ) from None
    tensors = load_weights(folder / "state.safetensors")
    return int(meta["step"]), unflatten(meta["state"], tensors)
