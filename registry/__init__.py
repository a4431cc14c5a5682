"""Contracts of the zoo: what a plugin provides and what the app relies on.

Everything here imports only pydantic, pluggy and the standard library, so that
`zoo --help` and `zoo list` stay fast; torch types appear under TYPE_CHECKING.
"""

from zoo.registry.errors import ZooError
from zoo.registry.hookspecs import API_VERSION, hookimpl

__all__ = ["API_VERSION", "ZooError", "hookimpl"]
