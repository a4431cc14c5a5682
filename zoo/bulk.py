"""Bulk generation: stream many images to a folder, resumable and shardable.

Image k of a request is a function of its seed alone, and its file name is
its seed, so the work splits cleanly: each worker draws the seeds
``seed + i`` with ``i % world_size == rank``. Run under torchrun for several
processes (or machines sharing a folder):

    torchrun --standalone --nproc-per-node 2 -m zoo sample dcgan-digits -n 10000 -o out/

Files already present with the same parameters are skipped, so an
interrupted run picks up where it stopped; a file with other parameters is
an error unless --force. Every write is atomic.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.device import seeds_for
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.api import Model
    from zoo.registry.schemas import SampleRequest


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        size = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise RequestError("RANK and WORLD_SIZE must be integers") from None
    if size < 1 or not 0 <= rank < size:
        raise RequestError(f"bad worker layout: RANK={rank}, WORLD_SIZE={size}")
    return rank, size


def file_for(out: Path, seed: int) -> Path:
    return out / f"{seed:06d}.png"


# a temp file of zoo.images.atomic_write for the PNG of a seed: ".<seed>.png.<random>.tmp"
_TEMP = re.compile(r"\.(\d+)\.png\.[A-Za-z0-9_]+\.tmp")


def remove_leftovers(out: Path, seeds: list[int]) -> int:
    """Delete the temp files a killed run left for the PNGs of ``seeds``; returns how many.

    Only files named as ``atomic_write`` names the temp file of one of these seeds'
    PNGs are touched: other workers' seeds and other files are left alone.
    """
    wanted = {file_for(out, s).name for s in seeds}
    removed = 0
    with os.scandir(out) as entries:
        for entry in entries:
            match = _TEMP.fullmatch(entry.name)
            if match and f"{match.group(1)}.png" in wanted and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _done(path: Path, record: dict[str, Any]) -> bool:
    """True if ``path`` holds this very image already; raises if it holds another."""
    from zoo.images import read_meta

    try:
        meta = read_meta(path)
    except RequestError:
        return False  # unreadable (e.g. from an older interrupted tool): redraw it
    # files of a zoo that did not record the dtype yet are compared without it
    skip = {"zoo"} | ({"dtype"} if "dtype" not in meta else set())
    differ = [k for k, v in record.items() if k not in skip and meta.get(k) != v]
    if not differ:
        return True
    key = differ[0]
    there = "none" if meta.get(key) is None else repr(meta.get(key))[:60]
    raise RequestError(
        f"{path} holds an image drawn with other parameters ({key}: {there} there,"
        f" {repr(record[key])[:60]} now); use another folder or --force"
    )


def write_folder(
    model: Model,
    request: SampleRequest,
    out: Path,
    *,
    force: bool = False,
    progress: bool = True,
) -> int:
    """Draw the request into ``out`` (one PNG per seed); returns how many this worker wrote."""
    from tqdm import tqdm

    from zoo.images import save_png, to_pil

    rank, size = world()
    if size > 1:
        _init_group()
    out.mkdir(parents=True, exist_ok=True)
    mine = [s for i, s in enumerate(seeds_for(request.seed, request.n)) if i % size == rank]
    remove_leftovers(out, mine)  # a SIGKILL between a temp file's creation and its rename
    records = {rec["seed"]: rec for rec in model.records(request, mine)}
    todo = [
        s
        for s in mine
        if force or not file_for(out, s).exists() or not _done(file_for(out, s), records[s])
    ]
    bar = tqdm(
        total=len(todo),
        desc=f"sample {model.id}" + (f" [worker {rank + 1}/{size}]" if size > 1 else ""),
        unit="img",
        disable=not progress or len(todo) <= request.batch_size,
        file=sys.stderr,
    )
    written = 0
    try:
        for i in range(0, len(todo), request.batch_size):
            chunk = todo[i : i + request.batch_size]
            samples = model.run(request, seeds=chunk)
            for img, rec in zip(to_pil(samples.images), samples.records, strict=True):
                save_png(img, file_for(out, rec["seed"]), rec)
                written += 1
            bar.update(len(chunk))
    except KeyboardInterrupt:
        # a signal between creating a temp file and its cleanup could leave one behind
        remove_leftovers(out, mine)
        raise
    finally:
        bar.close()
    if size > 1:
        _finish_group()
    return written


def _init_group() -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")


def _finish_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
