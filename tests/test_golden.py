"""Every shipped model draws the bytes recorded in tests/data/golden_samples.json.

The recorded requests (scripts/golden_samples.py) cover each model's default draw and
each of its options; a change to the contracts, the samplers or the app that moves one
pixel of one of them fails here. Re-record only for a deliberate change of a model's
images, and say why in the commit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "golden_samples", ROOT / "scripts" / "golden_samples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_shipped_model_draws_its_recorded_bytes():
    import torch

    golden = _script()
    want = json.loads(golden.GOLDEN.read_text())
    assert set(want) == {f"{m}/{name}" for m, reqs in golden.REQUESTS.items() for name, _ in reqs}
    threads = torch.get_num_threads()
    try:
        got = golden.draw_all()
    finally:
        torch.set_num_threads(threads)
    differ = sorted(k for k in want if got[k] != want[k])
    assert not differ, f"these draws changed: {differ}"


def test_every_shipped_generator_is_covered():
    golden = _script()
    from zoo.catalog import list_models

    shipped = {
        row["id"]
        for row in list_models()
        if row.get("plugin") == "cards" and row.get("process") is not None
    }
    missing = shipped - set(golden.REQUESTS)
    if missing:
        pytest.fail(f"shipped models without recorded draws: {sorted(missing)}")
