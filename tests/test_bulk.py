"""Bulk generation: streamed to a folder, resumable, and the same with 2 workers as with 1."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import default_sigint, run_zoo


def files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_resume_skips_what_is_there(tiny_dcgan, tmp_path) -> None:
    out = tmp_path / "d"
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "10", "--batch-size", "4", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    first = files(out)
    assert len(first) == 10
    for name in ("000002.png", "000007.png", "000009.png"):
        (out / name).unlink()
    (out / "000004.png").write_bytes(b"half a file")  # an unreadable leftover is redrawn
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "10", "--batch-size", "4", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "4 images written, 6 already there" in proc.stdout
    assert files(out) == first


def test_other_parameters_in_the_folder_are_an_error(tiny_dcgan, tmp_path) -> None:
    out = tmp_path / "d"
    assert run_zoo("sample", str(tiny_dcgan), "-n", "2", "-o", str(out)).returncode == 0
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "2", "--truncation", "0.5", "-o", str(out))
    assert proc.returncode == 2 and "other parameters" in proc.stderr
    assert (
        run_zoo(
            "sample", str(tiny_dcgan), "-n", "2", "--truncation", "0.5", "-o", str(out), "--force"
        ).returncode
        == 0
    )


def test_two_workers_write_the_same_files_as_one(tiny_dcgan, tmp_path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert (
        run_zoo("sample", str(tiny_dcgan), "-n", "9", "--seed", "5", "-o", str(one)).returncode == 0
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "zoo",
            "sample",
            str(tiny_dcgan),
            "-n",
            "9",
            "--seed",
            "5",
            "-o",
            str(two),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "5 images written" in proc.stdout and "4 images written" in proc.stdout
    assert files(one) == files(two)


def test_grid_cannot_be_sharded(tiny_dcgan, tmp_path) -> None:
    proc = run_zoo(
        "sample",
        str(tiny_dcgan),
        "-n",
        "4",
        "-o",
        str(tmp_path / "g.png"),
        env={"WORLD_SIZE": "2", "RANK": "0"},
    )
    assert proc.returncode == 2 and "cannot be split across workers" in proc.stderr


def test_ctrl_c_stops_cleanly(tiny_dcgan, tmp_path) -> None:  # S11
    import signal
    import time

    out = tmp_path / "d"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo",
            "sample",
            str(tiny_dcgan),
            "-n",
            "100000",
            "--batch-size",
            "8",
            "-o",
            str(out),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.png"))) < 16:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-500:]
    assert "interrupted" in err or "aborted" in err
    assert "Traceback" not in err
    assert not [p for p in out.iterdir() if not p.name.endswith(".png")]  # no temp files left
    from zoo.images import read_meta

    drawn = sorted(out.glob("*.png"))
    assert all(read_meta(p)["seed"] == int(p.stem) for p in drawn)  # every file complete


def test_another_dtype_is_other_parameters(tiny_dcgan, tmp_path) -> None:  # issue 14.4
    out = tmp_path / "d"
    assert run_zoo("sample", str(tiny_dcgan), "-n", "2", "-o", str(out)).returncode == 0
    before = files(out)
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "3", "--dtype", "bfloat16", "-o", str(out))
    assert proc.returncode == 2 and "other parameters (dtype: 'float32' there" in proc.stderr
    assert files(out) == before  # nothing of the other precision was mixed in


def test_files_from_before_the_dtype_was_recorded_are_resumed(tiny_dcgan, tmp_path) -> None:
    from PIL import Image

    from zoo.images import read_meta, save_png

    out = tmp_path / "d"
    assert run_zoo("sample", str(tiny_dcgan), "-n", "2", "-o", str(out)).returncode == 0
    old = out / "000000.png"
    meta = read_meta(old)
    del meta["dtype"]
    with Image.open(old) as im:
        save_png(im.copy(), old, meta)
    proc = run_zoo("sample", str(tiny_dcgan), "-n", "3", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 image written, 2 already there" in proc.stdout


def test_resume_removes_its_own_leftover_temp_files(tiny_dcgan, tmp_path) -> None:  # issue 14.8
    import zoo
    from zoo.bulk import write_folder

    out = tmp_path / "d"
    out.mkdir()
    ours = [out / ".000001.png.k3_x9abc.tmp", out / ".000002.png.zz01.tmp"]
    others = [
        out / ".000050.png.k3x9abcd.tmp",  # a seed this request does not draw
        out / ".notes.txt.k3x9abcd.tmp",  # not a PNG of the zoo's
        out / "000001.png.k3x9abcd.tmp",  # not hidden: not a name atomic_write makes
        out / ".000001.png.tmp",  # no random part
    ]
    for path in ours + others:
        path.write_bytes(b"half")
    model = zoo.load(str(tiny_dcgan))
    written = write_folder(model, zoo.api.make_request(n=3), out, progress=False)
    assert written == 3
    assert not any(p.exists() for p in ours)
    assert all(p.read_bytes() == b"half" for p in others)
    assert sorted(p.name for p in out.glob("[0-9]*.png")) == [
        "000000.png",
        "000001.png",
        "000002.png",
    ]


def test_a_worker_removes_only_its_own_seeds_leftovers(tmp_path) -> None:
    from zoo.bulk import remove_leftovers

    for seed in range(4):
        (tmp_path / f".{seed:06d}.png.abcdefgh.tmp").write_bytes(b"")
    assert remove_leftovers(tmp_path, [0, 2]) == 2  # rank 0 of 2 workers
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".000001.png.abcdefgh.tmp",
        ".000003.png.abcdefgh.tmp",
    ]
