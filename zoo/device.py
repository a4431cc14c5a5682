"""The device manager: one per process.

It picks the device (cuda > mps > cpu unless told), the dtype for it, and keeps
one cache of loaded components under a memory budget: when a new component
would exceed the budget, the least recently used one leaves the accelerator
(or, on the CPU, is unloaded). Noise is always drawn on the CPU from a
generator seeded per image, so the same request gives the same numbers on
every device.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import DeviceError, RequestError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float32", "float16", "bfloat16")


def _gib(x: float) -> int:
    return int(x * (1 << 30))


@dataclass
class _Entry:
    value: Any
    nbytes: int
    device: str


def component_bytes(value: Any) -> int:
    """Bytes held by the parameters and buffers of a Generator or nn.Module."""
    nets = value.networks().values() if hasattr(value, "networks") else [value]
    total = 0
    for net in nets:
        for t in list(net.parameters()) + list(net.buffers()):
            total += t.numel() * t.element_size()
    return total


class DeviceManager:
    """Device, dtype policy and the shared LRU cache of loaded components."""

    def __init__(self, device: str | None = None, budget_bytes: int | None = None) -> None:
        import torch

        self.device = self.pick(device)
        env_budget = os.environ.get("ZOO_MEMORY_BUDGET_GB")
        if budget_bytes is None and env_budget:
            try:
                budget_bytes = _gib(float(env_budget))
            except ValueError:
                raise RequestError(
                    f"ZOO_MEMORY_BUDGET_GB must be a number of GiB, got '{env_budget}'"
                ) from None
        self.budget = budget_bytes if budget_bytes is not None else _gib(8)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._torch = torch

    @staticmethod
    def pick(requested: str | None = None) -> torch.device:
        """The device to use: the request, else ZOO_DEVICE, else cuda > mps > cpu."""
        import torch

        name = (requested or os.environ.get("ZOO_DEVICE") or "auto").strip().lower()
        kind = name.split(":")[0]
        if kind not in DEVICES:
            raise DeviceError(f"unknown device '{name}'; choose from {', '.join(DEVICES)}")
        if kind == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return torch.device("mps")
            return torch.device("cpu")
        if kind == "cuda" and not torch.cuda.is_available():
            raise DeviceError(
                "device 'cuda' requested but no CUDA GPU is available; use --device cpu"
            )
        if kind == "mps":
            mps = getattr(torch.backends, "mps", None)
            if mps is None or not mps.is_available():
                raise DeviceError(
                    "device 'mps' requested but MPS is not available; use --device cpu"
                )
        return torch.device(name)

    def dtype(self, requested: str | None = None) -> torch.dtype:
        """float32 on the CPU and MPS; float16 on CUDA (bfloat16 where supported), or as asked."""
        torch = self._torch
        if requested is not None:
            if requested not in DTYPES:
                raise RequestError(f"unknown dtype '{requested}'; choose from {', '.join(DTYPES)}")
            return getattr(torch, requested)
        if self.device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32

    # -- cache ------------------------------------------------------------------

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        """The component cached under ``key``, built (and placed on the device) if absent."""
        if key in self._cache:
            entry = self._cache.pop(key)
            self._cache[key] = entry
            if entry.device != str(self.device):
                self._make_room(entry.nbytes, exclude=key)
                entry.value.to(self.device)
                entry.device = str(self.device)
            return entry.value
        value = build()
        nbytes = component_bytes(value)
        self._make_room(nbytes, exclude=key)
        value.to(self.device)
        self._cache[key] = _Entry(value, nbytes, str(self.device))
        return value

    def resident_bytes(self) -> int:
        return sum(e.nbytes for e in self._cache.values() if e.device == str(self.device))

    def keys(self) -> list[str]:
        return list(self._cache)

    def _make_room(self, nbytes: int, exclude: str) -> None:
        """Evict least recently used entries until ``nbytes`` more fit the budget."""
        for key in list(self._cache):
            if self.resident_bytes() + nbytes <= self.budget:
                return
            if key == exclude:
                continue
            entry = self._cache[key]
            if self.device.type != "cpu" and entry.device != "cpu":
                entry.value.to("cpu")  # leave the accelerator, keep it loaded
                entry.device = "cpu"
            else:
                del self._cache[key]  # unload

    def clear(self) -> None:
        self._cache.clear()


_MANAGER: DeviceManager | None = None


def manager(device: str | None = None) -> DeviceManager:
    """The process's device manager; a different ``device`` makes a new one."""
    global _MANAGER
    if _MANAGER is None or (device is not None and DeviceManager.pick(device) != _MANAGER.device):
        _MANAGER = DeviceManager(device)
    return _MANAGER


def seeds_for(seed: int, n: int) -> list[int]:
    """Image i of a request with seed s is seeded s + i."""
    return [seed + i for i in range(n)]
