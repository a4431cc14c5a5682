"""Plugin isolation through real entry points (RELIABILITY.md rows P1-P9).

Fake distributions are written into temporary folders (a `*.dist-info/` with
METADATA and entry_points.txt, the plugin modules beside it) and put on
PYTHONPATH, so `importlib.metadata` finds them exactly as it finds pip-installed
plugins. The CLI then runs in a fresh process; nothing of ours is mocked.

One folder holds every kind of faulty plugin at once, next to a good one, so
each test also shows that the faults do not hurt each other or the good plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# plugin module name -> source; MODEL is replaced by the path of a real model folder
MODULES = {
    "fake_good": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="good-model", path=MODEL))
""",
    "fake_broken": """
raise ImportError("needs libfoo >= 2 (fake)")
""",
    "fake_exiting": """
import sys
sys.exit(3)
""",
    "fake_raising": """
from zoo.registry import hookimpl

@hookimpl
def register_models(register):
    raise RuntimeError("model index unreachable")
""",
    "fake_malformed": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="malformed-before", path=MODEL))
    register({"id": "Not A Valid Id!", "path": MODEL})
    register(ModelSpec(id="malformed-after", path=MODEL))
""",
    "fake_alpha": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="dup-id", path=MODEL))
""",
    "fake_beta": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="dup-id", path=MODEL))
""",
    "fake_future": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

ZOO_API = 99

@hookimpl
def register_models(register):
    register(ModelSpec(id="future-model", path=MODEL))
""",
    "fake_typo": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_model(register):
    register(ModelSpec(id="typo-model", path=MODEL))
""",
    "fake_badsig": """
from zoo.registry import hookimpl

@hookimpl
def register_models(callback):
    pass
""",
    "fake_same_a": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="same-a", path=MODEL))
""",
    "fake_same_b": """
from zoo.registry import hookimpl
from zoo.registry.schemas import ModelSpec

@hookimpl
def register_models(register):
    register(ModelSpec(id="same-b", path=MODEL))
""",
}

# distribution -> (version, folder, {entry-point name: module})
DISTS = {
    "fakeplug": (
        "1.0",
        "site1",
        {
            "good": "fake_good",
            "broken": "fake_broken",
            "exiting": "fake_exiting",
            "raising": "fake_raising",
            "malformed": "fake_malformed",
            "alpha": "fake_alpha",
            "beta": "fake_beta",
            "future": "fake_future",
            "typo": "fake_typo",
            "badsig": "fake_badsig",
            "same": "fake_same_a",
        },
    ),
    # a second distribution, later on the path, reusing the entry-point name "same" (P5)
    "otherplug": ("2.0", "site2", {"same": "fake_same_b"}),
}
FAKE = set(DISTS["fakeplug"][2])


def write_dist(site: Path, name: str, version: str, eps: dict[str, str]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{ep} = {module}\n" for ep, module in eps.items())
    (info / "entry_points.txt").write_text(f"[zoo.plugins]\n{lines}")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, untrained gan model folder at the tiny preset (weights, config, card)."""
    import torch

    from zoo.registry.discovery import get_registry, load_object
    from zoo.train import write_model_folder

    torch.manual_seed(0)
    gen_cls = load_object(get_registry().family("gan").generator)
    config = gen_cls.config_class.preset("tiny")
    out = tmp_path_factory.mktemp("model") / "gan-untrained"
    write_model_folder(out, "gan", "digits", config, gen_cls(config), {"steps": 0}, sampling={})
    return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, model_folder: Path) -> str:
    """The fake distributions; returns the PYTHONPATH that makes them visible."""
    root = tmp_path_factory.mktemp("plugins")
    for name, (version, folder, eps) in DISTS.items():
        write_dist(root / folder, name, version, eps)
    for module, source in MODULES.items():
        folder = "site2" if module == "fake_same_b" else "site1"
        code = source.replace("MODEL", repr(str(model_folder)))
        (root / folder / f"{module}.py").write_text(code.lstrip())
    return os.pathsep.join([str(root / "site1"), str(root / "site2")])


def run(
    *args: str, path: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m zoo ARGS` in a fresh process with the fake plugins on the path."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    full.update(PYTHONPATH=path, HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", **env)
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


def plugins_json(path: str, **env: str) -> tuple[dict[str, dict], str]:
    proc = run("plugins", "--json", path=path, **env)
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}, proc.stderr


def list_json(path: str, **env: str) -> tuple[dict[str, dict], str]:
    proc = run("list", "--json", path=path, **env)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in json.loads(proc.stdout)}, proc.stderr


@pytest.fixture(scope="module")
def plugins(sites: str) -> dict[str, dict]:
    return plugins_json(sites)[0]


@pytest.fixture(scope="module")
def listing(sites: str) -> tuple[dict[str, dict], str]:
    return list_json(sites)


def assert_clean_exit_2(proc: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


# -- P1: a plugin that fails to import ---------------------------------------------


def test_import_error_is_shown_as_broken(plugins: dict[str, dict]) -> None:
    p = plugins["broken"]
    assert p["status"] == "broken"
    assert any("needs libfoo >= 2 (fake)" in e and "ImportError" in e for e in p["errors"]), p
    assert p["distribution"] == "fakeplug" and p["version"] == "1.0"  # P9


def test_plugin_calling_sys_exit_on_import_is_broken_not_fatal(plugins: dict[str, dict]) -> None:
    assert plugins["exiting"]["status"] == "broken"
    assert any("SystemExit" in e for e in plugins["exiting"]["errors"]), plugins["exiting"]


def test_broken_plugin_warns_once_on_stderr_naming_it(listing: tuple[dict, str]) -> None:
    _, stderr = listing
    lines = [ln for ln in stderr.splitlines() if "'broken'" in ln]
    assert len(lines) == 1, stderr
    assert "fakeplug" in lines[0] and "1.0" in lines[0] and "needs libfoo" in lines[0], lines[0]
    assert "Traceback" not in stderr


def test_list_works_beside_broken_plugins(listing: tuple[dict, str]) -> None:
    rows, _ = listing
    assert rows["good-model"]["family"] == "gan" and rows["good-model"]["plugin"] == "good"
    assert "error" not in rows["good-model"], rows["good-model"]


def test_sampling_works_beside_broken_plugins(sites: str, tmp_path: Path) -> None:
    out = tmp_path / "good.png"
    proc = run("sample", "good-model", "-n", "2", "-o", str(out), path=sites)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_builtin_models_sample_beside_broken_plugins(sites: str, tmp_path: Path) -> None:
    from zoo.catalog import list_models
    from zoo.registry.discovery import get_registry

    # a built-in model a bare `zoo sample` can draw (no prompt, image or autoencoder)
    shipped = sorted(
        r["id"]
        for r in list_models(registry=get_registry())
        if r["plugin"] == "cards" and r["capabilities"] == ["unconditional"] and r["process"]
    )
    assert "dcgan-digits" in shipped, shipped
    out = tmp_path / "builtin.png"
    proc = run("sample", shipped[0], "-n", "2", "-o", str(out), path=sites)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_strict_mode_makes_a_broken_plugin_fatal(sites: str) -> None:
    proc = run("list", path=sites, ZOO_STRICT_PLUGINS="1", ZOO_LOAD_PLUGINS="broken,good,gan")
    assert_clean_exit_2(proc, "'broken'", "needs libfoo >= 2 (fake)")
    assert proc.stdout == ""


def test_strict_mode_makes_a_malformed_spec_fatal(sites: str) -> None:
    proc = run("list", path=sites, ZOO_STRICT_PLUGINS="1", ZOO_LOAD_PLUGINS="malformed,gan")
    assert_clean_exit_2(proc, "'malformed'", "Not A Valid Id!")
    lines = [ln for ln in proc.stderr.splitlines() if "malformed" in ln]
    assert len(lines) == 1 and lines[0].startswith("zoo: plugin 'malformed'"), proc.stderr


def test_strict_mode_passes_when_every_plugin_loads(sites: str) -> None:
    proc = run("list", "--json", path=sites, ZOO_STRICT_PLUGINS="1", ZOO_LOAD_PLUGINS="good,gan")
    assert proc.returncode == 0, proc.stderr
    # the allow-list keeps the shipped models of the families it loads (`cards`)
    assert [r["id"] for r in json.loads(proc.stdout)] == ["gan-digits", "good-model"]


# -- P2: a plugin that raises inside a hook ------------------------------------------


def test_raising_hook_is_reported_and_others_still_register(
    plugins: dict[str, dict], listing: tuple[dict, str]
) -> None:
    p = plugins["raising"]
    assert p["status"] == "broken"
    assert any(
        "register_models" in e and "RuntimeError: model index unreachable" in e for e in p["errors"]
    ), p
    rows, _ = listing
    assert {"good-model", "malformed-before", "same-a"} <= set(rows)
    # built-in plugins, loaded through the same group, are untouched
    assert plugins["gan"]["status"] == "ok" and plugins["samplers"]["status"] == "ok"


# -- P6: a malformed spec ----------------------------------------------------------


def test_malformed_spec_rejects_only_that_model(
    plugins: dict[str, dict], listing: tuple[dict, str]
) -> None:
    p = plugins["malformed"]
    assert any("malformed spec 'Not A Valid Id!' (id:" in e for e in p["errors"]), p
    rows, stderr = listing
    assert "malformed-before" in rows and "malformed-after" in rows, sorted(rows)
    assert "Not A Valid Id!" not in rows
    assert "'malformed'" in stderr, stderr  # the plugin is named


# -- P4: two plugins, one model id ---------------------------------------------------


def test_duplicate_model_id_is_listed_under_both_plugins(listing: tuple[dict, str]) -> None:
    rows, _ = listing
    assert "dup-id" not in rows
    for who, other in (("alpha", "beta"), ("beta", "alpha")):
        row = rows[f"{who}:dup-id"]
        assert row["plugin"] == who and other in row["error"], row


def test_sampling_an_ambiguous_id_fails_naming_both_plugins(sites: str, tmp_path: Path) -> None:
    out = tmp_path / "dup.png"
    proc = run("sample", "dup-id", "-o", str(out), path=sites)
    assert_clean_exit_2(proc, "'alpha'", "'beta'", "alpha:dup-id")
    assert not out.exists()


def test_namespaced_id_picks_one_plugin_and_redraws(sites: str, tmp_path: Path) -> None:
    from zoo.images import read_meta

    out, again = tmp_path / "alpha.png", tmp_path / "again.png"
    proc = run("sample", "alpha:dup-id", "-n", "2", "-o", str(out), path=sites)
    assert proc.returncode == 0, proc.stderr
    assert read_meta(out)["model"] == "alpha:dup-id"  # not the ambiguous bare id
    proc = run("sample", "--from", str(out), "-o", str(again), path=sites)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == out.read_bytes()


# -- P5: two distributions, one entry-point name -----------------------------------


def test_same_entry_point_name_in_two_distributions_warns_naming_both(sites: str) -> None:
    plugins, stderr = plugins_json(sites)
    assert plugins["same"]["distribution"] == "fakeplug"  # the first on the path wins
    warning = [ln for ln in stderr.splitlines() if "'same'" in ln]
    assert warning, stderr
    assert "fakeplug" in warning[0] and "otherplug" in warning[0], warning
    rows, _ = list_json(sites)
    assert "same-a" in rows and "same-b" not in rows


# -- P7: a plugin written for a newer hook API ----------------------------------------


def test_plugin_asking_for_a_newer_api_is_refused(
    plugins: dict[str, dict], listing: tuple[dict, str]
) -> None:
    p = plugins["future"]
    assert p["status"] == "broken"
    assert any("requires zoo plugin API v99" in e for e in p["errors"]), p
    rows, stderr = listing
    assert "future-model" not in rows  # its hooks were never called
    assert "'future'" in stderr and "v99" in stderr


# -- hooks the zoo does not know -------------------------------------------------------


def test_misspelled_hook_is_reported_not_ignored(
    plugins: dict[str, dict], listing: tuple[dict, str]
) -> None:
    p = plugins["typo"]
    assert p["status"] == "broken"
    assert any("register_model" in e and "unknown hook" in e for e in p["errors"]), p
    assert "typo-model" not in listing[0]


def test_hook_with_wrong_arguments_is_reported(plugins: dict[str, dict]) -> None:
    p = plugins["badsig"]
    assert p["status"] == "broken"
    assert any("register_models" in e and "'callback'" in e for e in p["errors"]), p  # the cause


# -- P8: turning plugins off ---------------------------------------------------------


def test_disable_plugins_skips_them_without_importing(sites: str) -> None:
    plugins, stderr = plugins_json(sites, ZOO_DISABLE_PLUGINS="broken, raising")
    for name in ("broken", "raising"):
        assert plugins[name]["status"] == "disabled" and plugins[name]["errors"] == []
    assert "needs libfoo" not in stderr and "model index unreachable" not in stderr
    assert plugins["good"]["status"] == "ok" and plugins["gan"]["status"] == "ok"


def test_load_plugins_empty_loads_none(sites: str) -> None:
    plugins, stderr = plugins_json(sites, ZOO_LOAD_PLUGINS="")
    assert {p["status"] for p in plugins.values()} == {"disabled"}
    assert FAKE | {"gan", "cards", "samplers"} <= set(plugins)
    assert "is broken" not in stderr, stderr  # nothing was imported
    rows, _ = list_json(sites, ZOO_LOAD_PLUGINS="")
    assert rows == {}


def test_load_plugins_is_an_allowlist(sites: str) -> None:
    plugins, stderr = plugins_json(sites, ZOO_LOAD_PLUGINS="good,gan")
    ok = {name for name, p in plugins.items() if p["status"] == "ok"}
    # plus the infrastructure the families need: samplers, datasets, shipped models
    assert ok == {"good", "gan", "samplers", "datasets", "cards"}
    assert "needs libfoo" not in stderr
    rows, _ = list_json(sites, ZOO_LOAD_PLUGINS="good,gan")
    assert set(rows) == {"good-model", "gan-digits"} and rows["good-model"]["family"] == "gan"
    assert rows["gan-digits"]["plugin"] == "cards"


# -- P3: registering stays light -----------------------------------------------------


def test_help_list_and_plugins_do_not_import_torch(sites: str) -> None:
    code = """
import sys
from zoo.cli import main
for args in (["--help"], ["list"], ["plugins"]):
    try:
        main(args)
    except SystemExit as e:
        assert e.code in (0, None), (args, e.code)
print("TORCH", "torch" in sys.modules)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(PYTHONPATH=sites, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "good-model" in proc.stdout  # the plugins were really loaded
    assert proc.stdout.strip().splitlines()[-1] == "TORCH False", proc.stdout[-500:]
