"""Options: what a family or a sampler takes beyond the request fields every model shares.

A family declares its options as a subclass of ``Options`` (StyleGAN: truncation, mix_seed,
mix_layers, noise); a sampler declares its own (the autoregressive sampler: temperature,
top_k, top_p, rerank). The classes are plain pydantic models, importable without torch, named
by import path in ``FamilySpec.options`` / ``SamplerSpec.options`` and set as
``options_class`` on the Generator / Sampler. The app turns their fields into typed CLI
flags (``--mix-seed``), accepts them as ``-O key=value`` and as keyword arguments of
``Model.sample``, records them in each PNG and replays them with ``--from``.

Rules for a field: a described ``Field``, a default (an option is never required), ranges
as constraints, a type the CLI can spell (bool, int, float, str, a Literal of strings, or
one of those or None).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zoo.registry.errors import PluginError, RequestError


class Options(BaseModel):
    """Base of every options model: frozen, unknown keys are errors, NaN/Inf refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    always_recorded: ClassVar[tuple[str, ...]] = ()
    """Fields a PNG records even at their default (options whose default may change, so
    that ``--from`` replays what was drawn); other options are recorded only when given."""


class NoOptions(Options):
    """The options of a family or sampler that takes none."""


class TruncationOptions(Options):
    """The truncation trick (BigGAN, StyleGAN): trade variety for fidelity.

    The one-shot sampler applies it to z (resampling components outside [-psi, psi]) unless
    the generator declares ``truncates_latent = False`` and applies it itself (StyleGAN, in w).
    """

    truncation: float | None = Field(
        default=None, gt=0, le=10, description="truncation psi: smaller trades variety for fidelity"
    )


# names an option may not take: the request fields every model shares, and the CLI's own
RESERVED = frozenset(
    {
        "model",
        "n",
        "seed",
        "batch_size",
        "device",
        "dtype",
        "sampler",
        "prompt",
        "negative_prompt",
        "label",
        "image",
        "mask",
        "control",
        "strength",
        "height",
        "width",
        "steps",
        "guidance",
        "options",
        "out",
        "from",
        "force",
        "debug",
        "help",
    }
)


@dataclass(frozen=True)
class OptionField:
    """One option as the CLI and the docs show it."""

    name: str
    kind: str  # bool | int | float | str | choice
    description: str
    default: Any
    choices: tuple[str, ...] = ()
    constraints: str = ""  # e.g. ">= 1, <= 64"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _base_type(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """('int' | 'float' | 'bool' | 'str' | 'choice', choices) of a field's annotation."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return _base_type(args[0])
    if origin is Literal:
        values = get_args(annotation)
        if not all(isinstance(v, str) for v in values):
            raise TypeError("a Literal option must list strings")
        return "choice", tuple(values)
    for kind in (bool, int, float, str):  # bool before int: bool is an int
        if annotation is kind:
            return kind.__name__, ()
    raise TypeError(f"unsupported option type {annotation!r}")


def _constraints(info: Any) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def describe_options(cls: type[Options]) -> list[OptionField]:
    """The fields of an options model, checked against the rules above.

    Raises:
        PluginError: a field without a description or default, a reserved name, or a type
            the CLI cannot spell; the message names the class and the field.
    """
    hints = typing.get_type_hints(cls)
    out = []
    for name, info in cls.model_fields.items():
        where = f"{cls.__module__}.{cls.__qualname__}.{name}"
        if name in RESERVED:
            raise PluginError(f"option '{name}' ({where}) clashes with a request field; rename it")
        if not info.description:
            raise PluginError(f"option {where} has no description; give its Field one")
        if info.is_required():
            raise PluginError(f"option {where} has no default; options are never required")
        try:
            kind, choices = _base_type(hints[name])
        except TypeError as err:
            raise PluginError(f"option {where}: {err}") from None
        out.append(
            OptionField(name, kind, info.description, info.default, choices, _constraints(info))
        )
    return out


def check_options_class(cls: Any) -> type[Options]:
    """``cls`` if it is an Options subclass whose fields follow the rules, else PluginError."""
    if not (isinstance(cls, type) and issubclass(cls, Options)):
        raise PluginError(f"{cls!r} is not a subclass of zoo.registry.options.Options")
    if cls.model_config.get("extra") != "forbid":
        raise PluginError(f"{cls.__qualname__} must keep extra='forbid'")
    describe_options(cls)
    return cls


def split_options(
    values: dict[str, Any],
    owners: dict[str, type[Options]],
    model: str,
) -> dict[str, Options]:
    """Validate ``values`` into one Options instance per owner ("family", "sampler").

    Each key must be declared by exactly one owner; a value is checked by its owner's class.

    Raises:
        RequestError: an option no owner declares (listing those the model takes), or a bad
            value, in one line.
    """
    declared: dict[str, str] = {}
    for owner, cls in owners.items():
        for name in cls.model_fields:
            if name in declared:
                raise PluginError(
                    f"option '{name}' is declared by both the {declared[name]} and the {owner} "
                    f"of '{model}'; one of them must rename it"
                )
            declared[name] = owner
    per_owner: dict[str, dict[str, Any]] = {owner: {} for owner in owners}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in declared:
            accepted = ", ".join("--" + d.replace("_", "-") for d in declared) or "none"
            raise RequestError(
                f"--{name.replace('_', '-')} does not apply to '{model}' (its options: {accepted})"
            )
        per_owner[declared[name]][name] = value
    out: dict[str, Options] = {}
    for owner, cls in owners.items():
        try:
            out[owner] = cls(**per_owner[owner])
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            if not loc:  # a rule across fields: its message says it all
                raise RequestError(msg) from None
            raise RequestError(
                f"invalid option --{loc.replace('_', '-')}: {msg} (got {first.get('input')!r})"
            ) from None
    return out
