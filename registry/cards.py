"""Model cards: README.md with Hub-compatible YAML front matter.

Reading is defensive (size cap, safe loader without aliases, strict schema),
since cards come from the Hub and from plugins as well as from us.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zoo.registry.errors import CardError
from zoo.registry.schemas import ModelCard

MAX_CARD_BYTES = 1 << 20
CARD_FILE = "README.md"
CONFIG_FILE = "config.json"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_yaml(text: str) -> Any:
    """Safe YAML without anchors/aliases, so 'billion laughs' documents are refused."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 2 if event.start_mark else "?"  # README line
            raise yaml.YAMLError(f"YAML aliases are not allowed in cards (line {line})")
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def _first_non_finite(data: Any) -> tuple[str, float] | None:
    """The path (``model-index[0].results[0].metrics[0].value``) and value of the first
    NaN or infinite number in parsed YAML, in document order; None if there is none.

    YAML's ``.nan`` and ``.inf`` parse to floats that fields typed ``Any`` (model-index,
    the zoo section's training and sampling records) would keep, and JSON would turn
    into null; a card's figures must be finite numbers.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # iterative: a deeply nested document must not exhaust the stack
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path, value
        if isinstance(value, dict):
            items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        stack.extend(reversed(items))
    return None


def split_front_matter(text: str, where: str = "card") -> tuple[str, str]:
    """Return (yaml, body) of a README with a leading '---' block; ``where`` names it in errors."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise CardError(f"{where}: no YAML front matter (it must start with a '---' line)")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    raise CardError(f"{where}: the front matter is not closed by a '---' line")


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line of a YAML error, with the line and column in the README (the front matter
    starts on its second line)."""
    if isinstance(err, yaml.MarkedYAMLError):
        what = ": ".join(x for x in (err.context, err.problem) if x) or "invalid YAML"
        mark = err.problem_mark or err.context_mark
        if mark is not None:
            return f"{what} (line {mark.line + 2}, column {mark.column + 1})"
        return what
    return str(err).splitlines()[0]


def parse_card_text(text: str, where: str = "card") -> tuple[ModelCard, str]:
    front, body = split_front_matter(text, where)
    try:
        data = _safe_yaml(front)
    except yaml.YAMLError as err:
        raise CardError(f"{where}: invalid YAML front matter: {_yaml_problem(err)}") from None
    if not isinstance(data, dict):
        raise CardError(f"{where}: front matter must be a mapping")
    if "zoo" not in data:
        raise CardError(
            f"{where}: missing field 'zoo' (family and weight hashes); is this a zoo model card?"
        )
    bad = _first_non_finite(data)
    if bad is not None:
        path, value = bad
        what = "NaN" if math.isnan(value) else "infinite"
        raise CardError(
            f"{where}: {path} is {what}; a card's numbers must be finite (write null for none)"
        )
    try:
        card = ModelCard.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:5]
        )
        raise CardError(f"{where}: {problems}") from None
    unknown = card.unknown_fields()
    hub_fields = {"base_model", "language", "metrics", "inference", "widget", "thumbnail"}
    if set(unknown) - hub_fields:
        warnings.warn(
            f"{where}: unknown card fields {', '.join(sorted(set(unknown) - hub_fields))}",
            stacklevel=2,
        )
    return card, body


def read_card(folder: str | Path) -> tuple[ModelCard, str]:
    """Read and validate ``folder/README.md``; returns (card, markdown body)."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise CardError(
            f"model folder {folder} has no {CARD_FILE} card; train or pull the model again"
        )
    size = path.stat().st_size
    if size > MAX_CARD_BYTES:
        raise CardError(f"card {path} is {size} bytes; the limit is {MAX_CARD_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CardError(f"card {path} is not UTF-8 text") from None
    return parse_card_text(text, str(path))


def read_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CardError(f"model folder {folder} has no {CONFIG_FILE}")
    return read_json_object(path, MAX_CARD_BYTES)


def read_json_object(path: Path, limit: int) -> dict[str, Any]:
    """A JSON file holding an object, at most ``limit`` bytes; CardError in one line if not."""
    if path.stat().st_size > limit:
        raise CardError(f"{path} is larger than {limit} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise CardError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise CardError(f"{path} must hold a JSON object")
    return data


def render_card(card: ModelCard, body: str) -> str:
    """README.md text: front matter from the card, then the markdown body."""
    data = card.model_dump(mode="json", by_alias=True, exclude_none=True)
    front = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n\n{body.lstrip()}"
