"""Training checkpoints: everything needed to continue a run exactly where it stopped.

The checkpoints of a run writing the model folder ``PARENT/NAME`` live beside
it, in ``PARENT/.zoo-train/NAME/``, never inside the model folder (which is
shipped and uploaded as it is). ``.zoo-train/`` holds a ``.gitignore`` that
ignores it, so committing ``PARENT`` never commits training state.

A checkpoint is a folder ``.zoo-train/NAME/step-NNNNNNN/`` holding
``state.safetensors`` (every tensor: network weights, optimiser moments, RNG
states, data order) and ``state.json`` (the nesting and the non-tensor values,
with each tensor replaced by its key). ``.zoo-train/NAME/latest`` names the
newest complete one and is replaced atomically after the folder is written, so
a run killed mid-write resumes from the previous checkpoint. No pickle.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.images import atomic_write
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch

TENSOR = "__tensor__"
TRAIN_DIR = ".zoo-train"
LEGACY_DIR = "checkpoints"  # where checkpoints were once written: inside the model folder


def folder_for(out: Path) -> Path:
    """The folder holding the checkpoints of a run that writes the model folder ``out``."""
    full = Path(os.path.abspath(out))
    return full.parent / TRAIN_DIR / (full.name or "model")


def exists(out: Path) -> bool:
    """Whether a run writing ``out`` has left a checkpoint to resume."""
    return (folder_for(out) / "latest").is_file()


def remove(out: Path) -> None:
    """Delete the checkpoints of ``out`` (and ``.zoo-train/`` once it holds no other run).

    Checkpoints an older zoo left inside ``out`` go too.
    """
    folder = folder_for(out)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(Path(out) / LEGACY_DIR, ignore_errors=True)
    parent = folder.parent
    if parent.is_dir() and {p.name for p in parent.iterdir()} <= {".gitignore"}:
        shutil.rmtree(parent, ignore_errors=True)


def adopt_legacy(out: Path) -> None:
    """Move checkpoints an older zoo wrote inside the model folder to where they now live."""
    old = Path(out) / LEGACY_DIR
    if not (old / "latest").is_file():
        return
    new = folder_for(out)
    if new.exists():
        raise RequestError(
            f"{out} holds checkpoints in both {old} and {new}; delete the one not to resume"
        )
    _make_train_dir(new.parent)
    shutil.move(str(old), str(new))


def _make_train_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# training checkpoints of zoo train (resumable state, not models)\n*\n")


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


def save(out: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write the checkpoint of ``step`` of the run writing ``out``; keep the newest ``keep``."""
    from zoo.weights import save_weights

    ckpts = folder_for(out)
    _make_train_dir(ckpts.parent)
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


def load_latest(out: Path) -> tuple[int, dict[str, Any]]:
    """(step, state) of the newest complete checkpoint of the run writing ``out``."""
    from zoo.weights import load_weights

    pointer = folder_for(out) / "latest"
    if not pointer.is_file():
        raise RequestError(
            f"no checkpoint to resume for {out} (looked in {pointer.parent}); run without --resume"
        )
    folder = pointer.parent / pointer.read_text().strip()
    try:
        meta = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError) as err:
        raise RequestError(
            f"checkpoint {folder} is unreadable ({err}); delete it to start over"
        ) from None
    tensors = load_weights(folder / "state.safetensors")
    return int(meta["step"]), unflatten(meta["state"], tensors)
