"""The README's model table is written from the registry (scripts/readme_tables.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "readme_tables.py"


@pytest.fixture(scope="module")
def tables() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_tables", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(readme: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--readme", str(readme)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_model_table_is_what_the_registry_says(tmp_path: Path) -> None:
    proc = _check(ROOT / "README.md")
    assert proc.returncode == 0, proc.stderr
    drifted = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(ln for ln in text.splitlines() if ln.startswith("| `dcgan-digits` |"))
    assert "`--truncation`" in row
    drifted.write_text(text.replace(row, row.replace("`--truncation`", "-")), encoding="utf-8")
    proc = _check(drifted)
    assert proc.returncode == 1 and "run `python scripts/readme_tables.py`" in proc.stderr


def test_every_option_of_a_model_is_in_its_row(tables: ModuleType) -> None:
    """Each option a model takes with its default sampler appears in its row's options."""
    from zoo.catalog import list_models, option_names, resolve

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    _, rows = tables.parse_table(text[text.index(tables.BEGIN) : text.index(tables.END)])
    for m in list_models():
        if m["plugin"] != "cards" or m["kind"] not in tables.KINDS:
            continue
        cell = rows[m["id"]]["options"]
        for name in option_names(resolve(m["id"], download=False)):
            flag = "--" + name.replace("_", "-")
            assert f"`{flag}" in cell or f"/--no-{name}" in cell, (m["id"], flag, cell)


def test_rewrite_keeps_hand_cells_restores_rows_and_drops_unknown_models(
    tables: ModuleType,
) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    gan = next(i for i, ln in enumerate(lines) if ln.startswith("| `gan-digits` |"))
    dcgan = next(i for i, ln in enumerate(lines) if ln.startswith("| `dcgan-digits` |"))
    cells = tables._cells(lines[dcgan])
    cells[6] = "99.9 (by hand)"  # FID: kept
    cells[4] = "`--made-up`"  # options: generated
    lines[dcgan] = tables._row(cells)
    ghost = "| `ghost-digits` | `ghost` | - | - | - | 1k | - | - |"
    lines[gan] = ghost  # a model that is not registered, in place of one that is
    new = tables.rewrite("\n".join(lines) + "\n")
    _, rows = tables.parse_table(new[new.index(tables.BEGIN) : new.index(tables.END)])
    assert "ghost-digits" not in rows and "gan-digits" in rows
    assert rows["dcgan-digits"]["FID ↓"] == "99.9 (by hand)"
    assert rows["dcgan-digits"]["options"] == "`--truncation`"
    assert rows["gan-digits"]["what it is"].startswith("the original generative adversarial")
