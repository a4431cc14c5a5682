"""Finding plugins through entry points and collecting what they register.

pluggy alone would let one broken plugin take the others down (a failing
import aborts ``load_setuptools_entrypoints``; a raising hook stops the call),
so each entry point is loaded, and each hook implementation called, on its
own inside a ``try``. What fails is recorded and shown by ``zoo plugins``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from zoo.registry import hookspecs
from zoo.registry.errors import AmbiguousModelError, PluginError, UnknownModelError
from zoo.registry.schemas import DatasetSpec, FamilySpec, ModelSpec, SamplerSpec


@dataclass
class PluginInfo:
    """One entry point and what became of it."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    status: str = "ok"  # ok | broken | disabled
    errors: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "errors": list(self.errors),
            "registered": {k: list(v) for k, v in self.registered.items()},
        }


def _names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {x.strip() for x in raw.split(",") if x.strip()}


def _one_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in f"{type(err).__name__}: {err}".strip().splitlines()]
    text = " ".join(ln for ln in lines if ln)
    return text[:300] if text else type(err).__name__


class Registry:
    """Everything the installed plugins registered: families, models, samplers, datasets."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginInfo] = {}
        self.families: dict[str, FamilySpec] = {}
        self.samplers: dict[str, SamplerSpec] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self.models: dict[str, list[ModelSpec]] = defaultdict(list)
        self.conflicts: list[str] = []
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------------

    @classmethod
    def discover(cls, extra: Iterable[tuple[str, ModuleType | object]] = ()) -> Registry:
        """Load every plugin of the entry-point group, then any ``extra`` (name, module)."""
        reg = cls()
        allow = _names("ZOO_LOAD_PLUGINS")
        deny = _names("ZOO_DISABLE_PLUGINS") or set()
        strict = os.environ.get("ZOO_STRICT_PLUGINS") == "1"
        seen: dict[str, tuple[str, str]] = {}
        for ep in sorted(entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else ""
            version = dist.version if dist is not None else ""
            if ep.name in seen and seen[ep.name] != (ep.value, dist_name):
                first_value, first_dist = seen[ep.name]
                msg = (
                    f"plugin name '{ep.name}' is claimed by distributions {first_dist or '?'}"
                    f" ({first_value}) and {dist_name or '?'} ({ep.value}); the second is not"
                    " loaded (uninstall one of them)"
                )
                reg.conflicts.append(msg)
                print(f"zoo: warning: {msg}", file=sys.stderr)
                continue
            if ep.name in seen:
                continue  # the same entry point seen twice on sys.path
            seen[ep.name] = (ep.value, dist_name)
            info = PluginInfo(ep.name, ep.value, dist_name, version)
            reg.plugins[ep.name] = info
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                info.status = "disabled"
                continue
            try:
                module = ep.load()
            except BaseException as err:  # a plugin may raise anything, SystemExit included
                if isinstance(err, KeyboardInterrupt):
                    raise
                reg._broken(info, f"failed to import: {_one_line(err)}", strict)
                continue
            reg._add(info, module, strict)
        for name, module in extra:
            info = PluginInfo(name, getattr(module, "__name__", repr(module)))
            reg.plugins[name] = info
            reg._add(info, module, strict)
        reg._collect(strict)
        return reg

    def _broken(self, info: PluginInfo, message: str, strict: bool) -> None:
        info.status = "broken"
        info.errors.append(message)
        origin = f"{info.distribution} {info.version}".strip() or info.module
        text = f"plugin '{info.name}' ({origin}) is broken: {message}"
        if strict:
            raise PluginError(text)  # the CLI prints it as "zoo: ..."
        print(f"zoo: {text}", file=sys.stderr)

    def _add(self, info: PluginInfo, module: Any, strict: bool) -> None:
        wanted = getattr(module, "ZOO_API", hookspecs.API_VERSION)
        if not isinstance(wanted, int) or wanted > hookspecs.API_VERSION:
            self._broken(
                info,
                f"requires zoo plugin API v{wanted}; this zoo provides v{hookspecs.API_VERSION}"
                " (upgrade zoo)",
                strict,
            )
            return
        try:
            self.pm.register(module, name=info.name)
            unknown = [
                impl.function.__name__
                for hook in self.pm.get_hookcallers(module) or []
                if hook.spec is None
                for impl in hook.get_hookimpls()
                if impl.plugin is module
            ]
            if unknown:
                raise PluginError(f"unknown hook(s) {', '.join(unknown)}")
        except Exception as err:  # pluggy validates signatures at register time
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._broken(info, _one_line(err), strict)

    def _collect(self, strict: bool) -> None:
        """Call each plugin's implementation of each register hook separately."""
        table: list[tuple[str, type[BaseModel], Callable[[Any, PluginInfo], None]]] = [
            ("register_families", FamilySpec, self._put_family),
            ("register_samplers", SamplerSpec, self._put_sampler),
            ("register_datasets", DatasetSpec, self._put_dataset),
            ("register_models", ModelSpec, self._put_model),
        ]
        for hook_name, schema, put in table:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.plugins[self.pm.get_name(impl.plugin)]

                def register(
                    spec: Any, _info: PluginInfo = info, _schema=schema, _put=put, _hook=hook_name
                ) -> None:
                    try:
                        if isinstance(spec, dict):
                            spec = _schema(**spec)
                        if not isinstance(spec, _schema):
                            raise PluginError(
                                f"expected a {_schema.__name__}, got {type(spec).__name__}"
                            )
                        spec = spec.model_copy(update={"plugin": _info.name})
                        _put(spec, _info)
                    except (ValidationError, PluginError) as err:
                        # only this spec is rejected (P6); the plugin's other ones still count
                        self._broken(_info, f"{_hook}: rejected {_describe(spec, err)}", strict)

                try:
                    impl.function(register=register)
                except PluginError as err:
                    if strict:  # register() already raised it with the plugin named
                        raise
                    self._broken(info, f"{hook_name} raised {_one_line(err)}", strict)
                except ValidationError as err:
                    first = err.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "spec"
                    self._broken(
                        info, f"{hook_name}: malformed spec ({where}: {first['msg']})", strict
                    )
                except Exception as err:
                    self._broken(info, f"{hook_name} raised {_one_line(err)}", strict)

    def _put_family(self, spec: FamilySpec, info: PluginInfo) -> None:
        if spec.name in self.families:
            other = self.families[spec.name].plugin
            raise PluginError(f"family '{spec.name}' is already registered by plugin '{other}'")
        self.families[spec.name] = spec
        info.registered["families"].append(spec.name)

    def _put_sampler(self, spec: SamplerSpec, info: PluginInfo) -> None:
        if spec.name in self.samplers:
            other = self.samplers[spec.name].plugin
            raise PluginError(f"sampler '{spec.name}' is already registered by plugin '{other}'")
        self.samplers[spec.name] = spec
        info.registered["samplers"].append(spec.name)

    def _put_dataset(self, spec: DatasetSpec, info: PluginInfo) -> None:
        if spec.name in self.datasets:
            other = self.datasets[spec.name].plugin
            raise PluginError(f"dataset '{spec.name}' is already registered by plugin '{other}'")
        self.datasets[spec.name] = spec
        info.registered["datasets"].append(spec.name)

    def _put_model(self, spec: ModelSpec, info: PluginInfo) -> None:
        self.models[spec.id].append(spec)
        info.registered["models"].append(spec.id)

    # -- lookups ---------------------------------------------------------------

    def model(self, name: str) -> ModelSpec:
        """The spec of a registered model; ``plugin:id`` picks one of several claimants."""
        plugin, _, mid = name.rpartition(":") if ":" in name else ("", "", name)
        specs = self.models.get(mid, [])
        if plugin:
            specs = [s for s in specs if s.plugin == plugin]
        if not specs:
            raise UnknownModelError(unknown_message("model", name, self.models, "zoo list"))
        if len(specs) > 1:
            who = " and ".join(f"'{s.plugin}'" for s in specs)
            raise AmbiguousModelError(
                f"model id '{mid}' is registered by plugins {who}; name one, e.g. "
                f"'{specs[0].plugin}:{mid}', or disable one with ZOO_DISABLE_PLUGINS"
            )
        return specs[0]

    def family(self, name: str) -> FamilySpec:
        if name not in self.families:
            raise UnknownModelError(unknown_message("family", name, self.families, "zoo plugins"))
        return self.families[name]

    def sampler(self, name: str) -> SamplerSpec:
        if name not in self.samplers:
            raise UnknownModelError(unknown_message("sampler", name, self.samplers, "zoo plugins"))
        return self.samplers[name]

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise UnknownModelError(unknown_message("dataset", name, self.datasets, "zoo plugins"))
        return self.datasets[name]

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands; a raising plugin is recorded, the rest go on."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins[self.pm.get_name(impl.plugin)]
            try:
                impl.function(cli=cli)
            except Exception as err:
                self._broken(info, f"register_commands raised {_one_line(err)}", False)


def _describe(spec: Any, err: Exception) -> str:
    """'malformed spec 'x' (field: reason)' for a spec that failed validation or was refused."""
    name = spec.get("id") or spec.get("name") if isinstance(spec, dict) else None
    name = name or getattr(spec, "id", None) or getattr(spec, "name", None)
    label = f" {str(name)[:64]!r}" if name else ""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        return f"malformed spec{label} ({where}: {first['msg']})"
    return f"spec{label}: {err}"


def unknown_message(kind: str, name: str, known: Iterable[str], hint: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    msg = f"unknown {kind} '{name}'"
    if close:
        msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return msg + f" ({hint})"


def load_object(path: str) -> Any:
    """Import ``package.module:Name``."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PluginError(f"'{path}' names nothing: module {module_name} has no '{attr}'") from None


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The registry of this process, discovered on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.discover()
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Forget (or replace) the process registry; for tests and plugin development."""
    global _REGISTRY
    _REGISTRY = registry
