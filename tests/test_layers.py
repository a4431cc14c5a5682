"""Imports point down the layers (DESIGN.md, "Layers"), read from the source with ``ast``.

    zoo/              the app: reaches plugins only through the registry (load_object of
                      the import paths in specs), never by importing them
    plugins/<family>/ zoo.registry, zoo.plugins.nn, zoo.plugins.samplers and itself; never
                      the app (zoo, zoo.api, zoo.images, ...) nor another family
    plugins/datasets/ a plugin like a family
    plugins/nn/, plugins/samplers/   zoo.registry and each other
    registry/         zoo.registry only, and no torch at module level

and no two modules import each other at module level, however long the loop
(``zoo.cardtext`` reads the metric table from ``zoo.eval_metrics``, not from the
evaluation that writes cards).

No module is imported to check this. Imports under ``if TYPE_CHECKING:`` count for the
layers (they are still a dependency) but not for torch at module level.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("registry", "plugins", "zoo")  # folders, imported as zoo.registry, zoo.plugins, zoo
SHARED = ("nn", "samplers")  # the plugins every family may import

# Known violations in files the sampling-contracts rework is changing; each entry is
# (file, imported module). Remove an entry when its import goes: the test fails while a
# listed violation no longer exists, so this list only shrinks, to empty.
ALLOWED_PLUGIN_IMPORTS: set[tuple[str, str]] = set()  # none: keep it that way
ALLOWED_APP_IMPORTS: set[tuple[str, str]] = set()  # none: keep it that way


class Import(NamedTuple):
    file: str  # relative to the repository, e.g. "plugins/wgan/model.py"
    line: int
    module: str  # absolute, e.g. "zoo.plugins.dcgan.model"
    module_level: bool  # runs when the file is imported (not inside a function)
    type_checking: bool  # under ``if TYPE_CHECKING:``


class Violation(NamedTuple):
    file: str
    line: int
    module: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.module} ({self.rule})"


def module_name(file: str) -> str:
    """The import name of a repository file: registry/x.py -> zoo.registry.x."""
    parts = list(Path(file).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] == "zoo":
        parts.pop(0)
    return ".".join(["zoo", *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(file: str, source: str) -> list[Import]:
    """Every import statement of a file, with the absolute module(s) it names."""
    package = module_name(file)
    if not file.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(file, node.lineno, alias.name, module_level, type_checking))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # "from zoo import api" or "from zoo.plugins import dcgan" name a module each
            names = (
                [f"{base}.{a.name}" for a in node.names]
                if base in ("zoo", "zoo.plugins")
                else [base]
            )
            for name in names:
                found.append(Import(file, node.lineno, name, module_level, type_checking))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, module_level, True)
            for child in node.orelse:
                visit(child, module_level, type_checking)
            return
        lazy = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, module_level and not lazy, type_checking)

    visit(ast.parse(source, filename=file), True, False)
    return found


def _family(module: str) -> str | None:
    """zoo.plugins.<family>[...] -> family; None for modules outside zoo.plugins."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["zoo", "plugins"] and len(parts) > 2 else None


def _is_zoo(module: str) -> bool:
    return module == "zoo" or module.startswith("zoo.")


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(file: str, source: str) -> list[Violation]:
    """What in one file breaks the layer rule (see the module docstring)."""
    layer = Path(file).parts[0]
    own = _family(module_name(file)) if layer == "plugins" else None
    out = []
    for imp in imports(file, source):
        m = imp.module
        rule = None
        if layer == "registry":
            if _is_zoo(m) and not _under(m, "zoo.registry"):
                rule = "registry imports only zoo.registry"
            elif _under(m, "torch") and imp.module_level and not imp.type_checking:
                rule = "registry imports torch only inside functions or under TYPE_CHECKING"
        elif layer == "plugins" and _is_zoo(m) and not _under(m, "zoo.registry"):
            other = _family(m)
            if other is None:
                rule = "a plugin never imports the app"
            elif own in SHARED and other not in SHARED:
                rule = "plugins/nn and plugins/samplers import only zoo.registry and each other"
            elif own is None and other is not None:
                rule = "plugins/__init__.py imports only zoo.registry"
            elif own not in SHARED and other not in (*SHARED, own):
                rule = "a family imports only nn, samplers, the registry and itself"
        elif layer == "zoo" and _under(m, "zoo.plugins"):
            rule = "the app reaches plugins through the registry, never by import"
        if rule is not None:
            out.append(Violation(imp.file, imp.line, m, rule))
    return out


def scan(layers: tuple[str, ...]) -> list[Violation]:
    out = []
    for layer in layers:
        for path in sorted((ROOT / layer).rglob("*.py")):
            file = path.relative_to(ROOT).as_posix()
            out += violations(file, path.read_text(encoding="utf-8"))
    return out


def check(found: list[Violation], allowed: set[tuple[str, str]]) -> None:
    new = [v for v in found if (v.file, v.module) not in allowed]
    gone = allowed - {(v.file, v.module) for v in found}
    message = []
    if new:
        message += ["imports against the layers:", *(f"  {v}" for v in new)]
    if gone:
        message += ["allow-listed imports that no longer exist (drop them from the list):"]
        message += [f"  {file}: {module}" for file, module in sorted(gone)]
    assert not message, "\n".join(message)


def test_registry_and_plugins_import_down_the_layers() -> None:
    check(scan(("registry", "plugins")), ALLOWED_PLUGIN_IMPORTS)


def test_the_app_never_imports_a_plugin() -> None:
    check(scan(("zoo",)), ALLOWED_APP_IMPORTS)


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the modules of ``sources`` (file -> text) it imports when it is imported.

    Only module-level imports outside ``if TYPE_CHECKING:`` count; ``from package import
    submodule`` counts as importing the package.
    """
    files = {module_name(file): file for file in sources}
    return {
        module: {
            imp.module
            for imp in imports(file, sources[file])
            if imp.module_level
            and not imp.type_checking
            and imp.module in files
            and imp.module != module
        }
        for module, file in files.items()
    }


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import loop of ``graph``, each module importing the next and the first repeated
    at the end; [] if there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        return list(reversed(err.args[1]))  # graphlib lists each importer after its import
    return []


def test_no_module_level_import_cycle() -> None:
    sources = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    loop = cycle(import_graph(sources))
    assert not loop, "an import loop at module level: " + " imports ".join(loop)


# -- the checker itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "source", "expected"),
    [
        # a family: another family, the app, a dataset; its own package is fine
        (
            "plugins/wgan/model.py",
            "from zoo.plugins.dcgan.model import G\nfrom zoo.plugins.wgan.config import C\n"
            "def f():\n    import zoo\n    from zoo.api import load\n"
            "from zoo.plugins.datasets import scenes\nfrom zoo.plugins.nn.gan import x\n",
            [
                (1, "zoo.plugins.dcgan.model"),
                (4, "zoo"),
                (5, "zoo.api"),
                (6, "zoo.plugins.datasets"),
            ],
        ),
        # relative imports resolve against the file's package
        (
            "plugins/dae/train.py",
            "from ..ae.train import R\nfrom .model import M\n",
            [(1, "zoo.plugins.ae.train")],
        ),
        (
            "plugins/nn/text.py",
            "from zoo.plugins import datasets\nfrom . import gan\n",
            [(1, "zoo.plugins.datasets")],
        ),
        # registry: torch at module level (even in a class body), not in functions or TYPE_CHECKING
        (
            "registry/x.py",
            "import torch\nif TYPE_CHECKING:\n    import torch\nclass A:\n    from torch import nn\n"
            "def f():\n    import torch\nfrom zoo.plugins.nn import gan\nfrom zoo import api\n",
            [(1, "torch"), (5, "torch"), (8, "zoo.plugins.nn"), (9, "zoo.api")],
        ),
        # the app: any plugin module, the shared ones included
        (
            "zoo/data.py",
            "from zoo.plugins.datasets.folder import f\nfrom zoo.api import load\n",
            [(1, "zoo.plugins.datasets.folder")],
        ),
    ],
)
def test_the_checker_finds_each_kind_of_violation(
    file: str, source: str, expected: list[tuple[int, str]]
) -> None:
    assert [(v.line, v.module) for v in violations(file, source)] == expected


def test_the_checker_finds_an_import_cycle() -> None:
    sources = {
        "zoo/cardtext.py": "from zoo.evaluate import METRICS\n",
        "zoo/evaluate.py": "import json\nfrom zoo.eval_card import write_card\n",
        "zoo/eval_card.py": "from zoo import cardtext\n",
        # imports inside functions or under TYPE_CHECKING do not run at import time
        "zoo/api.py": (
            "def f():\n    from zoo.catalog import r\nif TYPE_CHECKING:\n    import zoo.catalog\n"
        ),
        "zoo/catalog.py": "from zoo.api import load\n",
    }
    loop = cycle(import_graph(sources))
    assert loop[0] == loop[-1] and set(zip(loop, loop[1:], strict=False)) == {
        ("zoo.cardtext", "zoo.evaluate"),
        ("zoo.evaluate", "zoo.eval_card"),
        ("zoo.eval_card", "zoo.cardtext"),
    }
    del sources["zoo/eval_card.py"]
    assert cycle(import_graph(sources)) == []
