"""What models exist and what they can do, without importing torch.

Resolves a user's model name (registered id, folder path, or
``hf:org/name[@revision]``) to a folder and reads its card and config, so that
requests can be validated before any weights are loaded.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.registry.cards import read_card, read_config
from zoo.registry.discovery import Registry, get_registry, load_object
from zoo.registry.errors import CardError, PluginError, RequestError, UnknownModelError, ZooError
from zoo.registry.options import NoOptions, Options, check_options_class, split_options
from zoo.registry.schemas import DEFAULT_SAMPLERS, FamilySpec, ModelCard, ModelSpec, SamplerSpec

HUB_PREFIX = "hf:"


@dataclass
class Resolved:
    """A model name resolved to a folder with its card, config and family."""

    name: str  # what the user typed, canonical (registered id, hf:..., or path)
    folder: Path
    card: ModelCard
    body: str
    config: dict[str, Any]
    family: FamilySpec
    source: str  # embedded | local | hub
    plugin: str
    revision: str

    @property
    def capabilities(self) -> tuple[str, ...]:
        """What a request to this model may carry: its family's capabilities and those
        the components its card names add (``FamilySpec.component_capabilities``)."""
        f = self.family
        extra = [
            cap
            for role, caps in f.component_capabilities.items()
            if role in self.card.zoo.components
            for cap in caps
        ]
        return tuple(dict.fromkeys([*f.capabilities, *extra]))

    @property
    def num_classes(self) -> int | None:
        value = self.config.get("num_classes")
        return value if isinstance(value, int) else None

    def default_sampler(self) -> str | None:
        """The sampler a request that names none gets: the card's, else the process's."""
        process = self.family.process
        return self.card.zoo.default_sampler or (DEFAULT_SAMPLERS[process] if process else None)

    def sampler_spec(self, name: str | None = None) -> SamplerSpec | None:
        """The spec of sampler ``name`` (None: the default); None for models that draw
        nothing. Raises RequestError for a sampler of another process."""
        name = name or self.default_sampler()
        if name is None or self.family.process is None:
            return None
        spec = get_registry().sampler(name)
        if spec.process != self.family.process:
            raise RequestError(
                f"sampler '{name}' draws {spec.process} models; '{self.name}' is "
                f"{self.family.process}"
            )
        return spec

    def option_classes(self, sampler: SamplerSpec | None) -> dict[str, type[Options]]:
        """{"family": its Options class, "sampler": the sampler's} (NoOptions where none)."""
        return {
            "family": options_class(self.family.options, f"family '{self.family.name}'"),
            "sampler": options_class(
                sampler.options if sampler else None,
                f"sampler '{sampler.name}'" if sampler else "",
            ),
        }

    def options(self, request: Any) -> dict[str, Options]:
        """``request.options`` validated: {"family": ..., "sampler": ...} Options instances."""
        classes = self.option_classes(self.sampler_spec(request.sampler))
        return split_options(request.options, classes, self.name)

    def check(self, request: Any) -> None:
        """Raise RequestError if ``request`` (a SampleRequest) asks what this model cannot do."""
        f = self.family
        sampler = self.sampler_spec(request.sampler) if f.process is not None else None
        request.check_against(
            self.name, f.process, self.capabilities, self.num_classes, f.kind, sampler
        )
        self.options(request)


def options_class(path: str | None, owner: str) -> type[Options]:
    """The Options class at import ``path`` (NoOptions for None), checked against the rules."""
    if path is None:
        return NoOptions
    try:
        return check_options_class(load_object(path))
    except PluginError as err:
        raise PluginError(f"{owner}: {err}") from None
    except ImportError as err:
        raise PluginError(f"{owner}: cannot import its options {path}: {err}") from None


def _is_path(name: str) -> bool:
    return os.sep in name or name.startswith(".") or Path(name).is_dir()


def _revision(card: ModelCard, folder: Path, source: str) -> str:
    if card.zoo.revision:
        return card.zoo.revision
    if source == "hub":
        return folder.name  # snapshot folders are named by commit
    first = sorted(card.zoo.files.items())[0][1]
    return "sha256:" + first.sha256[:12]


def hub_repo(name: str, *, registry: Registry | None = None) -> str | None:
    """The Hub repository ``name`` is downloaded from ('hf:org/name[@revision]'), or None
    for a model that lives on this machine (a folder, a shipped or plugin model)."""
    if name.startswith(HUB_PREFIX):
        from zoo import hub

        hub.parse_ref(name[len(HUB_PREFIX) :])  # refuse a malformed reference here
        return name
    if _is_path(name):
        return None
    spec = (registry or get_registry()).model(name)
    return f"{HUB_PREFIX}{spec.repo}" if spec.repo is not None else None


def resolve(name: str, *, registry: Registry | None = None, download: bool = True) -> Resolved:
    """Find the folder of a model and read its card; pulls Hub models if needed."""
    reg = registry or get_registry()
    if name.startswith(HUB_PREFIX):
        from zoo import hub

        repo_id, revision = hub.parse_ref(name[len(HUB_PREFIX) :])
        folder = (
            hub.snapshot(repo_id, revision, model=name)
            if download
            else hub.cached_snapshot(repo_id, revision)
        )
        if folder is None:
            raise UnknownModelError(f"model '{name}' is not in the cache; run `zoo pull {name}`")
        return _read(name, Path(folder), "hub", "", reg)
    if _is_path(name):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise UnknownModelError(f"no model folder at '{name}'")
        return _read(str(folder), folder, "local", "", reg)
    spec = reg.model(name)
    resolved = resolve_spec(spec, reg, download=download)
    if ":" in name:  # keep 'plugin:id', so that the PNG records name this claimant again
        resolved.name = f"{spec.plugin}:{spec.id}"
    return resolved


def resolve_spec(spec: ModelSpec, reg: Registry, *, download: bool = True) -> Resolved:
    if spec.repo is not None:
        from zoo import hub

        repo_id, revision = hub.parse_ref(spec.repo)
        folder = (
            hub.snapshot(repo_id, revision, model=spec.id)
            if download
            else hub.cached_snapshot(repo_id, revision)
        )
        if folder is None:
            raise UnknownModelError(
                f"model '{spec.id}' is not in the cache; run `zoo pull {spec.id}`"
            )
        return _read(spec.id, Path(folder), "hub", spec.plugin, reg)
    source = "embedded" if spec.plugin == "cards" else "local"
    return _read(spec.id, Path(spec.path or ""), source, spec.plugin, reg)


def _read(name: str, folder: Path, source: str, plugin: str, reg: Registry) -> Resolved:
    from zoo.pipelines import is_pipeline_folder, read_pipeline

    if is_pipeline_folder(folder):  # a diffusers repo: the card is written from its files
        card, body, config = read_pipeline(folder, reg)
    else:
        card, body = read_card(folder)
        config = read_config(folder)
    family = reg.family(card.zoo.family)
    return Resolved(
        name=name,
        folder=folder,
        card=card,
        body=body,
        config=config,
        family=family,
        source=source,
        plugin=plugin,
        revision=_revision(card, folder, source),
    )


def list_models(
    pattern: str | None = None, registry: Registry | None = None
) -> list[dict[str, Any]]:
    """Every registered model as a dict: id, family, process, capabilities, source, plugin.

    A model whose card cannot be read (or is a Hub model not yet pulled) is
    listed with what is known and an ``error``.
    """
    reg = registry or get_registry()
    rows: list[dict[str, Any]] = []
    for mid in sorted(reg.models):
        if pattern and not fnmatch.fnmatch(mid, pattern):
            continue
        for spec in reg.models[mid]:
            row: dict[str, Any] = {
                "id": mid if len(reg.models[mid]) == 1 else f"{spec.plugin}:{mid}",
                "family": None,
                "process": None,
                "capabilities": [],
                "source": "hub"
                if spec.repo
                else ("embedded" if spec.plugin == "cards" else "local"),
                "plugin": spec.plugin,
            }
            if len(reg.models[mid]) > 1:
                row["error"] = f"id '{mid}' is claimed by " + " and ".join(
                    s.plugin for s in reg.models[mid]
                )
            try:
                res = resolve_spec(spec, reg, download=False)
            except (ZooError, CardError) as err:
                row.setdefault("error", str(err))
            else:
                row.update(
                    family=res.family.name,
                    process=res.family.process,
                    sampler=res.default_sampler(),
                    samplers=sorted(
                        name for name, s in reg.samplers.items() if s.process == res.family.process
                    ),
                    capabilities=list(res.capabilities),
                    kind=res.family.kind,
                    options=option_names(res),
                    reconstructs=res.family.can_reconstruct,
                    dataset=res.card.zoo.dataset,
                    parameters=res.card.zoo.parameters,
                )
            rows.append(row)
    return rows


def option_names(resolved: Resolved, sampler: str | None = None) -> list[str]:
    """The options a model takes with ``sampler`` (default: its own), family's then sampler's."""
    try:
        classes = resolved.option_classes(resolved.sampler_spec(sampler))
    except ZooError:
        return []
    return [name for cls in classes.values() for name in cls.model_fields]
