"""Finding plugins through entry points and collecting what they register.

pluggy alone would let one broken plugin take the others down (a failing
import aborts ``load_setuptools_entrypoints``; a raising hook stops the call),
so each entry point is loaded, and each hook implementation called, on its
own inside a ``try``. What fails is recorded and shown by ``zoo plugins``.

Built-in plugins (the zoo's own families, samplers, datasets and cards) are
loaded and collected before third-party ones, so a name a built-in registers
stays the built-in's whatever the plugins are called: a third-party plugin
registering it again is marked ``clash`` and only its claim is ignored.
Between two third-party plugins the first in name order keeps a family,
sampler or dataset name; a model id registered by both is ambiguous and
picked with ``plugin:id``.
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
from zoo.registry.errors import (
    AmbiguousModelError,
    PluginClashError,
    PluginError,
    UnknownModelError,
    ZooError,
)
from zoo.registry.schemas import DatasetSpec, FamilySpec, ModelSpec, SamplerSpec


@dataclass
class PluginInfo:
    """One entry point and what became of it."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    status: str = "ok"  # ok | clash | broken | disabled
    errors: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    builtin: bool = False
    disabled_by: str = ""  # why a disabled plugin is: which variable disabled it

    def __post_init__(self) -> None:
        self.builtin = self.builtin or is_builtin(self.module, self.distribution)

    @property
    def origin(self) -> str:
        """'dist version', or the module when no distribution is known."""
        return f"{self.distribution} {self.version}".strip() or self.module

    def owns(self, module_name: str) -> bool:
        """Whether ``module_name`` is this plugin's module or one under its package."""
        root = self.module.partition(":")[0].strip()
        return module_name == root or module_name.startswith(root + ".")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "status": self.status,
            "errors": list(self.errors),
            "registered": {k: list(v) for k, v in self.registered.items()},
        }


# Built-ins that register no family but that families need: samplers to draw,
# datasets to train and evaluate, cards for the shipped models. An allow-list
# (ZOO_LOAD_PLUGINS=dcgan) keeps them, so `zoo sample dcgan-digits` still runs.
INFRASTRUCTURE = ("samplers", "datasets", "cards")


def is_builtin(module: str, distribution: str = "") -> bool:
    """A plugin shipped with zoo: its module is ``zoo.cards`` or under ``zoo.plugins``."""
    root = module.partition(":")[0].strip()
    return distribution == "zoo" or root == "zoo.cards" or root.startswith("zoo.plugins.")


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
        self.left_out: dict[str, str] = {}  # shipped model id -> its family not loaded
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------------

    @classmethod
    def discover(cls, extra: Iterable[tuple[str, ModuleType | object]] = ()) -> Registry:
        """Load every plugin of the entry-point group, then any ``extra`` (name, module).

        Built-in plugins come first, then third-party ones, each group in name
        order, so which plugin keeps a contested name never depends on names.
        """
        reg = cls()
        asked = _names("ZOO_LOAD_PLUGINS")
        deny = _names("ZOO_DISABLE_PLUGINS") or set()
        # a non-empty allow-list keeps the infrastructure; an empty one loads nothing
        allow = asked | set(INFRASTRUCTURE) if asked else asked
        strict = os.environ.get("ZOO_STRICT_PLUGINS") == "1"
        seen: dict[str, tuple[str, str]] = {}
        for ep in sorted(entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=_load_order):
            dist_name, version = _dist(ep)
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
                info.disabled_by = (
                    "ZOO_DISABLE_PLUGINS names it"
                    if ep.name in deny
                    else "ZOO_LOAD_PLUGINS leaves it out"
                )
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
        for var, names in (("ZOO_LOAD_PLUGINS", asked), ("ZOO_DISABLE_PLUGINS", deny)):
            for name in sorted((names or set()) - set(reg.plugins)):
                hint = unknown_message("plugin", name, reg.plugins, "zoo plugins lists them")
                print(f"zoo: warning: {var}: {hint}", file=sys.stderr)
        reg._collect(strict)
        if asked and "cards" not in asked:
            reg._leave_out_cards_of_unloaded_families()
        return reg

    def _broken(self, info: PluginInfo, message: str, strict: bool) -> None:
        info.status = "broken"
        info.errors.append(message)
        text = f"plugin '{info.name}' ({info.origin}) is broken: {message}"
        if strict:
            raise PluginError(text)  # the CLI prints it as "zoo: ..."
        print(f"zoo: {text}", file=sys.stderr)

    def _clash(self, info: PluginInfo, message: str, strict: bool) -> None:
        """``info`` registered a name another plugin holds: only that claim is dropped."""
        if info.status == "ok":
            info.status = "clash"
        info.errors.append(message)
        text = f"plugin '{info.name}' ({info.origin}) clashes: {message}"
        if strict:
            raise PluginError(text)
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
        position = {name: i for i, name in enumerate(self.plugins)}

        def load_order(impl: Any) -> tuple[bool, int]:
            info = self.plugins[str(self.pm.get_name(impl.plugin))]
            return (not info.builtin, position[info.name])

        for hook_name, schema, put in table:
            for impl in sorted(getattr(self.pm.hook, hook_name).get_hookimpls(), key=load_order):
                info = self.plugins[self.pm.get_name(impl.plugin) or ""]

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
                    except PluginClashError as err:
                        self._clash(_info, str(err), strict)
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
            self._refuse("family", spec.name, self.families[spec.name].plugin, info)
        self.families[spec.name] = spec
        info.registered["families"].append(spec.name)

    def _put_sampler(self, spec: SamplerSpec, info: PluginInfo) -> None:
        if spec.name in self.samplers:
            self._refuse("sampler", spec.name, self.samplers[spec.name].plugin, info)
        self.samplers[spec.name] = spec
        info.registered["samplers"].append(spec.name)

    def _put_dataset(self, spec: DatasetSpec, info: PluginInfo) -> None:
        if spec.name in self.datasets:
            self._refuse("dataset", spec.name, self.datasets[spec.name].plugin, info)
        self.datasets[spec.name] = spec
        info.registered["datasets"].append(spec.name)

    def _put_model(self, spec: ModelSpec, info: PluginInfo) -> None:
        # a built-in model id stays the built-in's, so `zoo sample dcgan-digits` keeps
        # working; between third-party plugins the id is ambiguous (`plugin:id` picks)
        for other in self.models.get(spec.id, []):
            if other.plugin == info.name or self.plugins[other.plugin].builtin:
                self._refuse("model id", spec.id, other.plugin, info)
        self.models[spec.id].append(spec)
        info.registered["models"].append(spec.id)

    def _refuse(self, kind: str, name: str, holder: str, info: PluginInfo) -> None:
        """Raise the clash of ``info`` registering ``name``, which ``holder`` has."""
        if holder == info.name:
            raise PluginError(f"{kind} '{name}' is registered twice")
        owner = self.plugins[holder]
        which = "built-in plugin" if owner.builtin else "plugin"
        raise PluginClashError(
            f"plugin '{info.name}' and {which} '{holder}' ({owner.origin}) both register"
            f" {kind} '{name}'; '{holder}' keeps it, the one from '{info.name}' is ignored"
            f" (rename it there, or disable one with ZOO_DISABLE_PLUGINS)"
        )

    def _leave_out_cards_of_unloaded_families(self) -> None:
        """Under an allow-list, drop shipped models whose family is not loaded."""
        from zoo.registry.cards import read_card

        info = self.plugins.get("cards")
        for mid in list(self.models):
            kept = []
            for spec in self.models[mid]:
                if spec.plugin == "cards" and spec.path is not None:
                    try:
                        family = read_card(spec.path)[0].zoo.family
                    except ZooError:
                        family = None  # listed with its card error
                    if family is not None and family not in self.families:
                        self.left_out[mid] = family
                        if info is not None and mid in info.registered["models"]:
                            info.registered["models"].remove(mid)
                        continue
                kept.append(spec)
            if kept:
                self.models[mid] = kept
            else:
                del self.models[mid]

    # -- lookups ---------------------------------------------------------------

    def model(self, name: str) -> ModelSpec:
        """The spec of a registered model; ``plugin:id`` picks one of several claimants."""
        plugin, _, mid = name.rpartition(":") if ":" in name else ("", "", name)
        specs = self.models.get(mid, [])
        if plugin:
            specs = [s for s in specs if s.plugin == plugin]
        if not specs and not plugin and mid in self.left_out:
            raise UnknownModelError(
                f"model '{mid}' needs family '{self.left_out[mid]}', which is not loaded;"
                " add its plugin to ZOO_LOAD_PLUGINS (zoo plugins)"
            )
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
        info = self.plugins.get(name)  # a family's plugin bears its name (DESIGN.md)
        if name not in self.families and info is not None and info.status == "disabled":
            raise UnknownModelError(
                f"family '{name}' comes from plugin '{name}', which is disabled"
                f" ({info.disabled_by or 'zoo plugins'}); enable it to use the family"
            )
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

    def plugin_of(self, module_name: str) -> PluginInfo | None:
        """The plugin whose package holds ``module_name`` (the most specific one)."""
        owners = [p for p in self.plugins.values() if p.owns(module_name)]
        return max(owners, key=lambda p: len(p.module), default=None)

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands; a raising plugin is recorded, the rest go on."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins[self.pm.get_name(impl.plugin) or ""]
            try:
                impl.function(cli=cli)
            except Exception as err:
                self._broken(info, f"register_commands raised {_one_line(err)}", False)


def _dist(ep: Any) -> tuple[str, str]:
    """(distribution name, version) of an entry point, or empty strings."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "", ""
    return dist.metadata["Name"] or "", dist.version or ""


def _load_order(ep: Any) -> tuple[bool, str]:
    """Built-in plugins first, then third-party ones; each in name order."""
    return (not is_builtin(ep.value, _dist(ep)[0]), ep.name)


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


def current_registry() -> Registry | None:
    """The registry of this process if it was discovered already (never discovers)."""
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Forget (or replace) the process registry; for tests and plugin development."""
    global _REGISTRY
    _REGISTRY = registry
