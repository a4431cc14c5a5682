"""Weight files: checked before loading, verified against the card, fitted to the network.

Only safetensors is read; nothing is ever unpickled. ``check_file`` parses the
header itself (without loading tensors) so that truncated, oversized, forged or
mislabelled files fail fast with a one-line message that names the file; the
safetensors library then checks the same things again when loading. Rows W1-W17
of RELIABILITY.md are the specification.

torch and safetensors are imported inside the functions that need them, so
verifying hashes (``verify_files``, ``sha256_file``) stays light.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import uuid
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import (
    IntegrityError,
    PickleRefusedError,
    ResourceError,
    WeightsMismatchError,
    ZooError,
)

if TYPE_CHECKING:
    import torch

    from zoo.registry.schemas import FileEntry

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_TENSORS",
    "PICKLE_SUFFIXES",
    "apply_weights",
    "check_file",
    "entry_mismatch",
    "ignored_note",
    "load_weights",
    "refuse_pickles",
    "repair_hint",
    "save_weights",
    "scan_values",
    "sha256_file",
    "verify_files",
]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ZooError(f"{name}={raw!r} is not a positive byte count; unset it or give a number")
    return value


MAX_HEADER_BYTES = _env_int("ZOO_MAX_HEADER_BYTES", 16 << 20)
MAX_TENSORS = 100_000
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_CHUNK = 1 << 20
_SNIFF = 64

# safetensors dtype -> bits per element (the format's full list as of 0.8)
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


# -- messages ------------------------------------------------------------------------


def _redo(path: str | os.PathLike[str]) -> str:
    """What to do about a bad file: re-pull it if it lives in the Hub cache."""
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if part.startswith("models--") and parts[i + 1] in ("snapshots", "blobs"):
            repo = part[len("models--") :].replace("--", "/", 1)
            return f"it is a corrupt cached file; run `zoo pull --force hf:{repo}`"
    return "download or save it again"


def _bad(path: str | os.PathLike[str], what: str) -> IntegrityError:
    return IntegrityError(f"{path}: {what}; {_redo(path)}")


def _some(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _sniff(head: bytes) -> tuple[str, bool] | None:
    """Recognise what a non-safetensors file is: (description, is_pickle)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"version https://git-lfs"):
        return "a git-lfs pointer file, not the weights (the LFS object was never fetched)", False
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return (
            "an HTML page (an error or login page saved under the weights' name), not weights",
            False,
        )
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a torch.save checkpoint?)", True
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a pickle file (torch.save / pickle.dump)", True
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _header_cap() -> int:
    raw = os.environ.get("ZOO_MAX_HEADER_BYTES")
    return _env_int("ZOO_MAX_HEADER_BYTES", MAX_HEADER_BYTES) if raw else MAX_HEADER_BYTES


# -- checking a file -----------------------------------------------------------------


def check_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that ``path`` is a well-formed safetensors file, without loading tensors.

    Reads at most 8 bytes plus the header (capped by ``ZOO_MAX_HEADER_BYTES``,
    16 MiB by default). Checks the header length against the file size, that the
    header is a UTF-8 JSON object without duplicate names, the tensor count, and
    that every tensor's dtype x shape matches its byte range, the ranges tiling the
    data exactly.

    Returns:
        The parsed header: tensor name -> {"dtype", "shape", "data_offsets"},
        plus "__metadata__" if present (free text, never trusted).

    Raises:
        PickleRefusedError: the file is a pickle or zip checkpoint.
        IntegrityError: anything else wrong; the message names the file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _bad(path, "is not a regular file")
        with path.open("rb") as f:
            head = f.read(_SNIFF)
            if size == 0:
                raise _bad(path, "is empty (0 bytes), not weights")
            sniffed = _sniff(head)
            if size < 8:
                what = sniffed[0] if sniffed else "too short to be safetensors"
                raise _bad(path, f"is {size} bytes: {what}")
            length = int.from_bytes(head[:8], "little")
            cap = _header_cap()
            looks_ok = 0 < length <= min(cap, size - 8) and head[8:9] == b"{"
            if not looks_ok and sniffed is not None:
                what, is_pickle = sniffed
                if is_pickle:
                    raise PickleRefusedError(
                        f"{path} is {what}; only safetensors is supported"
                        " (pickle files can run code when loaded)"
                    )
                raise _bad(path, f"is {what}")
            if length > cap:
                raise _bad(
                    path,
                    f"implausible header: it claims {length} bytes, the limit is {cap}"
                    " (ZOO_MAX_HEADER_BYTES); the file is corrupt or not safetensors",
                )
            if length > size - 8:
                raise _bad(
                    path,
                    f"is truncated or not safetensors: its header claims {length} bytes"
                    f" but the file has only {size}",
                )
            if length < 2:
                raise _bad(path, f"header of {length} bytes cannot hold a JSON object")
            f.seek(8)
            raw = f.read(length)
    except OSError as err:
        raise IntegrityError(
            f"{path}: cannot read it ({err.strerror or err}); check the path"
        ) from None
    if len(raw) != length:
        raise _bad(path, "changed size while being read")
    header = _parse_header(path, raw)
    _check_layout(path, header, size - 8 - length)
    return header


def _parse_header(path: Path, raw: bytes) -> dict[str, Any]:
    if raw[:1] != b"{":
        raise _bad(path, "header does not start with '{', so it is not safetensors")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _bad(path, f"header is not UTF-8 (byte {err.start})") from None
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey as dup:
        raise _bad(path, f"duplicate name '{dup.key[:80]}' in the header") from None
    except (ValueError, RecursionError) as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise _bad(path, f"header is not valid JSON ({reason})") from None
    if not isinstance(header, dict):
        raise _bad(path, "header is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        raise _bad(path, "__metadata__ must map strings to strings")
    count = len(header) - ("__metadata__" in header)
    if count > MAX_TENSORS:
        raise _bad(path, f"implausible header: {count} tensors, the limit is {MAX_TENSORS}")
    return header


def _check_layout(path: Path, header: dict[str, Any], data_len: int) -> None:
    """dtype x shape must equal each byte range; the ranges must tile the data exactly."""
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        short = name[:80]
        if not isinstance(info, dict):
            raise _bad(path, f"tensor '{short}' has no dtype/shape/data_offsets entry")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_BITS:
            raise _bad(path, f"tensor '{short}' has unknown dtype {str(dtype)[:20]!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise _bad(path, f"tensor '{short}' has an invalid shape {str(shape)[:60]}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
        ):
            raise _bad(path, f"tensor '{short}' has invalid data_offsets {str(offsets)[:60]}")
        begin, end = offsets
        if begin < 0 or end < begin:
            raise _bad(path, f"tensor '{short}' has invalid data_offsets [{begin}, {end}]")
        if end > data_len:
            raise _bad(
                path,
                f"is truncated: tensor '{short}' ends at byte {end} of the data"
                f" but there are only {data_len}",
            )
        numel = 1
        for d in shape:
            numel *= d
        bits = numel * DTYPE_BITS[dtype]
        if bits % 8 or bits // 8 != end - begin:
            raise _bad(
                path,
                f"tensor '{short}' of dtype {dtype} and shape {shape[:8]} needs"
                f" {bits / 8:g} bytes but its offsets span {end - begin}",
            )
        spans.append((begin, end, short))
    spans.sort()
    at = 0
    for begin, end, name in spans:
        if begin < at:
            raise _bad(path, f"tensor '{name}' overlaps the previous tensor's bytes")
        if begin > at:
            raise _bad(path, f"gap before tensor '{name}' (bytes {at}-{begin} belong to no tensor)")
        at = end
    if at != data_len:
        raise _bad(path, f"{data_len - at} trailing bytes belong to no tensor")


# -- hashes and folders --------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def entry_mismatch(path: str | os.PathLike[str], entry: FileEntry) -> str | None:
    """How the file at ``path`` differs from its card entry, or None if size and hash match."""
    size = os.stat(path).st_size
    if size != entry.size:
        return f"it has {size} bytes, the card says {entry.size} (truncated or replaced)"
    digest = sha256_file(path)
    if digest != entry.sha256:
        return f"hash mismatch: sha256 {digest[:16]}... but the card says {entry.sha256[:16]}..."
    return None


def _inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` if ``name`` is a file name, or a '/'-separated path of plain names
    (``unet/diffusion_pytorch_model.safetensors``), that stays in ``folder``."""
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in name or "\0" in name:
        return None
    if os.path.isabs(name):
        return None
    base = os.path.abspath(folder)
    joined = os.path.abspath(os.path.join(base, *parts))  # symlinks are not followed on
    if os.path.commonpath([base, joined]) != base or joined == base:  # purpose: Hub snapshots
        return None  # link into ../../blobs
    return Path(joined)


LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


def _is_lfs_pointer(path: Path) -> bool:
    """Whether the file is a git-lfs pointer (a small text file) instead of its object."""
    try:
        with path.open("rb") as f:
            return f.read(len(LFS_POINTER)) == LFS_POINTER
    except OSError:
        return False  # entry_mismatch reports what is wrong with it


def repair_hint(model: str, source: str | None) -> str:
    """What restores a model's missing or damaged weight file, by where the model comes
    from (``Resolved.source``: "embedded", "local" or "hub"; None when unknown)."""
    if source == "hub":
        return f"run `zoo pull --force {model}`"
    if source == "embedded":
        return (
            "the model ships with the zoo: reinstall the zoo (`pip install --force-reinstall zoo`)"
        )
    if source == "local":
        return "restore the file from where the model came from, or train the model again"
    return "restore the file, or get the model again"


def verify_files(
    folder: str | os.PathLike[str],
    files: Mapping[str, FileEntry],
    model: str,
    source: str | None = None,
    kind: str = "weight file",
) -> None:
    """Check that each weight file listed by the card exists with its size and sha256
    (``kind`` names the files in the messages: "file" for the card's assets).

    ``source`` (embedded, local or hub) chooses the advice of the messages.

    Raises:
        IntegrityError: a file is missing, has the wrong size or hash, is a git-lfs
            pointer, or its name would leave the model folder.
    """
    folder = Path(folder)
    fix = repair_hint(model, source)
    contents = "weights" if kind == "weight file" else "its contents"
    for name, entry in sorted(files.items()):
        path = _inside(folder, name)
        if path is None:
            raise IntegrityError(
                f"{kind} name {name[:80]!r} of {model} escapes the model folder; fix the card"
            )
        if not path.is_file():
            raise IntegrityError(f"{kind} {name} of {model} is missing from {folder}; {fix}")
        if _is_lfs_pointer(path):
            fetch = fix if source == "hub" else f"run `git lfs pull` in {folder} to fetch them"
            raise IntegrityError(
                f"{kind} {name} of {model} is a git-lfs pointer, not {contents} (the LFS"
                f" object was never fetched); {fetch}"
            )
        problem = entry_mismatch(path, entry)
        if problem is not None:
            raise IntegrityError(f"{kind} {name} of {model}: {problem}; {fix}")


def refuse_pickles(folder: str | os.PathLike[str]) -> list[str]:
    """Refuse a model folder whose only weights are pickle checkpoints (W8).

    Returns:
        The names of pickle checkpoints that lie beside safetensors weights: they are
        never loaded, and the caller should say so (see ``ignored_note``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if names and not any(folder.glob("*.safetensors")):
        raise PickleRefusedError(
            f"{folder} holds only pickle weights ({_some(names, 3)}); only safetensors is"
            " supported (pickle files can run code when loaded)"
        )
    return names


def ignored_note(folder: str | os.PathLike[str], names: list[str]) -> str:
    """The line that tells a user which files of a model folder are not loaded."""
    return (
        f"zoo: note: {_some(names, 3)} in {folder} ignored"
        " (the zoo loads only the card's safetensors)"
    )


# -- loading -------------------------------------------------------------------------


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def _mmap_unavailable(err: BaseException) -> bool:
    if isinstance(err, OSError):
        return err.errno in (errno.ENODEV, errno.ENOMEM)
    text = str(err)
    return f"os error {errno.ENODEV})" in text or f"os error {errno.ENOMEM})" in text


def _load_pread(path: Path) -> dict[str, torch.Tensor]:
    import safetensors.torch

    try:
        return safetensors.torch.load_file(path, backend="pread")
    except TypeError:  # safetensors < 0.8 has no backend option
        return safetensors.torch.load(path.read_bytes())


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Check and load a safetensors file onto the CPU.

    Memory-maps the file unless ``ZOO_LOAD_BACKEND=pread``; if mapping fails with
    ENODEV (no shared mmap on this filesystem) or ENOMEM, falls back to reading
    with a warning. A SIGBUS from a network filesystem that drops a mapped file
    is fatal and cannot be caught; use ``ZOO_LOAD_BACKEND=pread`` there.

    Raises:
        IntegrityError: the file is not valid safetensors.
        PickleRefusedError: the file is a pickle checkpoint.
        ResourceError: not enough memory to hold the weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    check_file(path)
    backend = os.environ.get("ZOO_LOAD_BACKEND", "mmap").strip().lower() or "mmap"
    if backend not in ("mmap", "pread"):
        raise ZooError(f"ZOO_LOAD_BACKEND={backend!r} is unknown; use 'mmap' or 'pread'")
    try:
        if backend == "mmap":
            try:
                return load_file(path)
            except (OSError, SafetensorError) as err:
                if not _mmap_unavailable(err):
                    raise
                warnings.warn(
                    f"{path}: cannot memory-map it ({err}); reading it instead"
                    " (set ZOO_LOAD_BACKEND=pread to skip mmap)",
                    stacklevel=2,
                )
        return _load_pread(path)
    except SafetensorError as err:
        raise _bad(path, f"not valid safetensors ({_first_line(err)})") from None
    except (ValueError, KeyError, TypeError, RuntimeError) as err:  # e.g. a dtype torch lacks
        raise _bad(path, f"cannot be loaded ({type(err).__name__}: {_first_line(err)})") from None
    except MemoryError:
        size = path.stat().st_size
        raise ResourceError(f"not enough memory to load {path} ({size} bytes)") from None
    except OSError as err:
        raise IntegrityError(
            f"{path}: cannot read it ({err.strerror or err}); check the file"
        ) from None


def scan_values(path: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """Count NaN and Inf values per tensor (W13): name -> (nan_count, inf_count)."""
    import torch

    out: dict[str, tuple[int, int]] = {}
    for name, tensor in sorted(load_weights(path).items()):
        if not (tensor.is_floating_point() or tensor.is_complex()):
            out[name] = (0, 0)
            continue
        if tensor.is_floating_point() and tensor.dtype not in (
            torch.float16,
            torch.bfloat16,
            torch.float32,
            torch.float64,
        ):
            try:
                tensor = tensor.float()  # float8 and friends: widen before counting
            except (RuntimeError, TypeError):  # packed float4 has no NaN or Inf to count
                out[name] = (0, 0)
                continue
        out[name] = (int(torch.isnan(tensor).sum()), int(torch.isinf(tensor).sum()))
    return out


# -- fitting weights to networks -----------------------------------------------------


def _kind(dtype: torch.dtype) -> str:
    import torch

    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    ints = {torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64}
    ints |= {getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n)}
    return "int" if dtype in ints else "other"


def _fit_dtype(key: str, src: torch.Tensor, dst: torch.dtype, where: str) -> torch.Tensor:
    """Cast ``src`` to ``dst`` where that is safe; torch would cast anything silently."""
    import torch

    have, need = _kind(src.dtype), _kind(dst)
    if have == need == "float":
        return src.to(dst)
    if need == "int" and have == "int":
        return src.to(dst)
    if need == "int" and have == "float":
        # counters such as BatchNorm's num_batches_tracked, saved as floats
        if bool(torch.isfinite(src).all()) and bool((src == src.round()).all()):
            return src.to(dst)
    raise WeightsMismatchError(
        f"{where}: weight '{key}' is {str(src.dtype).removeprefix('torch.')} in the file but the"
        f" model needs {str(dst).removeprefix('torch.')}; this file is not for this model"
        " (wrong variant or revision?)"
    )


def apply_weights(
    networks: Mapping[str, torch.nn.Module],
    state: Mapping[str, torch.Tensor],
    where: str,
    family: str | None = None,
    stored: torch.dtype | None = None,
) -> None:
    """Load ``state`` (keys "<part>.<param>") into ``networks`` (part -> module), strictly.

    Everything is checked before any parameter is touched: missing keys (W9) and
    shape mismatches (W11) are errors, unexpected keys (W10) a warning, float
    weights of another precision are cast with one warning, and integer or
    boolean weights where the model has floats are errors (W12). ``stored`` is the
    dtype the card says its files store (``zoo.weights_dtype``): casts from it are the
    card's own choice, made without a warning.

    ``family``, the family the model's card names, is named when the file's keys look
    like another layout (keys missing and others unexpected): weights of one family
    under a card naming another.

    Raises:
        WeightsMismatchError: the weights do not fit the networks.
    """
    expected: dict[str, tuple[str, str, torch.Tensor]] = {}
    for part, module in networks.items():
        for name, tensor in module.state_dict().items():
            expected[f"{part}.{name}"] = (part, name, tensor)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing and unexpected and family is not None:
        raise WeightsMismatchError(
            f"{where}: {len(missing)} of {len(expected)} weights are missing from the file"
            f" ({_some(missing, 3)}); the card names family '{family}'; these weights have"
            f" keys like {_some(unexpected, 3)} (are they another family's?)"
        )
    if missing:
        raise WeightsMismatchError(
            f"{where}: {len(missing)} of {len(expected)} weights are missing from the file"
            f" ({_some(missing)}); the file is for another model, variant or revision"
        )
    if unexpected:
        warnings.warn(
            f"{where}: ignoring {len(unexpected)} unexpected weights in the file ({_some(unexpected)})",
            stacklevel=2,
        )
    parts: dict[str, dict[str, torch.Tensor]] = {part: {} for part in networks}
    casts: Counter[str] = Counter()
    for key, (part, name, target) in expected.items():
        src = state[key]
        if tuple(src.shape) != tuple(target.shape):
            raise WeightsMismatchError(
                f"{where}: weight '{key}' has shape {tuple(src.shape)} in the file but the model"
                f" expects {tuple(target.shape)}; wrong variant or revision?"
            )
        if src.dtype != target.dtype:
            fitted = _fit_dtype(key, src, target.dtype, where)
            if src.is_floating_point() and target.is_floating_point() and src.dtype != stored:
                casts[f"{src.dtype} to {target.dtype}".replace("torch.", "")] += 1
            src = fitted
        parts[part][name] = src
    if casts:
        done = ", ".join(f"{n} from {pair}" for pair, n in sorted(casts.items()))
        warnings.warn(f"{where}: cast weights {done}", stacklevel=2)
    for part, module in networks.items():
        module.load_state_dict(parts[part], strict=True)


# -- saving --------------------------------------------------------------------------


def save_weights(
    state: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``state`` to ``path`` as safetensors, atomically.

    The bytes go to a temporary file in the same folder, are fsynced, then
    renamed over ``path``: readers never see a half-written file, and a reader
    that has the old file open (or mapped) keeps the old inode (W17).

    Raises:
        ResourceError: the disk is full (the previous file is left as it was).
    """
    import torch

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"weight '{key}' is a {type(value).__name__}, not a tensor")
        tensor = value.detach().cpu().contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        if tensor.numel() and ptr in storages:
            tensor = tensor.clone()  # safetensors refuses tensors that share memory
        storages.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        # created with the usual 0o666 & ~umask permissions, unlike mkstemp's 0o600
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        with open(tmp, "wb") as f:
            for chunk in _serialize(tensors, metadata):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ResourceError(
                f"disk full while writing {path}; free some space and retry"
                " (the previous file, if any, is unchanged)"
            ) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


_DTYPE_NAMES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


def _serialize(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None
) -> list[bytes]:
    """The safetensors bytes of ``tensors``, the same for the same input in every process.

    safetensors' own writer keeps metadata in a hash map whose order changes
    from process to process, so identical weights would give different files
    (and hashes); here the header is written with sorted keys.
    """
    import torch

    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    blobs: list[bytes] = []
    offset = 0
    for key in sorted(tensors):
        t = tensors[key]
        name = _DTYPE_NAMES.get(str(t.dtype).removeprefix("torch."))
        if name is None:
            raise TypeError(f"weight '{key}' has dtype {t.dtype}, which the zoo does not save")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[key] = {
            "dtype": name,
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned
    return [struct.pack("<Q", len(text)), text, *blobs]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
