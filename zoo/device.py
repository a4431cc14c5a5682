"""The device manager: one per process.

It chooses a default device once (``ZOO_DEVICE``, else cuda > mps > cpu, unless
the manager is built with a device), the dtype for a device, and keeps one
cache of loaded components. Each load may ask for its own device; the device is
part of the cache key, so asking for another device never throws the cache
away. Each device has its own memory budget: when a new component would exceed
an accelerator's budget, the least recently used component there moves to the
CPU (staying loaded); when the CPU's budget is exceeded, the least recently used
component there is unloaded.

Device names are normalised before use: ``cpu`` and ``cpu:0`` are one device,
and ``cuda`` means ``cuda:N`` with N the current CUDA device (normally 0), so
``cuda`` and ``cuda:0`` are one device too.

Noise is always drawn on the CPU from a generator seeded per image, so the same
request gives the same numbers on every device.
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


def canonical_device(name: str, current_cuda: int = 0) -> str:
    """The one spelling of a device name: ``cpu``, ``mps`` or ``cuda:N``.

    Args:
        name: what the user asked for, e.g. ``cuda``, ``CUDA:1``, ``cpu:0``.
        current_cuda: the index ``cuda`` without an index stands for.

    Raises:
        DeviceError: an unknown kind, a malformed index, or an index other than
            0 for the CPU or MPS (each is a single device).
    """
    text = name.strip().lower()
    kind, sep, index = text.partition(":")
    if kind not in DEVICES or kind == "auto":
        raise DeviceError(f"unknown device '{name}'; choose from {', '.join(DEVICES)} or cuda:N")
    if sep and not index.isdigit():
        raise DeviceError(f"bad device index in '{name}'; write e.g. {kind}:0")
    if kind == "cuda":
        return f"cuda:{int(index) if sep else current_cuda}"
    if sep and int(index) != 0:
        raise DeviceError(f"there is one {kind} device, not '{name}'; use --device {kind}")
    return kind


def choose_device(
    requested: str | None,
    *,
    env: str | None = None,
    cuda_count: int = 0,
    current_cuda: int = 0,
    mps: bool = False,
) -> str:
    """The canonical device for a request, given what the machine has (no torch needed).

    Args:
        requested: the asked device (``auto``, ``cpu``, ``cuda:1``...), or None.
        env: the value of ``ZOO_DEVICE``, used when nothing is requested.
        cuda_count: how many CUDA devices exist.
        current_cuda: the current CUDA device index (what ``cuda`` means).
        mps: whether Apple's MPS backend is available.

    Returns:
        ``cpu``, ``mps`` or ``cuda:N``; ``auto`` picks cuda > mps > cpu.
    """
    name = (requested or env or "auto").strip().lower()
    if name == "auto":
        if cuda_count:
            return f"cuda:{current_cuda}"
        return "mps" if mps else "cpu"
    canon = canonical_device(name, current_cuda)
    if canon.startswith("cuda:"):
        if cuda_count == 0:
            raise DeviceError(
                f"device '{name}' requested but no CUDA GPU is available; use --device cpu"
            )
        if int(canon.split(":")[1]) >= cuda_count:
            raise DeviceError(
                f"device '{name}' requested but this machine has {cuda_count} CUDA GPU(s); "
                f"use cuda:0 to cuda:{cuda_count - 1}"
            )
    if canon == "mps" and not mps:
        raise DeviceError(f"device '{name}' requested but MPS is not available; use --device cpu")
    return canon


def component_key(source: str, revision: str, dtype: Any, subfolder: str = "") -> str:
    """The cache key of a model or model component, independent of the device.

    Args:
        source: where the files are (the resolved local folder, or a Hub snapshot path).
        revision: the model's revision (a commit, or a hash of its weights).
        dtype: the dtype it is loaded in (``torch.float32`` or its name).
        subfolder: the component's subfolder within the model ("" for the model itself).
    """
    part = f"/{subfolder.strip('/')}" if subfolder.strip("/") else ""
    return f"{source}@{revision}{part}:{str(dtype).removeprefix('torch.')}"


@dataclass
class _Entry:
    value: Any
    nbytes: int
    device: str  # where it is now: its home device, or "cpu" when moved off an accelerator


def component_bytes(value: Any) -> int:
    """Bytes held by the parameters and buffers of a Generator or nn.Module."""
    nets = value.networks().values() if hasattr(value, "networks") else [value]
    total = 0
    for net in nets:
        for t in list(net.parameters()) + list(net.buffers()):
            total += t.numel() * t.element_size()
    return total


class DeviceManager:
    """Default device, dtype policy and the shared LRU cache of loaded components.

    Args:
        device: the default device (a name, checked and normalised, or a
            ``torch.device`` used as given); None: ``ZOO_DEVICE``, else the best available.
        budget_bytes: the memory budget of each device; None: ``ZOO_MEMORY_BUDGET_GB``
            GiB, else 8 GiB.
    """

    def __init__(
        self, device: str | torch.device | None = None, budget_bytes: int | None = None
    ) -> None:
        self.device = self.where(device) if device is not None else self.pick()
        env_budget = os.environ.get("ZOO_MEMORY_BUDGET_GB")
        if budget_bytes is None and env_budget:
            try:
                budget_bytes = _gib(float(env_budget))
            except ValueError:
                raise RequestError(
                    f"ZOO_MEMORY_BUDGET_GB must be a number of GiB, got '{env_budget}'"
                ) from None
        self.budget = budget_bytes if budget_bytes is not None else _gib(8)
        # (key, home device) -> entry, least recently used first
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    @staticmethod
    def pick(requested: str | None = None) -> torch.device:
        """The device to use: the request, else ZOO_DEVICE, else cuda > mps > cpu."""
        import torch

        cuda = torch.cuda.is_available()
        mps = getattr(torch.backends, "mps", None)
        name = choose_device(
            requested,
            env=os.environ.get("ZOO_DEVICE"),
            cuda_count=torch.cuda.device_count() if cuda else 0,
            current_cuda=torch.cuda.current_device() if cuda else 0,
            mps=mps is not None and mps.is_available(),
        )
        return torch.device(name)

    def where(self, device: str | torch.device | None = None) -> torch.device:
        """The device a load goes to: ``device`` normalised, else the manager's default.

        A name is checked against the machine (``pick``); a ``torch.device`` is
        taken as given, with ``cuda`` completed to the current index and ``cpu:0``
        read as ``cpu``.
        """
        import torch

        if device is None:
            return self.device
        if isinstance(device, str):
            return self.pick(device)
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if device.type in ("cpu", "mps"):
            return torch.device(device.type)
        return device

    def dtype(
        self, requested: str | None = None, device: str | torch.device | None = None
    ) -> torch.dtype:
        """float32 on the CPU and MPS; on CUDA bfloat16 where supported, else float16; or as asked."""
        import torch

        if requested is not None:
            if requested not in DTYPES:
                raise RequestError(f"unknown dtype '{requested}'; choose from {', '.join(DTYPES)}")
            chosen: torch.dtype = getattr(torch, requested)
            return chosen
        dev = self.where(device)
        if dev.type == "cuda":
            with torch.cuda.device(dev):
                return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32

    # -- cache ------------------------------------------------------------------

    def get(
        self, key: str, build: Callable[[], Any], device: str | torch.device | None = None
    ) -> Any:
        """The component cached under ``key`` on ``device``, built and placed there if absent.

        Args:
            key: what identifies the component apart from the device; for models
                and their parts, ``component_key(source, revision, dtype, subfolder)``.
                Two callers using one key share one loaded copy per device.
            build: makes the component (on the CPU); it must have ``.to(device)``
                and parameters (an nn.Module or a Generator).
            device: where it is wanted (None: the manager's default device).
        """
        home = str(self.where(device))
        slot = (key, home)
        entry = self._cache.get(slot)
        if entry is not None:
            self._cache.move_to_end(slot)
            if entry.device != home:  # it had been moved to the CPU to make room
                self._make_room(home, entry.nbytes, keep=slot)
                entry.value.to(home)
                entry.device = home
            return entry.value
        value = build()
        nbytes = component_bytes(value)
        self._make_room(home, nbytes, keep=slot)
        value.to(home)
        self._cache[slot] = _Entry(value, nbytes, home)
        return value

    def resident_bytes(self, device: str | torch.device | None = None) -> int:
        """Bytes of cached components now on ``device`` (None: the default device)."""
        return self._resident(str(self.where(device)))

    def _resident(self, device: str) -> int:
        return sum(e.nbytes for e in self._cache.values() if e.device == device)

    def keys(self, device: str | torch.device | None = None) -> list[str]:
        """Keys cached for ``device`` (None: the default device), least recently used first."""
        home = str(self.where(device))
        return [key for key, dev in self._cache if dev == home]

    def _make_room(self, device: str, nbytes: int, keep: tuple[str, str]) -> None:
        """Free ``device`` (least recently used first) until ``nbytes`` more fit its budget.

        An accelerator's components move to the CPU (which makes room there in
        turn); the CPU's are unloaded. ``keep`` is never touched.
        """
        for slot in list(self._cache):
            if self._resident(device) + nbytes <= self.budget:
                return
            entry = self._cache.get(slot)
            if slot == keep or entry is None or entry.device != device:
                continue
            if device == "cpu":
                del self._cache[slot]  # unload
            else:
                self._make_room("cpu", entry.nbytes, keep=keep)
                entry.value.to("cpu")  # leave the accelerator, stay loaded
                entry.device = "cpu"

    def clear(self) -> None:
        self._cache.clear()


_MANAGER: DeviceManager | None = None


def manager() -> DeviceManager:
    """The process's device manager, made on first use; each load names its own device."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = DeviceManager()
    return _MANAGER


def seeds_for(seed: int, n: int) -> list[int]:
    """Image i of a request with seed s is seeded s + i."""
    return [seed + i for i in range(n)]
