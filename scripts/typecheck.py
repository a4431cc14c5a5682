"""Run mypy on registry/ and zoo/ as the installed package lays them out.

The repository keeps registry/ and plugins/ beside zoo/, and setuptools maps them to
zoo.registry and zoo.plugins; mypy knows nothing of that mapping. This script builds the
installed layout out of symlinks in a temporary folder and runs mypy there (settings from
pyproject.toml), so `import zoo.registry.x` resolves to the repository's files. Plugins are
followed for types but not reported on.

    python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="zoo-mypy-") as tmp:
        pkg = Path(tmp) / "zoo"
        pkg.mkdir()
        for entry in (ROOT / "zoo").iterdir():
            if entry.name != "__pycache__":
                (pkg / entry.name).symlink_to(entry)
        (pkg / "registry").symlink_to(ROOT / "registry")
        (pkg / "plugins").symlink_to(ROOT / "plugins")
        targets = [
            str(pkg / "registry"),
            *(str(p) for p in sorted(pkg.glob("*.py"))),
            str(pkg / "cli"),
            str(pkg / "serve"),
        ]
        cmd = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            os.path.join(tmp, ".mypy_cache"),
            *sys.argv[1:],
            *targets,
        ]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        # report paths as the repository's, not the temporary layout's
        text = (proc.stdout + proc.stderr).replace(str(pkg / "registry"), "registry")
        text = text.replace(str(pkg / "plugins"), "plugins").replace(str(pkg), "zoo")
        print(text, end="")
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
