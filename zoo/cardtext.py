"""Model card text, rendered from the card's data: never typed by hand.

``zoo train`` (and later ``zoo eval``) write figures into the card's YAML;
the markdown body is made from them here, so the prose cannot drift from the
numbers.
"""

from __future__ import annotations

from typing import Any

from zoo.registry.schemas import FamilySpec, ModelCard

PIPELINE_TAGS = {
    "text": "text-to-image",
    "image": "image-to-image",
    "control": "image-to-image",
}


def pipeline_tag(capabilities: tuple[str, ...]) -> str:
    for cap, tag in PIPELINE_TAGS.items():
        if cap in capabilities:
            return tag
    return "unconditional-image-generation"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _table(rows: dict[str, Any]) -> str:
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows.items()]
    return "\n".join(lines)


def render_body(model_id: str, card: ModelCard, family: FamilySpec) -> str:
    z = card.zoo
    t = z.training
    s = z.sampling
    parts = [f"# {model_id}", ""]
    parts.append(
        f"A `{family.name}` model ({family.description or family.process}) "
        f"trained by the zoo on the `{z.dataset}` dataset. Parameters used for sampling: "
        f"{z.parameters:,}."
        if z.parameters is not None
        else f"A `{family.name}` model."
    )
    parts += ["", "![samples](samples.png)", ""]
    parts += ["## Use", "", "```bash"]
    example = f"zoo sample {model_id} -n 16 --seed 0 -o grid.png"
    if "class" in family.capabilities:
        example = f"zoo sample {model_id} --label 7 -n 8 --seed 0 -o sevens.png"
    parts += [
        example,
        "```",
        "",
        "```python",
        "import zoo",
        "",
        f'model = zoo.load("{model_id}")',
        "samples = model.sample(n=16, seed=0)  # samples.images: (16, C, H, W) in [0, 1]",
        "```",
        "",
    ]
    if t:
        parts += ["## Training", "", f"Reproduce with `{t.get('command', '')}`.", ""]
        rows = {k: v for k, v in t.items() if k not in ("command", "recipe", "final_losses")}
        parts += [_table(rows), ""]
        if t.get("recipe"):
            parts += ["Recipe:", "", _table(t["recipe"]), ""]
        if t.get("final_losses"):
            parts += ["Losses averaged over the last 100 steps:", "", _table(t["final_losses"]), ""]
    if s:
        parts += ["## Sampling speed", "", f"Measured by `{s.get('command', '')}`.", ""]
        parts += [_table({k: v for k, v in s.items() if k != "command"}), ""]
    if card.model_index:
        parts += ["## Evaluation", ""]
        for entry in card.model_index:
            for result in entry.get("results", []):
                for m in result.get("metrics", []):
                    parts.append(f"- {m.get('name', m.get('type'))}: {_fmt(m.get('value'))}")
        parts.append("")
    parts += [
        "## Limitations",
        "",
        f"Trained on a small offline dataset (`{z.dataset}`) on a CPU in minutes: a teaching "
        "and testing model, not a general image generator.",
        "",
    ]
    return "\n".join(parts)
