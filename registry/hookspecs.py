"""Hook specifications: what a zoo plugin may implement.

A plugin is a module named by an entry point in the group ``zoo.plugins``.
It implements any of the hooks below with ``@hookimpl``. Each hook receives a
``register`` callback owned by the zoo: the zoo stamps the plugin's name on
what it registers, validates it and reports duplicates, so a plugin never
touches a global table. Hooks run when a command first needs the registry;
they must be cheap: register names and import paths, never import torch.

A module may set ``ZOO_API = 1`` to declare which version of these hooks it
was written for; a module asking for a newer one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from zoo.registry.schemas import DatasetSpec, FamilySpec, ModelSpec, SamplerSpec

API_VERSION = 1
PROJECT = "zoo"
ENTRY_POINT_GROUP = "zoo.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_families(register: Callable[[FamilySpec], None]) -> None:
    """Register model families.

    Args:
        register: call once per family with a ``FamilySpec``. Its ``generator``
            (and optional ``trainer``) are import paths, loaded when a model of
            the family is first used.
    """


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models: folders laid out like a Hub repo, or Hub repo ids.

    Args:
        register: call once per model with a ``ModelSpec`` (``path`` to a folder
            holding README.md, config.json and *.safetensors, or ``repo`` as
            ``org/name[@revision]``). The card inside names the family.
    """


@hookspec
def register_samplers(register: Callable[[SamplerSpec], None]) -> None:
    """Register sampling algorithms (one process each, usable by every family of it)."""


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets available offline (loader given as an import path)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``zoo`` CLI.

    Args:
        cli: the root ``click.Group``; call ``cli.add_command(...)`` or use
            ``@cli.command()``. Keep imports inside the command body.
    """
