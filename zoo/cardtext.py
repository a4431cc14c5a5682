"""Model card text, rendered from the card's data: never typed by hand.

``zoo train`` and ``zoo eval`` write figures into the card's YAML; the markdown
body is made from them here, so the prose cannot drift from the numbers. The
metric titles and directions come from ``zoo.eval_metrics``, which imports none
of the scoring code.
"""

from __future__ import annotations

import json
from typing import Any

from zoo.eval_metrics import METRICS
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


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _evaluation(model_index: list[dict[str, Any]]) -> list[str]:
    """The "## Evaluation" section: per result, a table of each metric beside its reference rows.

    `zoo eval --write-card` stores the rows in each metric's ``args``
    (``real_vs_real``, ``untrained``) with ``n``, ``seed`` and ``sampler``; metrics
    measured with other settings get a table of their own.
    """
    parts = ["## Evaluation", ""]
    intro_done = False
    for entry in model_index:
        for result in entry.get("results", []):
            ds = result.get("dataset", {})
            groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for m in result.get("metrics", []):
                a = m.get("args") or {}
                opts = json.dumps(a.get("options") or {}, sort_keys=True)
                key = (a.get("n"), a.get("seed"), a.get("sampler"), a.get("n_real"), opts)
                groups.setdefault(key, []).append(m)
            for (n, seed, sampler, n_real, opts), metrics in groups.items():
                split = f" {ds['split']}" if ds.get("split") else ""
                where = f"the `{ds.get('name')}`{split} split"
                if n_real:
                    where += f" ({_count(n_real)} images)"
                how = f"Measured by `zoo eval` against {where}"
                if sampler == "reconstruct":
                    how += f": reconstructions of its first {_count(n)} images"
                elif n is not None:
                    how += f" with {_count(n)} generated images (seed {seed}, sampler `{sampler}`)"
                if opts != "{}":
                    flags = " ".join(
                        f"--option {k}={json.dumps(v) if isinstance(v, bool) else v}"
                        for k, v in json.loads(opts).items()
                    )
                    how += f", drawn with `{flags}`"
                parts += [how + ".", ""]
                if not intro_done:
                    parts += [
                        "Beside each figure, the same metric for real data (train-split images "
                        "against the test split, same number: what a perfect generator would "
                        "reach) and for an untrained generator of this family (this config, "
                        "fresh weights seeded 0: a floor). ↓ lower is better, ↑ higher.",
                        "",
                    ]
                    intro_done = True
                parts += ["| metric | this model | real vs real | untrained |"]
                parts += ["| --- | ---: | ---: | ---: |"]
                for m in metrics:
                    info = METRICS.get(str(m.get("type")))
                    arrow = "" if info is None else (" ↑" if info.higher_is_better else " ↓")
                    a = m.get("args") or {}
                    cells = [m.get("value"), a.get("real_vs_real"), a.get("untrained")]
                    shown = " | ".join("-" if v is None else _fmt(v) for v in cells)
                    parts.append(f"| {m.get('name', m.get('type'))}{arrow} | {shown} |")
                parts.append("")
    return parts


def _example(family: FamilySpec) -> tuple[str, str]:
    """CLI flags and Python keyword arguments of a typical request to this family."""
    caps = family.capabilities
    if "text" in caps:
        return ' --prompt "a large red circle"', ', prompt="a large red circle"'
    if "image" in caps or "control" in caps:
        return " --image example-input.png", ', image="example-input.png"'
    if "class" in caps:
        return " --label 1", ", label=1"
    return "", ""


def _sampling(s: dict[str, Any]) -> list[str]:
    """The "## Sampling speed" section: median and min-max over `zoo bench`'s repeats.

    Cards measured before `zoo bench` repeated its draws hold one time (``seconds``);
    they get a plain table of what they record.
    """
    from zoo.bench import spread_text

    parts = ["## Sampling speed", ""]
    if "seconds_per_batch" not in s:
        parts += [f"Measured by `{s.get('command', '')}`.", ""]
        return parts + [_table({k: v for k, v in s.items() if k != "command"}), ""]
    request = f" (`{s['request']}`)" if s.get("request") else ""
    parts += [
        f"Measured by `{s.get('command', '')}`: one warm-up batch of {s.get('images')} "
        f"images{request}, then {s.get('repeats')} timed batches of the same request on the "
        f"{s.get('device', 'cpu')} ({s.get('threads')} threads, Python {s.get('python')}); "
        f"medians with the {s.get('spread', 'min-max')} over the repeats.",
        "",
        "| | median (min-max) |",
        "| --- | --- |",
        f"| per batch of {s.get('images')} | {spread_text(s['seconds_per_batch'])} |",
        f"| per image | {spread_text(s['seconds_per_image'])} |",
        f"| images per second | {_fmt(s.get('images_per_second'))} |",
        "",
    ]
    return parts


def render_body(model_id: str, card: ModelCard, family: FamilySpec) -> str:
    z = card.zoo
    t = z.training
    s = z.sampling
    parts = [f"# {model_id}", ""]
    parts.append(
        f"A `{family.name}` model ({family.description or family.process}) "
        f"trained by the zoo on the `{z.dataset}` dataset. Parameters: "
        f"{z.parameters:,}."
        if z.parameters is not None
        else f"A `{family.name}` model."
    )
    if family.kind == "reference":
        parts += [
            "",
            "A reference network: `zoo eval` uses its features and logits in place of",
            "Inception's (FID, IS, KID, precision/recall) or CLIP's.",
            "",
        ]
        parts += [
            "## Use",
            "",
            "```python",
            "import zoo",
            "",
            f'net = zoo.load("{model_id}").network',
            "features = net.features(images)  # images: (B, C, H, W) in [0, 1]",
            "```",
            "",
        ]
    elif family.kind == "autoencoder":
        parts += ["", "![test images over their reconstructions](samples.png)", ""]
        parts += [
            "An autoencoder: it reconstructs images but cannot generate (`zoo sample` refuses "
            "it; its codes follow no known distribution).",
            "",
            "## Use",
            "",
            "```bash",
            f"zoo reconstruct {model_id} --image in.png -o out.png [--noise 0.3 --grid]",
            f"zoo interpolate {model_id} --images a.png b.png --steps 8 -o walk.png",
            "```",
            "",
            "```python",
            "import zoo",
            "",
            f'model = zoo.load("{model_id}")',
            'out = model.reconstruct(images)["output"]  # images: (N, C, H, W) in [0, 1]',
            "```",
            "",
        ]
    else:
        parts += ["", "![samples](samples.png)", ""]
        parts += ["## Use", "", "```bash"]
        flags, kwargs = _example(family)
        parts += [
            f"zoo sample {model_id}{flags} -n 8 --seed 0 -o grid.png",
            "```",
            "",
            "```python",
            "import zoo",
            "",
            f'model = zoo.load("{model_id}")',
            f"samples = model.sample(n=8, seed=0{kwargs})  # samples.images: (8, C, H, W) in [0, 1]",
            "```",
            "",
        ]
        if family.options:
            from zoo.registry.discovery import load_object
            from zoo.registry.options import describe_options

            fields = describe_options(load_object(family.options))
            opts = ", ".join(f"`{f.flag}`" for f in fields)
            parts += [f"Options of this family: {opts} (see `zoo sample --help`).", ""]
        if family.can_reconstruct:
            parts += [
                f"It also reconstructs: `zoo reconstruct {model_id} --image in.png -o out.png`.",
                "",
                "![test images over their reconstructions](reconstructions.png)",
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
        parts += _sampling(s)
    if card.model_index:
        parts += _evaluation(card.model_index)
    for figure in z.figures.values():
        parts += [f"## {figure.title}", "", f"Reproduce with `{figure.command}`.", ""]
        parts += ["| " + " | ".join(figure.columns) + " |"]
        parts += ["| " + " | ".join("---" for _ in figure.columns) + " |"]
        for row in figure.rows:
            parts += ["| " + " | ".join("-" if v is None else _fmt(v) for v in row) + " |"]
        parts += [""]
        if figure.note:
            parts += [figure.note, ""]
    parts += [
        "## Limitations",
        "",
        f"Trained on a small offline dataset (`{z.dataset}`) on a CPU in minutes: a teaching "
        "and testing model, not a general image generator.",
        "",
    ]
    return "\n".join(parts)
