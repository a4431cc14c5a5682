"""Typed CLI flags generated from the options models that families and samplers declare.

``zoo sample MODEL --help`` lists the flags of MODEL's family and of the sampler it would
use (``--sampler`` or the default); they are added to the command for that one invocation,
before click parses the arguments. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

import click

from zoo.registry.errors import RequestError, ZooError
from zoo.registry.options import OptionField, describe_options

DEST = "opt__"  # parameter names of generated flags, apart from the command's own


def click_option(field: OptionField, owner: str) -> click.Option:
    """One click option for an options-model field; absent from the command line = None."""
    limits = f" ({field.constraints})" if field.constraints else ""
    default = "" if field.default is None else f" [default: {field.default}]"
    help_text = f"{field.description}{limits}{default} [{owner}]"
    name = field.name.replace("_", "-")
    if field.kind == "bool":
        return click.Option(
            [f"--{name}/--no-{name}", DEST + field.name], default=None, help=help_text
        )
    kinds: dict[str, Any] = {"int": int, "float": float, "str": str}
    kind = click.Choice(list(field.choices)) if field.kind == "choice" else kinds[field.kind]
    return click.Option([f"--{name}", DEST + field.name], type=kind, default=None, help=help_text)


def _first_positional(command: click.Command, args: list[str]) -> str | None:
    """The first argument that is not an option or an option's value (the model)."""
    takes_value = {
        opt
        for p in command.params
        if isinstance(p, click.Option) and not p.is_flag and not p.count
        for opt in p.opts
    }
    skip = False
    for i, tok in enumerate(args):
        if skip:
            skip = False
            continue
        if tok == "--":
            return args[i + 1] if i + 1 < len(args) else None
        if tok.startswith("-") and len(tok) > 1:
            skip = "=" not in tok and tok in takes_value
            continue
        return tok
    return None


def _value_of(args: list[str], flag: str) -> str | None:
    for i, tok in enumerate(args):
        if tok == flag and i + 1 < len(args):
            return args[i + 1]
        if tok.startswith(flag + "="):
            return tok.split("=", 1)[1]
    return None


def model_option_params(model: str, sampler: str | None) -> list[click.Option]:
    """Flags for the options of ``model`` (with ``sampler``, or its default); [] if unknown."""
    from zoo.catalog import resolve

    try:
        res = resolve(model, download=False)
        spec = res.sampler_spec(sampler)
        classes = res.option_classes(spec)
    except ZooError:
        return []  # the command itself reports an unknown model or sampler
    owners = {
        "family": f"{res.family.name} option",
        "sampler": f"sampler '{spec.name}' option" if spec else "",
    }
    out = []
    for role, cls in classes.items():
        for field in describe_options(cls):
            out.append(click_option(field, owners[role]))
    return out


class ModelOptionsCommand(click.Command):
    """A command whose flags include those of the model named by its first argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        base = getattr(self, "_base_params", None)
        if base is None:
            base = self._base_params = list(self.params)
        self.params = list(base)
        model = _first_positional(self, args)
        extra: list[click.Option] = []
        if model is not None:
            own = {opt for p in base for opt in getattr(p, "opts", [])}
            extra = model_option_params(model, _value_of(args, "--sampler"))
            extra = [p for p in extra if not set(p.opts) & own]
            self.params += extra
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as err:
            if err.param is None or err.param not in extra:
                raise
            raise RequestError(f"invalid option {err.param.opts[0]}: {err.message}") from None
        except click.NoSuchOption as err:
            if model is None or err.option_name in ("-h",):
                raise
            accepted = ", ".join(p.opts[0] for p in extra) or "none"
            raise RequestError(
                f"{err.option_name} does not apply to '{model}' (its options: {accepted})"
            ) from None


def collect(values: dict[str, Any]) -> dict[str, Any]:
    """Pop the generated flags out of a command's keyword arguments: {option: value}."""
    out = {}
    for key in [k for k in values if k.startswith(DEST)]:
        value = values.pop(key)
        if value is not None:
            out[key[len(DEST) :]] = value
    return out
