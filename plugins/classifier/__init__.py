"""Classifier family: registration, and the ``zoo reference-eval`` command (torch loads on use)."""

from zoo.registry import hookimpl
from zoo.registry.schemas import FamilySpec


@hookimpl
def register_families(register):
    register(
        FamilySpec(
            name="classifier",
            kind="reference",
            generator="zoo.plugins.classifier.model:ClassifierNetwork",
            trainer="zoo.plugins.classifier.train:ClassifierRecipe",
            description=(
                "small VGG-style CNN per dataset (class or attribute heads) whose features and "
                "logits stand in for Inception's in FID, KID and IS"
            ),
        )
    )


@hookimpl
def register_commands(cli):
    import click

    @cli.command("reference-eval")
    @click.argument("model")
    @click.option(
        "-n", type=click.IntRange(100), default=None, help="Use the first N held-out images."
    )
    @click.option(
        "--write-card", is_flag=True, help="Record the figures in the card's model-index."
    )
    def reference_eval(model: str, n: int | None, write_card: bool) -> None:
        """Measure a reference network (classifier, clip) on held-out data; print JSON.

        Until `zoo eval` measures reference networks itself, this is how their
        cards get their figures. Any family of kind "reference" whose network
        class names an ``evaluator`` (import path) is served.
        """
        import json

        from zoo.api import describe
        from zoo.registry.discovery import load_object
        from zoo.registry.errors import RequestError

        resolved = describe(model)
        family = resolved.family
        evaluator = getattr(load_object(family.generator), "evaluator", None)
        if family.kind != "reference" or evaluator is None:
            raise RequestError(
                f"'{model}' is not a reference network with an evaluator; use `zoo eval` for it"
            )
        figures = load_object(evaluator)(model, n=n)
        if write_card:
            command = f"zoo reference-eval {resolved.name}" + (f" -n {n}" if n else "")
            write_model_index(resolved.folder, figures["results"], command)
        click.echo(json.dumps(figures, indent=2))


def write_model_index(folder, results, command):
    """Replace the card's model-index with ``results`` (each metric naming ``command``)."""
    from zoo.cardtext import render_body
    from zoo.images import atomic_write
    from zoo.registry.cards import read_card, render_card
    from zoo.registry.discovery import get_registry

    card, _ = read_card(folder)
    for result in results:
        for metric in result["metrics"]:
            metric["args"] = {"command": command}
    card = card.model_copy(update={"model_index": [{"name": folder.name, "results": results}]})
    text = render_card(card, render_body(folder.name, card, get_registry().family(card.zoo.family)))
    atomic_write(folder / "README.md", lambda f: f.write(text.encode()))
