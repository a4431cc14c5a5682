"""The example plugin as a user meets it: pip-installed, then found by the CLI and tested.

Installs examples/zoo-example-plugin into a temporary folder (`pip install --target`,
from a copy, so the source folder gets no build/ or egg-info, and the environment running
the tests is left as it was), then runs `zoo list`, `zoo sample` and the plugin's own test
suite in fresh processes that find it through PYTHONPATH, as a site folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "zoo-example-plugin"


TARGET: list[Path] = []  # where the fixture installed the plugin


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    env.pop("PYTHONPATH", None)  # the installed copy, not a source folder, must be found
    if TARGET:
        env["PYTHONPATH"] = str(TARGET[0])
    return env


def _run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout
    )


def _zoo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "zoo", *args, cwd=cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Install the example plugin from a copy of its folder; returns a scratch folder."""
    work = tmp_path_factory.mktemp("example-plugin")
    src = work / "src"
    shutil.copytree(
        PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.pyc")
    )
    # offline and fast with this environment's setuptools; else pip fetches it to build
    offline = ["--no-build-isolation", "--no-index"] if find_spec("setuptools") else []
    t0 = time.perf_counter()
    proc = _run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        *offline,
        "--target",
        str(work / "site"),
        "--disable-pip-version-check",
        "-q",
        str(src),
        cwd=work,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(f"pip install took {time.perf_counter() - t0:.1f} s")
    TARGET[:] = [work / "site"]
    yield work
    TARGET.clear()


def test_plugin_models_are_listed(installed: Path) -> None:
    proc = _zoo("list", "--json", cwd=installed)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert "checkers-demo" in rows, rows
    row = rows["checkers-demo"]
    assert row["plugin"] == "checkers" and row["family"] == "checkers", row
    assert row["process"] == "one-shot" and "class" in row["capabilities"], row
    assert "error" not in row, row


def test_plugin_shows_its_distribution(installed: Path) -> None:  # P9
    proc = _zoo("plugins", "--json", cwd=installed)
    assert proc.returncode == 0, proc.stderr
    plugin = {p["name"]: p for p in json.loads(proc.stdout)}["checkers"]
    assert plugin["status"] == "ok", plugin
    assert plugin["distribution"] == "zoo-example-plugin" and plugin["version"] == "0.1.0"
    assert plugin["module"] == "zoo_example_plugin"
    assert plugin["registered"] == {
        "families": ["checkers"],
        "datasets": ["checkerboards"],
        "models": ["checkers-demo"],
    }


def test_model_folder_ships_inside_the_installed_package(installed: Path) -> None:
    proc = _zoo("info", "checkers-demo", "--json", cwd=installed)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    folder = Path(info["folder"])
    assert PLUGIN not in folder.parents, f"{folder} is the source folder, not the installed copy"
    assert TARGET[0] in folder.parents, folder  # inside the installed copy
    assert {"README.md", "config.json", "model.safetensors"} <= {p.name for p in folder.iterdir()}


def test_sample_from_the_plugin_model(installed: Path) -> None:
    from PIL import Image

    out = installed / "out.png"
    out.unlink(missing_ok=True)
    proc = _zoo("sample", "checkers-demo", "-n", "4", "-o", str(out), cwd=installed)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (2 * 8 + 3, 2 * 8 + 3)  # 2x2 grid of 8x8 with 1-pixel borders
        assert json.loads(im.text["zoo"])["model"] == "checkers-demo"


def test_a_third_party_option_is_a_typed_flag_with_help(installed: Path) -> None:
    proc = _zoo("sample", "checkers-demo", "--help", cwd=installed)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "--sharpness FLOAT" in text and "scale of the decoder's logits" in text, text[-800:]
    assert "[checkers option]" in text
    # the typed flag, -O and the replay of either draw the same bytes
    a, b, c = (installed / f"{k}.png" for k in "abc")
    for path in (a, b, c):
        path.unlink(missing_ok=True)
    r1 = _zoo("sample", "checkers-demo", "--sharpness", "3", "-n", "4", "-o", str(a), cwd=installed)
    r2 = _zoo(
        "sample", "checkers-demo", "-O", "sharpness=3", "-n", "4", "-o", str(b), cwd=installed
    )
    r3 = _zoo("sample", "--from", str(a), "-o", str(c), cwd=installed)
    assert r1.returncode == r2.returncode == r3.returncode == 0, r1.stderr + r2.stderr + r3.stderr
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    plain = installed / "plain.png"
    plain.unlink(missing_ok=True)
    assert (
        _zoo("sample", "checkers-demo", "-n", "4", "-o", str(plain), cwd=installed).returncode == 0
    )
    assert plain.read_bytes() != a.read_bytes()  # the option changes the drawing
    bad = _zoo("sample", "checkers-demo", "--sharpness", "-2", cwd=installed)
    assert bad.returncode == 2 and "sharpness" in bad.stderr and "Traceback" not in bad.stderr


def test_the_plugins_own_tests_pass(installed: Path) -> None:
    t0 = time.perf_counter()
    proc = _run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(PLUGIN / "tests"),
        cwd=installed,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout, proc.stdout[-1000:]
    print(f"the plugin's tests took {time.perf_counter() - t0:.1f} s")
