"""Device manager: device choice, dtype policy, LRU cache under a memory budget."""

from __future__ import annotations

import pytest
import torch

from zoo.device import DeviceManager, component_bytes, seeds_for
from zoo.registry.errors import DeviceError, RequestError


def test_auto_is_cpu_here_and_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOO_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert DeviceManager.pick().type == expected
    monkeypatch.setenv("ZOO_DEVICE", "cpu")
    assert DeviceManager.pick().type == "cpu"


def test_absent_device_is_a_clear_error() -> None:  # S12
    if torch.cuda.is_available():
        assert DeviceManager.pick("cuda").type == "cuda"
    else:
        with pytest.raises(DeviceError, match="no CUDA GPU is available; use --device cpu"):
            DeviceManager.pick("cuda")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        DeviceManager.pick("tpu")


def test_dtype_policy() -> None:
    dm = DeviceManager("cpu")
    assert dm.dtype() == torch.float32
    assert dm.dtype("bfloat16") == torch.bfloat16
    with pytest.raises(RequestError, match="unknown dtype"):
        dm.dtype("float8")


def test_lru_unloads_least_recently_used() -> None:
    size = component_bytes(torch.nn.Linear(100, 100))
    dm = DeviceManager("cpu", budget_bytes=int(size * 2.5))
    built: list[str] = []

    def make(name: str):
        def build() -> torch.nn.Module:
            built.append(name)
            return torch.nn.Linear(100, 100)

        return build

    a = dm.get("a", make("a"))
    dm.get("b", make("b"))
    assert dm.get("a", make("a")) is a  # a hit, and a becomes most recent
    dm.get("c", make("c"))  # over budget: b (least recent) goes
    assert dm.keys() == ["a", "c"]
    assert built == ["a", "b", "c"]
    dm.get("b", make("b"))
    assert built[-1] == "b" and "a" not in dm.keys()
    assert dm.resident_bytes() <= dm.budget


def test_budget_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_MEMORY_BUDGET_GB", "0.5")
    assert DeviceManager("cpu").budget == 1 << 29
    monkeypatch.setenv("ZOO_MEMORY_BUDGET_GB", "lots")
    with pytest.raises(RequestError, match="ZOO_MEMORY_BUDGET_GB"):
        DeviceManager("cpu")


def test_seeds_are_consecutive() -> None:
    assert seeds_for(5, 3) == [5, 6, 7]
