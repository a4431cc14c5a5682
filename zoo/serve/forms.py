"""The sampling form of a model, generated from what its card, family and samplers declare.

Nothing here knows a family: the request fields come from ``SampleRequest`` filtered by the
model's capabilities, steps and guidance by each sampler's ``takes``, and the options from
the family's and each sampler's options classes (``describe_options``). The same field list
renders the HTML form and parses what the browser sends back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zoo.catalog import Resolved, options_class
from zoo.registry.discovery import get_registry
from zoo.registry.errors import RequestError
from zoo.registry.options import describe_options
from zoo.registry.schemas import SampleRequest

MAX_WEB_N = 64  # images per request from the web page: the CPU draws them while others wait

# request fields by the capability that admits them; the rest of SampleRequest
# (height, width, strength, control, batch_size) has no shipped model that varies it
_BY_CAPABILITY = {"prompt": "text", "negative_prompt": "text", "label": "class"}
_UPLOADS = {"image": "image", "mask": "mask"}


@dataclass
class FormField:
    """One input of a model's form.

    Attributes:
        name: the request field or option name the value is sent as.
        kind: int | float | bool | str | choice | text | upload.
        group: "request", "family", or "sampler:NAME" (shown only with that sampler).
        samplers: for steps/guidance, the samplers that take it (empty: always shown).
    """

    name: str
    kind: str
    label: str
    description: str
    group: str = "request"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] = field(default_factory=list)
    samplers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bounds(info: Any) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                low = getattr(meta, attr)
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                high = getattr(meta, attr)
    return low, high


def _request_field(name: str, kind: str, **kw: Any) -> FormField:
    info = SampleRequest.model_fields[name]
    low, high = _bounds(info)
    return FormField(
        name=name,
        kind=kind,
        label=name.replace("_", " "),
        description=info.description or "",
        default=info.default if info.default is not None else None,
        minimum=low,
        maximum=high,
        **kw,
    )


def samplers_for(resolved: Resolved) -> list[str]:
    """The samplers that can drive ``resolved``, its default first."""
    reg = get_registry()
    names = sorted(n for n, s in reg.samplers.items() if s.process == resolved.family.process)
    default = resolved.default_sampler()
    return sorted(names, key=lambda n: n != default)


def form_fields(resolved: Resolved) -> list[FormField]:
    """The inputs of ``resolved``'s form, in the order a page shows them."""
    caps = set(resolved.capabilities)
    out: list[FormField] = []
    for name, cap in _BY_CAPABILITY.items():
        if cap in caps:
            kind = "int" if name == "label" else "text"
            f = _request_field(name, kind)
            if name == "label" and resolved.num_classes is not None:
                f.maximum = resolved.num_classes - 1
            out.append(f)
    for name, cap in _UPLOADS.items():
        if cap in caps:
            out.append(_request_field(name, "upload"))
    out.append(_request_field("n", "int"))
    out[-1].maximum = MAX_WEB_N
    out.append(_request_field("seed", "int"))
    samplers = samplers_for(resolved)
    reg = get_registry()
    if len(samplers) > 1:
        f = _request_field("sampler", "choice", choices=samplers)
        f.default = samplers[0]
        out.append(f)
    for name in ("steps", "guidance"):
        takers = [s for s in samplers if name in reg.samplers[s].takes]
        if takers:
            out.append(_request_field(name, "int" if name == "steps" else "float", samplers=takers))
    out += _option_fields(
        options_class(resolved.family.options, f"family '{resolved.family.name}'"), "family"
    )
    for s in samplers:
        spec = reg.samplers[s]
        out += _option_fields(options_class(spec.options, f"sampler '{s}'"), f"sampler:{s}")
    return out


def _option_fields(cls: Any, group: str) -> list[FormField]:
    out = []
    for of in describe_options(cls):
        low, high = _bounds(cls.model_fields[of.name])
        out.append(
            FormField(
                name=of.name,
                kind=of.kind,
                label=of.name.replace("_", " "),
                description=of.description,
                group=group,
                default=of.default,
                minimum=low,
                maximum=high,
                choices=list(of.choices),
            )
        )
    return out


def _number(f: FormField, text: str) -> int | float:
    try:
        value: int | float = int(text) if f.kind == "int" else float(text)
    except ValueError:
        what = "a whole number" if f.kind == "int" else "a number"
        raise RequestError(f"{f.label}: '{text[:40]}' is not {what}") from None
    return value


def request_values(
    resolved: Resolved, form: dict[str, str], uploads: dict[str, str]
) -> dict[str, Any]:
    """Keyword arguments for ``zoo.api.make_request`` from a submitted form.

    ``form``: the text fields as the browser sent them (empty ones are "not given").
    ``uploads``: {"image"/"mask": path of the stored upload}, paths the server chose.
    Fields the model's form does not have are refused, as the CLI refuses a flag a model
    does not take; options of a sampler other than the chosen one are ignored (the page
    keeps them in hidden groups).
    """
    fields = form_fields(resolved)
    sampler = form.get("sampler") or next(iter(samplers_for(resolved)), None)
    known = {f.name for f in fields}
    unknown = sorted(k for k in form if k not in known)
    if unknown:
        raise RequestError(f"'{resolved.name}' has no field '{unknown[0][:40]}'")
    uploads_taken = {f.name for f in fields if f.kind == "upload"}
    for name in sorted(set(uploads) - uploads_taken):
        raise RequestError(f"'{resolved.name}' has no field '{name}'")
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for f in fields:
        if f.kind == "upload":
            if f.name in uploads:
                values[f.name] = uploads[f.name]
            continue
        if f.group.startswith("sampler:") and f.group != f"sampler:{sampler}":
            continue
        text = form.get(f.name, "")
        if f.kind in ("text", "str"):
            value: Any = text if text != "" else None
        elif f.kind == "bool":
            value = {"": None, "on": True, "true": True, "false": False}.get(text.lower(), text)
        elif f.kind == "choice":
            value = text or None
        else:
            value = _number(f, text.strip()) if text.strip() else None
        if value is None:
            continue
        if f.name == "n" and isinstance(value, int) and value > MAX_WEB_N:
            raise RequestError(f"n is at most {MAX_WEB_N} per request here; got {value}")
        if f.group == "request":
            values[f.name] = value
        else:
            options[f.name] = value
    if "sampler" in known:
        values["sampler"] = sampler
    values["options"] = options
    return values
