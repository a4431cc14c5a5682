"""Store a trained model's weights in a narrower dtype, to keep the repository small.

Rewrites the model folder's weight file with every float tensor cast to ``--dtype``
(float16 by default), updates the card's file entry and records ``weights_dtype``, so
loads cast the tensors back up to float32 by design, without the cast warning. Run
`zoo eval` after it: the card's figures must come from the stored weights.

    python scripts/store_weights.py cards/ldm-scenes [--dtype float16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from zoo.registry.cards import read_card
from zoo.registry.schemas import FileEntry
from zoo.train import _write_card
from zoo.weights import load_weights, save_weights, sha256_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--dtype", choices=["float16", "bfloat16"], default="float16")
    args = ap.parse_args()
    card, _ = read_card(args.folder)
    dtype = getattr(torch, args.dtype)
    files = {}
    for name, entry in card.zoo.files.items():
        path = args.folder / name
        state = load_weights(path)
        for key, value in state.items():
            if value.is_floating_point():
                narrowed = value.to(dtype)
                if not torch.isfinite(narrowed).all():
                    raise SystemExit(f"{name}: {key} does not fit {args.dtype}; left as it was")
                state[key] = narrowed
        save_weights(state, path, {"format": "pt", "family": card.zoo.family})
        before = entry.size
        files[name] = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
        print(f"{path}: {before:,} -> {files[name].size:,} bytes")
    zoo = card.zoo.model_copy(update={"files": files, "weights_dtype": args.dtype})
    _write_card(args.folder, card.model_copy(update={"zoo": zoo}))


if __name__ == "__main__":
    main()
