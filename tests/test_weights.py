"""zoo.weights on malformed files and mismatched networks: rows W1-W17 of RELIABILITY.md.

Every bad input must end in a typed ZooError whose one-line message names the
problem; nothing may crash, hang, or load silently.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors.torch
import torch

from zoo import weights
from zoo.registry.errors import (
    IntegrityError,
    PickleRefusedError,
    ResourceError,
    WeightsMismatchError,
    ZooError,
)
from zoo.registry.schemas import FileEntry
from zoo.weights import (
    apply_weights,
    check_file,
    load_weights,
    refuse_pickles,
    save_weights,
    scan_values,
    sha256_file,
    verify_files,
)


def raw(header: bytes | dict, data: bytes = b"", length: int | None = None) -> bytes:
    """Bytes of a safetensors-like file: u64 header length, header, data."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def f32(n: int) -> bytes:
    return struct.pack(f"<{n}f", *range(n))


def good_bytes() -> bytes:
    return safetensors.torch.save({"a": torch.zeros(2, 2), "b": torch.ones(3)})


def entry(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    b"size 12345\n"
)

# (id, file bytes, error type, phrase in the message)
CORPUS: list[tuple[str, Callable[[], bytes], type[ZooError], str]] = [
    ("W1-truncated-data", lambda: good_bytes()[:-5], IntegrityError, "truncated"),
    ("W1-truncated-header", lambda: good_bytes()[:20], IntegrityError, "truncated"),
    ("W1-too-short", lambda: b"\x01\x02\x03", IntegrityError, "too short"),
    ("W2-10GB-header", lambda: raw(b"{}", length=10 * 2**30), IntegrityError, "implausible header"),
    ("W2-u64-max", lambda: raw(b"{}", length=2**64 - 1), IntegrityError, "implausible header"),
    ("W2-beyond-file", lambda: raw(b"{}", length=4096), IntegrityError, "truncated"),
    ("W4-not-utf8", lambda: raw(b'{"a\xff\xfe": 1}'), IntegrityError, "not UTF-8"),
    ("W4-not-json", lambda: raw(b"{not json at all}"), IntegrityError, "not valid JSON"),
    ("W4-nan-in-json", lambda: raw(b'{"a": NaN}'), IntegrityError, "not valid JSON"),
    ("W4-array", lambda: raw(b'["a", "b"]'), IntegrityError, "does not start with '{'"),
    ("W4-leading-space", lambda: raw(b' {"a": 1}'), IntegrityError, "does not start with '{'"),
    (
        "W4-deep-nesting",
        lambda: raw(b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}"),
        IntegrityError,
        "not valid JSON",
    ),
    ("W5-zero-bytes", lambda: b"", IntegrityError, "empty"),
    ("W5-lfs-pointer", lambda: LFS_POINTER, IntegrityError, "git-lfs pointer"),
    (
        "W5-html",
        lambda: b"<!DOCTYPE html>\n<html><body>Access denied</body></html>\n" * 3,
        IntegrityError,
        "HTML page",
    ),
    ("W5-html-lower", lambda: b"\n  <html><head></head></html>", IntegrityError, "HTML page"),
    (
        "W6-overlap",
        lambda: raw({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, f32(3)),
        IntegrityError,
        "overlaps",
    ),
    (
        "W6-gap",
        lambda: raw({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 12, 20)}, f32(5)),
        IntegrityError,
        "gap before tensor 'b'",
    ),
    (
        "W6-out-of-range",
        lambda: raw({"a": entry("F32", [4], 0, 16)}, f32(2)),
        IntegrityError,
        "truncated",
    ),
    (
        "W6-negative",
        lambda: raw({"a": entry("F32", [1], -4, 0)}, f32(1)),
        IntegrityError,
        "data_offsets",
    ),
    (
        "W6-reversed",
        lambda: raw({"a": entry("F32", [0], 8, 0)}, f32(2)),
        IntegrityError,
        "data_offsets",
    ),
    (
        "W6-offsets-not-pair",
        lambda: raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, f32(1)),
        IntegrityError,
        "data_offsets",
    ),
    (
        "W6-shape-vs-bytes",
        lambda: raw({"a": entry("F32", [3], 0, 8)}, f32(2)),
        IntegrityError,
        "needs 12 bytes",
    ),
    (
        "W6-overflow",
        lambda: raw({"a": entry("F32", [2**62, 2**62], 0, 8)}, f32(2)),
        IntegrityError,
        "needs",
    ),
    (
        "W6-negative-dim",
        lambda: raw({"a": entry("F32", [-1], 0, 4)}, f32(1)),
        IntegrityError,
        "invalid shape",
    ),
    (
        "W6-float-dim",
        lambda: raw({"a": entry("F32", [1.0], 0, 4)}, f32(1)),
        IntegrityError,
        "invalid shape",
    ),
    (
        "W6-bool-dim",
        lambda: raw({"a": entry("F32", [True], 0, 4)}, f32(1)),
        IntegrityError,
        "invalid shape",
    ),
    (
        "W6-unknown-dtype",
        lambda: raw({"a": entry("F128", [1], 0, 16)}, f32(4)),
        IntegrityError,
        "unknown dtype",
    ),
    ("W6-not-an-entry", lambda: raw({"a": 5}), IntegrityError, "no dtype"),
    (
        "W6-trailing-bytes",
        lambda: raw({"a": entry("F32", [1], 0, 4)}, f32(3)),
        IntegrityError,
        "trailing bytes",
    ),
    (
        "W6-subbyte-misaligned",
        lambda: raw({"a": entry("F4", [3], 0, 2)}, b"\0\0"),
        IntegrityError,
        "needs",
    ),
    (
        "W7-duplicate-name",
        lambda: raw(
            b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
            b' "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
            f32(2),
        ),
        IntegrityError,
        "duplicate name 'a'",
    ),
    (
        "W7-duplicate-field",
        lambda: raw(
            b'{"a": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}}', f32(1)
        ),
        IntegrityError,
        "duplicate name 'dtype'",
    ),
    (
        "W14-metadata-not-strings",
        lambda: raw({"__metadata__": {"a": 1}}),
        IntegrityError,
        "__metadata__",
    ),
    (
        "W8-pickle-proto2",
        lambda: pickle.dumps({"w": [1.0] * 10}, protocol=2),
        PickleRefusedError,
        "only safetensors is supported",
    ),
    (
        "W8-pickle-proto5",
        lambda: pickle.dumps({"w": [1.0] * 10}, protocol=5),
        PickleRefusedError,
        "pickle file",
    ),
    ("W8-zip", lambda: b"PK\x03\x04" + bytes(200), PickleRefusedError, "zip archive"),
]


@pytest.mark.parametrize(
    ("make", "error", "phrase"),
    [pytest.param(m, e, p, id=i) for i, m, e, p in CORPUS],
)
def test_malformed_files(
    tmp_path: Path, make: Callable[[], bytes], error: type, phrase: str
) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(make())
    for fn in (check_file, load_weights):
        with pytest.raises(error) as info:
            fn(path)
        message = str(info.value)
        assert phrase in message, message
        assert "\n" not in message
        assert str(path) in message


def test_torch_save_checkpoint_is_refused(tmp_path: Path) -> None:
    # W8: a real torch.save file (zip), never unpickled
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(PickleRefusedError, match="only safetensors is supported"):
        load_weights(path)


def test_header_over_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # W3: valid JSON but larger than the configured cap
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file({"a": torch.zeros(1)}, path, metadata={"pad": "x" * 2000})
    check_file(path)
    monkeypatch.setenv("ZOO_MAX_HEADER_BYTES", "1024")
    with pytest.raises(IntegrityError, match=r"implausible header: .* the limit is 1024"):
        check_file(path)
    monkeypatch.setenv("ZOO_MAX_HEADER_BYTES", "lots")
    with pytest.raises(ZooError, match="ZOO_MAX_HEADER_BYTES"):
        check_file(path)


def test_too_many_tensors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # W3
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file({f"t{i}": torch.zeros(1) for i in range(4)}, path)
    monkeypatch.setattr(weights, "MAX_TENSORS", 3)
    with pytest.raises(IntegrityError, match="implausible header: 4 tensors, the limit is 3"):
        load_weights(path)


def test_huge_header_claim_fails_fast(tmp_path: Path) -> None:
    # W2: a 10-byte file claiming a 10 GB header is rejected from its first 8 bytes
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10 * 10**9) + b"{}")
    with pytest.raises(IntegrityError, match="implausible header: it claims 10000000000 bytes"):
        check_file(path)


def test_header_length_that_looks_like_pickle_is_fine(tmp_path: Path) -> None:
    # a header of 0x280 bytes starts with 0x80 0x02, the pickle protocol-2 magic
    header = json.dumps({"a": entry("F32", [1], 0, 4)}).encode().ljust(0x280)
    path = tmp_path / "model.safetensors"
    path.write_bytes(raw(header, f32(1)))
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert list(load_weights(path)) == ["a"]


def test_good_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    state = {"a": torch.randn(2, 3), "b": torch.arange(4, dtype=torch.int64), "c": torch.zeros(0)}
    save_weights(state, path, {"family": "dcgan"})
    header = check_file(path)
    assert header["__metadata__"] == {"family": "dcgan"}
    assert header["a"]["shape"] == [2, 3]
    loaded = load_weights(path)
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value)


def test_fuzzed_files_end_in_zoo_errors(tmp_path: Path) -> None:
    # Figure 1 in miniature: mutated files load or fail with a ZooError, never anything else
    rng = random.Random(0)
    base = safetensors.torch.save(
        {"w": torch.randn(3, 4), "b": torch.zeros(3, dtype=torch.float16), "i": torch.arange(2)},
        metadata={"k": "v"},
    )
    path = tmp_path / "model.safetensors"
    for _ in range(300):
        data = bytearray(base)
        how = rng.randrange(4)
        if how == 0:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == 1:
            del data[rng.randrange(len(data)) :]
        elif how == 2:
            data[:8] = struct.pack(
                "<Q", rng.choice([0, 1, 7, 2**63, len(data), rng.randrange(2**40)])
            )
        else:
            pos = rng.randrange(8, len(data))
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        path.write_bytes(bytes(data))
        try:
            load_weights(path)
        except ZooError:
            pass


# -- W9-W12: fitting weights to networks ----------------------------------------------


def linear_state(**over: torch.Tensor) -> dict[str, torch.Tensor]:
    state = {"net.weight": torch.full((3, 2), 0.5), "net.bias": torch.full((3,), -1.0)}
    state.update(over)
    return state


def test_apply_weights_loads() -> None:
    net = torch.nn.Linear(2, 3)
    apply_weights({"net": net}, linear_state(), "m")
    assert torch.equal(net.weight, torch.full((3, 2), 0.5))
    assert torch.equal(net.bias, torch.full((3,), -1.0))


def test_missing_keys() -> None:
    # W9
    net = torch.nn.Linear(2, 3)
    before = net.weight.detach().clone()
    state = linear_state()
    del state["net.bias"]
    with pytest.raises(WeightsMismatchError, match=r"m: 1 of 2 weights are missing .*net\.bias"):
        apply_weights({"net": net}, state, "m")
    assert torch.equal(net.weight, before), "nothing may be loaded when the check fails"


def test_many_missing_keys_are_summarised() -> None:
    nets = {"g": torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(6)])}
    with pytest.raises(WeightsMismatchError, match=r"12 of 12 weights .*\(4 more\)") as info:
        apply_weights(nets, {}, "m")
    assert str(info.value).count("g.") == 8


def test_unexpected_keys_warn() -> None:
    # W10
    net = torch.nn.Linear(2, 3)
    with pytest.warns(UserWarning, match=r"ignoring 2 unexpected weights .*extra\.a, net\.zz"):
        apply_weights(
            {"net": net}, linear_state(**{"extra.a": torch.zeros(1), "net.zz": torch.zeros(1)}), "m"
        )
    assert torch.equal(net.bias, torch.full((3,), -1.0))


def test_shape_mismatch() -> None:
    # W11
    with pytest.raises(WeightsMismatchError) as info:
        apply_weights(
            {"net": torch.nn.Linear(2, 3)}, linear_state(**{"net.weight": torch.zeros(4, 2)}), "m"
        )
    message = str(info.value)
    assert "'net.weight' has shape (4, 2)" in message and "expects (3, 2)" in message
    assert "wrong variant or revision?" in message


def test_float_weights_are_cast_with_one_warning() -> None:
    # W12: float16 and bfloat16 into float32
    net = torch.nn.Linear(2, 3)
    state = {
        "net.weight": torch.full((3, 2), 0.5, dtype=torch.float16),
        "net.bias": torch.full((3,), -1.0, dtype=torch.bfloat16),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_weights({"net": net}, state, "m")
    assert len(caught) == 1
    assert "bfloat16 to float32" in str(caught[0].message) and "float16 to float32" in str(
        caught[0].message
    )
    assert net.weight.dtype == torch.float32 and torch.equal(net.weight, torch.full((3, 2), 0.5))


def test_casts_from_the_cards_stored_dtype_are_silent() -> None:
    # a card whose zoo.weights_dtype says float16 chose that storage: no warning for it,
    # but a tensor of another dtype in the same file is still reported
    net = torch.nn.Linear(2, 3)
    state = {
        "net.weight": torch.full((3, 2), 0.5, dtype=torch.float16),
        "net.bias": torch.full((3,), -1.0, dtype=torch.float16),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_weights({"net": net}, state, "m", stored=torch.float16)
    assert caught == []
    assert net.weight.dtype == torch.float32 and torch.equal(net.weight, torch.full((3, 2), 0.5))
    state["net.bias"] = state["net.bias"].to(torch.bfloat16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_weights({"net": net}, state, "m", stored=torch.float16)
    assert len(caught) == 1 and "1 from bfloat16 to float32" in str(caught[0].message)


@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.int8, torch.uint8, torch.bool, torch.complex64]
)
def test_non_float_into_float_is_refused(dtype: torch.dtype) -> None:
    # W12
    net = torch.nn.Linear(2, 3)
    before = net.bias.detach().clone()
    state = linear_state(**{"net.bias": torch.zeros(3, dtype=dtype)})
    with pytest.raises(WeightsMismatchError, match=rf"'net\.bias' is {str(dtype)[6:]} in the file"):
        apply_weights({"net": net}, state, "m")
    assert torch.equal(net.bias, before)


def test_integer_buffers_accept_whole_floats() -> None:
    # BatchNorm's num_batches_tracked is int64; files saved as all-float32 carry it as 3.0
    bn = torch.nn.BatchNorm1d(2)
    state = {f"bn.{k}": v.float() for k, v in bn.state_dict().items()}
    state["bn.num_batches_tracked"] = torch.tensor(3.0)
    apply_weights({"bn": bn}, state, "m")
    assert bn.num_batches_tracked.dtype == torch.int64 and int(bn.num_batches_tracked) == 3
    state["bn.num_batches_tracked"] = torch.tensor(2.5)
    with pytest.raises(WeightsMismatchError, match="num_batches_tracked"):
        apply_weights({"bn": bn}, state, "m")


# -- W13: values ------------------------------------------------------------------------


def test_scan_values(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    bad = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), float("nan")])
    save_weights(
        {"bad": bad, "half": bad.half(), "ok": torch.ones(2), "ints": torch.arange(3)}, path
    )
    assert scan_values(path) == {"bad": (2, 2), "half": (2, 2), "ints": (0, 0), "ok": (0, 0)}


# -- W16: no mmap ---------------------------------------------------------------------


def test_pread_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    monkeypatch.setenv("ZOO_LOAD_BACKEND", "pread")
    assert torch.equal(load_weights(path)["net.bias"], torch.full((3,), -1.0))
    monkeypatch.setenv("ZOO_LOAD_BACKEND", "telepathy")
    with pytest.raises(ZooError, match="ZOO_LOAD_BACKEND"):
        load_weights(path)


@pytest.mark.parametrize("code", [errno.ENODEV, errno.ENOMEM])
def test_mmap_failure_falls_back_to_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    real = safetensors.torch.load_file

    def no_mmap(filename, device="cpu", *, backend="mmap"):
        if backend == "mmap":
            raise OSError(code, os.strerror(code))
        return real(filename, device, backend=backend)

    monkeypatch.setattr(safetensors.torch, "load_file", no_mmap)
    with pytest.warns(UserWarning, match="cannot memory-map"):
        state = load_weights(path)
    assert torch.equal(state["net.weight"], torch.full((3, 2), 0.5))


# -- saving (W17) and verifying --------------------------------------------------------


def test_failed_save_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    before = path.read_bytes()

    import zoo.weights

    def disk_full(tensors, metadata=None):
        yield b"half a fi"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zoo.weights, "_serialize", disk_full)
    with pytest.raises(ResourceError, match="disk full while writing"):
        save_weights({"x": torch.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]

    def broken(tensors, metadata=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(zoo.weights, "_serialize", broken)
    with pytest.raises(RuntimeError):
        save_weights({"x": torch.zeros(1)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_save_replaces_the_inode(tmp_path: Path) -> None:
    # W17: a reader holding the old file keeps reading the old bytes
    path = tmp_path / "model.safetensors"
    save_weights({"a": torch.zeros(4)}, path)
    with path.open("rb") as reader:
        old = os.fstat(reader.fileno()).st_ino
        save_weights({"a": torch.ones(4)}, path)
        assert path.stat().st_ino != old
        assert safetensors.torch.load(reader.read())["a"].sum() == 0
    assert load_weights(path)["a"].sum() == 4


def test_save_handles_shared_memory(tmp_path: Path) -> None:
    base = torch.arange(6.0)
    path = tmp_path / "model.safetensors"
    save_weights({"a": base, "b": base, "c": base.view(2, 3)}, path)
    loaded = load_weights(path)
    assert torch.equal(loaded["c"], base.view(2, 3))


def test_verify_files(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    good = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
    verify_files(tmp_path, {"model.safetensors": good}, "m")

    with pytest.raises(
        IntegrityError, match=r"other\.safetensors of m is missing .*zoo pull --force m"
    ):
        verify_files(tmp_path, {"other.safetensors": good}, "m", "hub")
    wrong_size = FileEntry(sha256=good.sha256, size=good.size + 1)
    with pytest.raises(IntegrityError, match="the card says"):
        verify_files(tmp_path, {"model.safetensors": wrong_size}, "m")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="hash mismatch"):
        verify_files(tmp_path, {"model.safetensors": good}, "m")
    for name in (
        "../model.safetensors",
        "/etc/passwd",
        "a/../../b.safetensors",
        "a//b.safetensors",
        "./model.safetensors",
        "a\\b.safetensors",
        "..",
        "",
    ):
        with pytest.raises(IntegrityError, match="escapes the model folder"):
            verify_files(tmp_path, {name: good}, "m")


def test_weights_may_live_in_subfolders(tmp_path: Path) -> None:
    """diffusers-layout repos keep each part's weights in its own folder (unet/, vae/)."""
    import shutil

    src = tmp_path / "model.safetensors"
    safetensors.torch.save_file({"w": torch.ones(3)}, str(src))
    (tmp_path / "unet").mkdir()
    shutil.copy(src, tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    entry = FileEntry(sha256=sha256_file(src), size=src.stat().st_size)
    verify_files(tmp_path, {"unet/diffusion_pytorch_model.safetensors": entry}, "m")
    with pytest.raises(IntegrityError, match="unet/missing.safetensors of m is missing"):
        verify_files(tmp_path, {"unet/missing.safetensors": entry}, "m")


def test_refuse_pickles(tmp_path: Path) -> None:
    # W8
    refuse_pickles(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02.")
    with pytest.raises(
        PickleRefusedError, match=r"pytorch_model\.bin.*only safetensors is supported"
    ):
        refuse_pickles(tmp_path)
    save_weights({"a": torch.zeros(1)}, tmp_path / "model.safetensors")
    refuse_pickles(tmp_path)


def test_cached_file_errors_point_at_pull(tmp_path: Path) -> None:
    # W1: a corrupt file in the Hub cache suggests the exact command
    snap = tmp_path / "models--org--tiny" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    path = snap / "model.safetensors"
    path.write_bytes(good_bytes()[:-3])
    with pytest.raises(IntegrityError, match=r"run `zoo pull --force hf:org/tiny`"):
        load_weights(path)


def test_saved_bytes_are_reproducible_and_standard(tmp_path: Path) -> None:
    """Same weights, same bytes, in every process; and safetensors reads them back."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from zoo.weights import save_weights\n"
        "torch.manual_seed(0)\n"
        "state = {'b.w': torch.randn(3, 2), 'a.step': torch.tensor(4.0), "
        "'c.i': torch.arange(5), 'd.u': torch.zeros(0, 3, dtype=torch.uint8), "
        "'e.h': torch.ones(2, dtype=torch.bfloat16)}\n"
        "save_weights(state, sys.argv[1], {'z': '1', 'a': '2', 'm': '3'})\n"
    )
    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for p in paths:
        subprocess.run([sys.executable, "-c", code, str(p)], check=True)
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    from safetensors import safe_open

    with safe_open(str(paths[0]), "pt") as f:
        assert f.metadata() == {"a": "2", "m": "3", "z": "1"}
        assert f.get_tensor("c.i").tolist() == [0, 1, 2, 3, 4]
        assert f.get_tensor("e.h").dtype == torch.bfloat16
        assert f.get_tensor("d.u").shape == (0, 3)
    check_file(paths[0])


def test_keys_of_another_layout_name_the_cards_family() -> None:  # issue 14.6
    net = torch.nn.Linear(2, 3)
    state = {"body.0.weight": torch.zeros(3, 2), "body.0.bias": torch.zeros(3)}
    with pytest.raises(WeightsMismatchError) as info:
        apply_weights({"net": net}, state, "m", family="wgan")
    text = str(info.value)
    assert "the card names family 'wgan'" in text
    assert "these weights have keys like body.0.bias, body.0.weight" in text
    assert "(are they another family's?)" in text
    # a file that only lacks keys is not another layout: the usual message
    with pytest.raises(WeightsMismatchError, match="another model, variant or revision"):
        apply_weights({"net": net}, {"net.weight": torch.zeros(3, 2)}, "m", family="wgan")


def _copy_model(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_weights_under_another_familys_card(tiny_dcgan: Path, tmp_path: Path) -> None:
    from tests.conftest import run_zoo

    folder = _copy_model(tiny_dcgan, tmp_path / "m")
    readme = folder / "README.md"
    readme.write_text(readme.read_text().replace("family: dcgan", "family: cgan"))
    proc = run_zoo("sample", str(folder), "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "the card names family 'cgan'" in proc.stderr
    assert "keys like generator.net." in proc.stderr


def test_pickles_beside_safetensors_are_named_once(tiny_dcgan: Path, tmp_path: Path) -> None:
    from tests.conftest import run_zoo

    folder = _copy_model(tiny_dcgan, tmp_path / "m")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02.")
    (folder / "extra.ckpt").write_bytes(b"\x80\x02.")
    proc = run_zoo("sample", str(folder), "-n", "2", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 0, proc.stderr
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("zoo: note:")]
    assert notes == [
        f"zoo: note: extra.ckpt, pytorch_model.bin in {folder} ignored"
        " (the zoo loads only the card's safetensors)"
    ]
    (folder / "pytorch_model.bin").unlink()
    (folder / "extra.ckpt").unlink()
    proc = run_zoo("sample", str(folder), "-o", str(tmp_path / "y.png"))
    assert proc.returncode == 0 and "note" not in proc.stderr


@pytest.mark.parametrize(
    "source,advice",
    [
        ("hub", "run `zoo pull --force hf:org/m`"),
        ("embedded", "reinstall the zoo (`pip install --force-reinstall zoo`)"),
        ("local", "restore the file from where the model came from, or train the model again"),
    ],
)
def test_repair_advice_fits_the_source(tmp_path: Path, source: str, advice: str) -> None:
    # issue 14.10: `zoo pull` cannot repair a shipped model or a local folder
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    good = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
    with pytest.raises(IntegrityError) as missing:
        verify_files(tmp_path, {"gone.safetensors": good}, "hf:org/m", source)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError) as damaged:
        verify_files(tmp_path, {"model.safetensors": good}, "hf:org/m", source)
    for err in (missing, damaged):
        assert str(err.value).endswith(advice), str(err.value)
        assert source == "hub" or "zoo pull" not in str(err.value)


def test_git_lfs_pointer_is_named(tmp_path: Path) -> None:  # issue 14.11
    path = tmp_path / "model.safetensors"
    save_weights(linear_state(), path)
    good = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
    path.write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{good.sha256}\nsize {good.size}\n"
    )
    with pytest.raises(IntegrityError) as info:
        verify_files(tmp_path, {"model.safetensors": good}, "m", "local")
    text = str(info.value)
    assert "model.safetensors of m is a git-lfs pointer, not weights" in text
    assert f"run `git lfs pull` in {tmp_path}" in text
    assert "bytes" not in text  # not the generic size message


def test_damaged_local_folder_is_not_sent_to_zoo_pull(tiny_dcgan: Path, tmp_path: Path) -> None:
    from tests.conftest import run_zoo

    folder = _copy_model(tiny_dcgan, tmp_path / "m")
    weights_file = folder / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:-4])
    proc = run_zoo("sample", str(folder), "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "train the model again" in proc.stderr and "zoo pull" not in proc.stderr
