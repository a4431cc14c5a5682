"""Errors that are shown to the user as one line: what is wrong; what to do.

The CLI prints `str(err)` and exits with `err.exit_code` (2 for bad input)
without a traceback; `--debug` or ZOO_DEBUG=1 shows it.
"""

from __future__ import annotations

from typing import Any


class ZooError(Exception):
    """Base of every error meant for the user; the message carries the fix."""

    exit_code = 2


class UnknownModelError(ZooError):
    """No registered model or folder has this id."""


class AmbiguousModelError(ZooError):
    """Two plugins registered the same model id."""


class RequestError(ZooError):
    """A sample request does not fit the model (bad value, unsupported option)."""


class CardError(ZooError):
    """A model card or config is missing, malformed or incomplete."""


class IntegrityError(ZooError):
    """A weight file is corrupt, truncated, not safetensors, or fails its hash."""


class PickleRefusedError(IntegrityError):
    """A pickle checkpoint was offered; only safetensors is loaded."""


class WeightsMismatchError(ZooError):
    """Weights do not fit the network built from the config (keys, shapes, dtypes)."""


class PluginError(ZooError):
    """A plugin failed to load, raised in a hook, or registered something malformed."""


class PluginClashError(PluginError):
    """A plugin registered a family, sampler, dataset or model id another plugin holds."""


class HubError(ZooError):
    """A Hugging Face Hub download or cache lookup failed."""


class DeviceError(ZooError):
    """The requested device is not available."""


class ResourceError(ZooError):
    """Out of memory or disk; the message suggests a smaller request."""

    exit_code = 3


class NumericsError(ZooError):
    """The model produced NaN or Inf."""

    exit_code = 1


def invalid_config(where: str, err: Any, hint: str = "fix that key") -> CardError:
    """One line from a pydantic ValidationError of a config: ``where: 'key': reason; hint``."""
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "is not a key of this config"
    return CardError(f"{where}: '{key}': {message}; {hint}")
