"""Held-out figures of reference networks (classifier, CLIP): what ``zoo reference-eval`` runs.

The app loads the network and its dataset; the family's evaluator (the import path its
network class declares as ``ReferenceNetwork.evaluator``) computes the figures from them,
so the family never imports the app.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.registry.contracts import ReferenceNetwork


def evaluator_of(model: str) -> str:
    """The import path of a reference network's evaluator; RequestError for anything else."""
    from zoo.api import describe
    from zoo.registry.discovery import load_object

    family = describe(model).family
    network = load_object(family.generator) if family.kind == "reference" else None
    path = network.evaluator if _is_reference(network) else None
    if path is None:
        raise RequestError(
            f"'{model}' is not a reference network with an evaluator; use `zoo eval` for it"
        )
    return path


def _is_reference(cls: Any) -> TypeGuard[type[ReferenceNetwork]]:
    from zoo.registry.contracts import ReferenceNetwork

    return isinstance(cls, type) and issubclass(cls, ReferenceNetwork)


def measure(model: str, n: int | None = None) -> dict[str, Any]:
    """Measure a reference network (model id or folder) on its dataset's held-out splits.

    Returns:
        {"model": its id, "results": [...] (a card's model-index results), and any other
        figures its evaluator gives}.
    """
    from zoo.api import load
    from zoo.data import load_split
    from zoo.registry.discovery import load_object

    evaluate: Callable[..., dict[str, Any]] = load_object(evaluator_of(model))
    m = load(model, device="cpu")
    network = m.network
    dataset: str = m.card.zoo.dataset
    image_size: int = network.config.image_size

    def split(name: str) -> dict[str, Any]:
        return load_split(dataset, name, image_size)

    return {"model": m.id, **evaluate(network, dataset, split, n=n)}


def write_model_index(folder: Path, results: list[dict[str, Any]], command: str) -> None:
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
