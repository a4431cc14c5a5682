"""``zoo reference-eval``: held-out figures of a reference network, as JSON."""

from __future__ import annotations

import json

import click


@click.command("reference-eval")
@click.argument("model")
@click.option("-n", type=click.IntRange(100), default=None, help="Use the first N held-out images.")
@click.option("--write-card", is_flag=True, help="Record the figures in the card's model-index.")
def reference_eval(model: str, n: int | None, write_card: bool) -> None:
    """Measure a reference network (classifier, clip) on held-out data; print JSON.

    Until `zoo eval` measures reference networks itself, this is how their
    cards get their figures. Any family of kind "reference" whose network
    class names an ``evaluator`` (import path) is served.
    """
    from zoo.api import describe
    from zoo.reference import measure, write_model_index

    figures = measure(model, n)
    if write_card:
        resolved = describe(model)
        command = f"zoo reference-eval {resolved.name}" + (f" -n {n}" if n else "")
        write_model_index(resolved.folder, figures["results"], command)
    click.echo(json.dumps(figures, indent=2))
