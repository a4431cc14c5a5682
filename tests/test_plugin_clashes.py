"""Plugins that claim names others hold, allow-lists, and errors raised in a plugin's code.

As in test_plugins.py, the third-party plugins are a fake distribution (a
`*.dist-info/` folder with entry_points.txt, the modules beside it) put on the
path, so `importlib.metadata` finds them as it finds pip-installed plugins.

`aaa-dcgan` sorts before the built-in `dcgan` and registers the built-ins'
family, sampler, dataset and model id: each claim must be refused, with the
built-in untouched. `tp-b` and `tp-a` (listed in that order) both register
the family `shared`. `boom` is a family whose generator raises while sampling.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_plugins import model_folder, plugins_json, run, write_dist

__all__ = ["model_folder"]  # the fixture, shared with test_plugins.py

MODULES = {
    "fake_clash_dcgan.py": """
from zoo.registry import hookimpl
from zoo.registry.schemas import DatasetSpec, FamilySpec, ModelSpec, SamplerSpec

@hookimpl
def register_families(register):
    register(FamilySpec(name="dcgan", process="one-shot", capabilities=("unconditional",),
                        generator="fake_clash_dcgan:Nothing"))

@hookimpl
def register_samplers(register):
    register(SamplerSpec(name="one-shot", process="one-shot", sampler="fake_clash_dcgan:Nothing"))

@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="digits", loader="fake_clash_dcgan:Nothing"))

@hookimpl
def register_models(register):
    register(ModelSpec(id="dcgan-digits", path=MODEL))
    register(ModelSpec(id="aaa-own", path=MODEL))
""",
    "fake_tp_a.py": """
from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec

@hookimpl
def register_families(register):
    register(FamilySpec(name="shared", process="one-shot", capabilities=("unconditional",),
                        generator="zoo.plugins.gan.model:GANGenerator"))
""",
    "fake_tp_b.py": """
from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec

@hookimpl
def register_families(register):
    register(FamilySpec(name="shared", process="one-shot", capabilities=("unconditional",),
                        generator="zoo.plugins.gan.model:GANGenerator"))
""",
    "fake_boom/__init__.py": """
from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec, ModelSpec

@hookimpl
def register_families(register):
    for name, cls in (("boomgan", "BoomGenerator"), ("politegan", "PoliteGenerator")):
        register(FamilySpec(name=name, process="one-shot", capabilities=("unconditional",),
                            generator=f"fake_boom.model:{cls}"))

@hookimpl
def register_models(register):
    register(ModelSpec(id="boom-model", path=BOOM))
    register(ModelSpec(id="polite-model", path=POLITE))
""",
    "fake_boom/model.py": """
from zoo.plugins.gan.model import GANGenerator
from zoo.registry.errors import RequestError

def mix(z):
    raise RuntimeError("mixing table has no row 7 (fake)")

class BoomGenerator(GANGenerator):
    def generate(self, z, conditions):
        return mix(z)

class PoliteGenerator(GANGenerator):
    def generate(self, z, conditions):
        raise RequestError("the polite family draws nothing; use another model")
""",
}

# entry-point name -> module; tp-b is written first, tp-a must still win
ENTRY_POINTS = {
    "tp-b": "fake_tp_b",
    "tp-a": "fake_tp_a",
    "aaa-dcgan": "fake_clash_dcgan",
    "boom": "fake_boom",
}


def family_copy(source: Path, dest: Path, family: str) -> Path:
    """A copy of a model folder whose card names another family."""
    shutil.copytree(source, dest)
    card = dest / "README.md"
    text = card.read_text()
    assert "\n  family: gan\n" in text
    card.write_text(text.replace("\n  family: gan\n", f"\n  family: {family}\n"))
    return dest


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_folder: Path) -> str:
    root = tmp_path_factory.mktemp("clash-plugins")
    write_dist(root, "clashplug", "1.0", ENTRY_POINTS)
    boom = family_copy(model_folder, root / "models" / "boom", "boomgan")
    polite = family_copy(model_folder, root / "models" / "polite", "politegan")
    for name, source in MODULES.items():
        code = source.replace("MODEL", repr(str(model_folder)))
        code = code.replace("BOOM", repr(str(boom))).replace("POLITE", repr(str(polite)))
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text(code.lstrip())
    return str(root)


@pytest.fixture(scope="module")
def plugins(site: str) -> dict[str, dict]:
    return plugins_json(site)[0]


# -- a third-party plugin cannot take a built-in's names --------------------------------


def test_builtin_family_sampler_dataset_and_model_stay_builtin(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoo.registry.discovery import Registry

    monkeypatch.syspath_prepend(site)
    monkeypatch.delenv("ZOO_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    reg = Registry.discover()
    assert reg.plugins["aaa-dcgan"].distribution == "clashplug"  # really loaded
    assert reg.families["dcgan"].plugin == "dcgan"
    assert reg.families["dcgan"].generator.startswith("zoo.plugins.dcgan.")
    assert reg.samplers["one-shot"].plugin == "samplers"
    assert reg.datasets["digits"].plugin == "datasets"
    assert [s.plugin for s in reg.models["dcgan-digits"]] == ["cards"]
    assert reg.model("dcgan-digits").plugin == "cards"
    assert [s.plugin for s in reg.models["aaa-own"]] == ["aaa-dcgan"]  # its other claims count
    assert reg.plugins["dcgan"].status == "ok" and reg.plugins["dcgan"].errors == []
    assert reg.plugins["aaa-dcgan"].status == "clash"


def test_builtin_model_samples_the_same_bytes_beside_the_clashing_plugin(
    site: str, tmp_path: Path
) -> None:
    beside, alone = tmp_path / "beside.png", tmp_path / "alone.png"
    proc = run("sample", "dcgan-digits", "-n", "2", "-o", str(beside), path=site)
    assert proc.returncode == 0, proc.stderr
    assert "'aaa-dcgan'" in proc.stderr and "clashes" in proc.stderr  # visible, not silent
    proc = run("sample", "dcgan-digits", "-n", "2", "-o", str(alone), path="")
    assert proc.returncode == 0, proc.stderr
    assert beside.read_bytes() == alone.read_bytes()


def test_plugins_json_reports_the_clash_on_the_newcomer(plugins: dict[str, dict]) -> None:
    for builtin in ("dcgan", "samplers", "datasets", "cards"):
        assert plugins[builtin]["status"] == "ok" and plugins[builtin]["errors"] == []
        assert plugins[builtin]["builtin"] is True
    p = plugins["aaa-dcgan"]
    assert p["status"] == "clash" and p["builtin"] is False
    claims = {
        "family 'dcgan'": "'dcgan'",
        "sampler 'one-shot'": "'samplers'",
        "dataset 'digits'": "'datasets'",
        "model id 'dcgan-digits'": "'cards'",
    }
    for claim, holder in claims.items():
        hits = [e for e in p["errors"] if claim in e]
        assert len(hits) == 1, (claim, p["errors"])
        assert "'aaa-dcgan'" in hits[0] and f"built-in plugin {holder}" in hits[0], hits[0]
        assert f"{holder} keeps it" in hits[0], hits[0]
    assert len(p["errors"]) == len(claims)
    assert p["registered"] == {"models": ["aaa-own"]}


def test_plugins_table_shows_the_clash(site: str) -> None:
    proc = run("plugins", path=site)
    assert proc.returncode == 0, proc.stderr
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("aaa-dcgan "))
    assert row.split()[1] == "clash", row
    assert "! aaa-dcgan: plugin 'aaa-dcgan' and built-in plugin 'dcgan'" in proc.stdout


def test_an_entry_point_named_like_a_builtin_does_not_replace_it(tmp_path: Path) -> None:
    # a distribution ahead of zoo's on the path, so its entry point is seen first
    write_dist(tmp_path, "namedplug", "1.0", {"dcgan": "fake_named_dcgan"})
    (tmp_path / "fake_named_dcgan.py").write_text("# registers nothing\n")
    # run elsewhere than the checkout, whose zoo.egg-info would come first on the path
    proc = run("plugins", "--json", path=str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plugins, stderr = {p["name"]: p for p in json.loads(proc.stdout)}, proc.stderr
    assert plugins["dcgan"]["distribution"] == "zoo", plugins["dcgan"]
    assert plugins["dcgan"]["registered"] == {"families": ["dcgan"]}
    warning = [ln for ln in stderr.splitlines() if "plugin name 'dcgan'" in ln]
    assert len(warning) == 1 and "zoo" in warning[0] and "namedplug" in warning[0], stderr


def test_between_third_party_plugins_the_first_in_name_order_keeps_it(
    plugins: dict[str, dict],
) -> None:
    assert plugins["tp-a"]["status"] == "ok"
    assert plugins["tp-a"]["registered"] == {"families": ["shared"]}
    b = plugins["tp-b"]
    assert b["status"] == "clash" and b["registered"] == {}
    assert len(b["errors"]) == 1, b
    assert "family 'shared'" in b["errors"][0] and "'tp-a' keeps it" in b["errors"][0], b


def test_strict_mode_fails_on_a_clash_in_one_line(site: str) -> None:
    proc = run("list", path=site, ZOO_STRICT_PLUGINS="1", ZOO_LOAD_PLUGINS="aaa-dcgan,dcgan")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("zoo: plugin 'aaa-dcgan' (clashplug 1.0) clashes:"), lines[0]
    assert "built-in plugin 'dcgan'" in lines[0], lines[0]


# -- allow-lists keep the infrastructure; unknown names are pointed out ------------------


def test_allowing_one_family_keeps_samplers_datasets_and_its_shipped_models(
    site: str, tmp_path: Path
) -> None:
    plugins, stderr = plugins_json(site, ZOO_LOAD_PLUGINS="dcgan")
    ok = {name for name, p in plugins.items() if p["status"] == "ok"}
    assert ok == {"dcgan", "samplers", "datasets", "cards"}, ok
    assert plugins["cards"]["registered"] == {"models": ["dcgan-digits"]}
    assert stderr == ""
    proc = run("list", "--json", path=site, ZOO_LOAD_PLUGINS="dcgan")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == ["dcgan-digits"]
    out = tmp_path / "x.png"
    proc = run(
        "sample", "dcgan-digits", "-n", "2", "-o", str(out), path=site, ZOO_LOAD_PLUGINS="dcgan"
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_a_shipped_model_of_a_family_left_out_names_the_family(site: str, tmp_path: Path) -> None:
    proc = run(
        "sample", "gan-digits", "-o", str(tmp_path / "x.png"), path=site, ZOO_LOAD_PLUGINS="dcgan"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "family 'gan'" in proc.stderr and "ZOO_LOAD_PLUGINS" in proc.stderr, proc.stderr


def test_disabling_the_infrastructure_still_works(site: str) -> None:
    plugins, _ = plugins_json(site, ZOO_LOAD_PLUGINS="dcgan", ZOO_DISABLE_PLUGINS="samplers")
    assert plugins["samplers"]["status"] == "disabled"
    assert plugins["datasets"]["status"] == "ok"


@pytest.mark.parametrize(
    ("var", "typo", "meant"),
    [("ZOO_LOAD_PLUGINS", "dcgna", "dcgan"), ("ZOO_DISABLE_PLUGINS", "aaa-dcgn", "aaa-dcgan")],
)
def test_unknown_plugin_name_warns_with_a_suggestion(
    site: str, var: str, typo: str, meant: str
) -> None:
    _, stderr = plugins_json(site, **{var: f"dcgan,{typo}"})
    lines = [ln for ln in stderr.splitlines() if typo in ln]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"zoo: warning: {var}: unknown plugin '{typo}'"), lines[0]
    assert f"did you mean '{meant}'" in lines[0], lines[0]


# -- errors raised in a plugin's code ----------------------------------------------------


def test_internal_error_in_a_plugin_names_it_and_its_distribution(
    site: str, tmp_path: Path
) -> None:
    proc = run("sample", "boom-model", "-o", str(tmp_path / "x.png"), path=site)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("zoo: internal error in plugin 'boom' (clashplug 1.0): RuntimeError:")
    assert "mixing table has no row 7 (fake)" in line and "--debug" in line, line


def test_a_zoo_error_from_a_plugin_stays_a_user_error(site: str, tmp_path: Path) -> None:
    proc = run("sample", "polite-model", "-o", str(tmp_path / "x.png"), path=site)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "zoo: the polite family draws nothing; use another model"
    )


def test_internal_error_outside_plugins_names_no_plugin() -> None:
    from zoo.cli import _plugin_at_fault
    from zoo.registry.discovery import get_registry

    get_registry()
    try:
        {}["missing"]
    except KeyError as err:
        assert _plugin_at_fault(err) is None
    try:
        get_registry().model("no such model at all!")
    except Exception as err:  # raised in zoo.registry, not in a plugin
        assert _plugin_at_fault(err) is None


# -- --debug before or after the command -----------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--debug", "sample", "boom-model"),
        ("sample", "boom-model", "--debug"),
        ("sample", "--debug", "boom-model"),
    ],
)
def test_debug_shows_the_traceback_in_either_place(
    site: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    proc = run(*args, "-o", str(tmp_path / "x.png"), path=site)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and "fake_boom/model.py" in proc.stderr, proc.stderr
    assert "RuntimeError: mixing table has no row 7 (fake)" in proc.stderr


def test_debug_after_the_command_shows_a_user_error_traceback(site: str) -> None:
    proc = run("info", "nope-model", "--debug", path=site)
    assert proc.returncode == 1 and "Traceback" in proc.stderr, proc.stderr
    assert "UnknownModelError: unknown model 'nope-model'" in proc.stderr
