"""Device manager: device choice, dtype policy, LRU cache under a memory budget."""

from __future__ import annotations

import pytest
import torch

import zoo
import zoo.device
from zoo.device import (
    DeviceManager,
    canonical_device,
    choose_device,
    component_bytes,
    component_key,
    manager,
    seeds_for,
)
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


@pytest.mark.parametrize(
    "name,current,canon",
    [
        ("cpu", 0, "cpu"),
        ("cpu:0", 0, "cpu"),
        (" CPU ", 0, "cpu"),
        ("cuda", 0, "cuda:0"),
        ("cuda:0", 0, "cuda:0"),
        ("cuda", 1, "cuda:1"),  # "cuda" is the current CUDA device
        ("cuda:1", 0, "cuda:1"),
        ("mps", 0, "mps"),
        ("mps:0", 0, "mps"),
    ],
)
def test_device_names_are_normalised(name: str, current: int, canon: str) -> None:
    assert canonical_device(name, current) == canon


@pytest.mark.parametrize(
    "name,phrase",
    [
        ("tpu", "unknown device 'tpu'"),
        ("auto:0", "unknown device 'auto:0'"),
        ("cuda:one", "bad device index in 'cuda:one'"),
        ("cuda:", "bad device index in 'cuda:'"),
        ("cpu:1", "there is one cpu device, not 'cpu:1'"),
    ],
)
def test_bad_device_names(name: str, phrase: str) -> None:
    with pytest.raises(DeviceError, match=phrase):
        canonical_device(name)


def test_choose_device_on_machines_we_do_not_have() -> None:
    two_gpus = {"cuda_count": 2, "current_cuda": 1, "mps": False}
    assert choose_device(None, **two_gpus) == "cuda:1"
    assert choose_device("cuda", **two_gpus) == "cuda:1"
    assert choose_device("cuda:0", **two_gpus) == "cuda:0"
    assert choose_device(None, env="cpu:0", **two_gpus) == "cpu"
    assert choose_device("cuda:0", env="cpu", **two_gpus) == "cuda:0"  # request > ZOO_DEVICE
    assert choose_device(None, mps=True) == "mps"
    assert choose_device("auto", env="cpu", mps=True) == "mps"
    with pytest.raises(DeviceError, match=r"device 'cuda:2' requested .* 2 CUDA GPU\(s\)"):
        choose_device("cuda:2", **two_gpus)
    with pytest.raises(DeviceError, match="device 'cuda:1' requested but no CUDA GPU"):
        choose_device("cuda:1")  # the index the user gave is kept in the message
    with pytest.raises(DeviceError, match="device 'mps' requested but MPS is not available"):
        choose_device("mps", **two_gpus)


def test_component_key_names_its_parts() -> None:
    key = component_key("/m/ldm", "abc123", torch.float16, "text_encoder/")
    assert key == "/m/ldm@abc123/text_encoder:float16"
    assert component_key("/m/ldm", "abc123", "float16") == "/m/ldm@abc123:float16"


@pytest.fixture
def fresh_manager(monkeypatch: pytest.MonkeyPatch):
    """A process manager of our own, whose default device is given."""

    def install(device: str | torch.device) -> DeviceManager:
        dm = DeviceManager(device)
        monkeypatch.setattr(zoo.device, "_MANAGER", dm)
        return dm

    return install


def test_same_device_spelled_twice_shares_the_cache(fresh_manager) -> None:
    dm = fresh_manager("cpu")
    first = zoo.load("dcgan-digits")
    again = zoo.load("dcgan-digits", device="cpu:0")
    assert manager() is dm
    assert again.generator is first.generator
    assert str(again.device) == str(first.device) == "cpu"
    assert len(dm.keys()) == 1


def placement(generator) -> set[str]:
    return {p.device.type for net in generator.networks().values() for p in net.parameters()}


def test_a_load_elsewhere_keeps_the_default_device_and_the_cache(fresh_manager) -> None:
    # "meta" stands in for an accelerator: tensors there hold no data, no GPU needed
    dm = fresh_manager(torch.device("meta"))
    on_default = zoo.load("dcgan-digits")
    on_cpu = zoo.load("dcgan-digits", device="cpu")  # as StackGAN loads its text encoder
    later = zoo.load("dcgan-digits")
    assert manager() is dm and dm.device.type == "meta"
    assert later.device.type == "meta" and later.generator is on_default.generator
    assert on_cpu.generator is not on_default.generator and on_cpu.device.type == "cpu"
    assert placement(later.generator) == {"meta"} and placement(on_cpu.generator) == {"cpu"}
    assert zoo.load("dcgan-digits", device="cpu").generator is on_cpu.generator


def test_each_device_has_its_own_budget() -> None:
    size = component_bytes(torch.nn.Linear(100, 100))
    dm = DeviceManager(torch.device("meta"), budget_bytes=int(size * 2.5))
    built: list[tuple[str, str]] = []
    meta = torch.device("meta")

    def make(name: str, where: str):
        def build() -> torch.nn.Module:
            built.append((name, where))
            return torch.nn.Linear(100, 100)

        return build

    for name in "ab":
        dm.get(name, make(name, "cpu"), device="cpu")
        dm.get(name, make(name, "meta"), device=meta)
    assert dm.keys("cpu") == dm.keys() == ["a", "b"] and len(built) == 4
    assert dm.resident_bytes("cpu") == dm.resident_bytes() == 2 * size
    dm.get("c", make("c", "cpu"), device="cpu")  # the CPU is full: its oldest, a, goes
    assert dm.keys("cpu") == ["b", "c"] and dm.keys() == ["a", "b"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_full_gpu_moves_its_oldest_to_the_cpu() -> None:
    size = component_bytes(torch.nn.Linear(100, 100))
    dm = DeviceManager("cuda", budget_bytes=int(size * 1.5))
    a = dm.get("a", lambda: torch.nn.Linear(100, 100))
    b = dm.get("b", lambda: torch.nn.Linear(100, 100), device="cuda:0")
    assert a.weight.device.type == "cpu" and b.weight.device == torch.device("cuda", 0)
    assert dm.keys() == ["a", "b"] and dm.resident_bytes() == size
    assert dm.get("a", lambda: torch.nn.Linear(1, 1)) is a  # moved back, not rebuilt
    assert a.weight.device.type == "cuda" and b.weight.device.type == "cpu"
