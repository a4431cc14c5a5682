"""Write the README's model table from the registry and the cards, so it cannot drift.

The table sits between the markers ``<!-- models:begin ... -->`` and
``<!-- models:end -->`` in README.md. What a model takes (its conditions), its
options (its family's, its samplers' and the shared request fields its samplers
take), its family and its parameter count come from the registry and the card; the
columns "what it is", "FID ↓" and "sample" are prose and figures chosen by hand, so
they are kept from the README's current row for each model (a model new to the
table gets its family's description, "-" and its samples.png). Rows follow the
README's current order; new models come last; models no longer registered go.

    python scripts/readme_tables.py          # rewrite the table
    python scripts/readme_tables.py --check  # exit 1 if the README differs (CI, tests)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- models:begin"
END = "<!-- models:end -->"
MARKER = (
    "<!-- models:begin: written by `python scripts/readme_tables.py` from the registry; "
    'edit "what it is", "FID ↓" and "sample" here, the other columns come from the code -->'
)
COLUMNS = ("id", "family", "what it is", "takes", "options", "params", "FID ↓", "sample")
BY_HAND = ("what it is", "FID ↓", "sample")
ALIGN = {"params": "---:", "FID ↓": "---:"}
KINDS = ("generator", "autoencoder")  # reference networks have a table of their own
CONDITION_FLAGS = {"text": "--prompt", "image": "--image", "mask": "--mask", "control": "--control"}
PIPE = "\\|"  # a "|" inside a table cell


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` stays inside its cell)."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def parse_table(block: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(model ids in order, {id: {column: cell}}) of the table in ``block``."""
    lines = [ln for ln in block.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return [], {}
    header = _cells(lines[0])
    order, rows = [], {}
    for line in lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise SystemExit(f"README.md's model table: {len(cells)} cells in the row {line!r}")
        row = dict(zip(header, cells, strict=True))
        mid = row.get("id", "").strip("`")
        order.append(mid)
        rows[mid] = row
    return order, rows


def _params(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1e6:.3g}M"
    return f"{round(n / 1000)}k"


def _flag(field: Any) -> str:
    """How ``zoo sample --help`` spells an option: bools by their non-default side."""
    if field.kind == "bool":
        off = f"--no-{field.name.replace('_', '-')}"
        if field.default is None:  # the model's own default unless told
            return f"`{field.flag}/{off}`"
        return f"`{off}`" if field.default else f"`{field.flag}`"
    if field.choices:
        return f"`{field.flag} {PIPE.join(field.choices)}`"
    return f"`{field.flag}`"


def required(resolved: Any) -> tuple[str, ...]:
    """The conditions this model cannot draw without (an upsampler's image), from its
    generator built with random weights."""
    from zoo.registry.discovery import load_object

    cls = load_object(resolved.family.generator)
    return tuple(cls(cls.config_class(**resolved.config)).required_conditions())


def takes(resolved: Any) -> str:
    """The conditions a model takes, as the CLI spells them."""
    fam = resolved.family
    if fam.kind == "autoencoder":
        return "images: `zoo reconstruct` only"
    caps = fam.capabilities
    parts = []
    if "class" in caps:
        n = resolved.num_classes
        parts.append(f"`--label 0..{n - 1}`" if n else "`--label`")
    must = required(resolved)
    parts += [
        f"`{flag}`" + (" (required)" if cap in must else "")
        for cap, flag in CONDITION_FLAGS.items()
        if cap in caps
    ]
    text = ", ".join(parts) if parts else "nothing (unconditional)"
    if parts and "unconditional" in caps and not must:
        text += " or nothing"
    if fam.can_reconstruct:
        text += "; also `zoo reconstruct`"
    return text


def options(resolved: Any) -> str:
    """The family's options, then what its samplers take: ``--sampler`` when there are
    several, the shared fields they take (``--steps``, ``--guidance``) and their options,
    each naming its samplers when not all of them take it."""
    from zoo.catalog import options_class
    from zoo.registry.discovery import get_registry
    from zoo.registry.options import describe_options

    fam = resolved.family
    if fam.process is None:
        return "-"
    reg = get_registry()
    flags = [_flag(f) for f in describe_options(options_class(fam.options, fam.name))]
    default = resolved.default_sampler()
    samplers = sorted(
        (s for s in reg.samplers.values() if s.process == fam.process),
        key=lambda s: (s.name != default, s.name),
    )
    if len(samplers) > 1:
        flags.append(f"`--sampler {PIPE.join(s.name for s in samplers)}`")
    conditioned = set(fam.capabilities) - {"unconditional"}
    shared = [
        t for t in ("steps", "guidance") if any(t in s.takes for s in samplers)
    ]  # guidance needs a condition to guide by
    flags += [f"`--{t}`" for t in shared if t == "steps" or conditioned]
    by_option: dict[str, list[str]] = {}
    for s in samplers:
        for f in describe_options(options_class(s.options, s.name)):
            by_option.setdefault(_flag(f), []).append(s.name)
    for flag, names in by_option.items():
        whose = "" if len(names) == len(samplers) else f" ({', '.join(names)})"
        flags.append(flag + whose)
    return ", ".join(flags) if flags else "-"


def render(current: str) -> str:
    """The table for the registry's shipped models, keeping the hand-written cells of
    ``current`` (the README's table block)."""
    from zoo.catalog import resolve_spec
    from zoo.registry.discovery import get_registry

    reg = get_registry()
    found = {}
    for mid, specs in reg.models.items():
        shipped = [s for s in specs if s.plugin == "cards"]
        if len(shipped) == 1:
            res = resolve_spec(shipped[0], reg, download=False)
            if res.family.kind in KINDS:
                found[mid] = res
    order, old = parse_table(current)
    ids = [m for m in order if m in found] + sorted(set(found) - set(order))
    lines = [_row(list(COLUMNS)), _row([ALIGN.get(c, "---") for c in COLUMNS])]
    for mid in ids:
        res = found[mid]
        kept = old.get(mid, {})
        sample = f"![](cards/{mid}/samples.png)" if (res.folder / "samples.png").exists() else "-"
        fresh = {
            "id": f"`{mid}`",
            "family": f"`{res.family.name}`",
            "what it is": res.family.description or "-",
            "takes": takes(res),
            "options": options(res),
            "params": _params(res.card.zoo.parameters),
            "FID ↓": "-",
            "sample": sample,
        }
        for col in BY_HAND:
            if kept.get(col):
                fresh[col] = kept[col]
        lines.append(_row([fresh[c] for c in COLUMNS]))
    return "\n".join(lines)


def rewrite(text: str) -> str:
    """``text`` (README.md) with the table between the markers written afresh."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no '{BEGIN} ...' / '{END}' pair around the model table")
    block = text[text.index("\n", start) + 1 : end]
    return text[:start] + MARKER + "\n\n" + render(block) + "\n\n" + text[end:]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's table differs")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    new = rewrite(text)
    if args.check:
        if new != text:
            print(
                f"{args.readme}: the model table differs from the registry; "
                "run `python scripts/readme_tables.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        print(f"{args.readme}: model table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
