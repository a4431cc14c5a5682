"""The card side of ``zoo eval``: figures into a model folder's card, and the leaderboard.

``write_card`` puts one evaluation into the card's Hub model-index and
re-renders the README (``zoo.cardtext``); ``write_figure`` stores a table a
script measured; ``leaderboard_rows`` reads every card's model-index back. None
of it imports the scoring code or torch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.cardtext import pipeline_tag, render_body
from zoo.eval_metrics import METRICS, options_label
from zoo.eval_plan import TEST_SPLIT
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.catalog import Resolved


# -- the card ---------------------------------------------------------------------------


def _short(name: str) -> str:
    """A reference network's display name: its id, or a folder's name."""
    return Path(name).name if ("/" in name or os.sep in name) else name


def model_index_metrics(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The Hub model-index ``metrics`` list of one evaluation (values that are numbers)."""
    out = []
    for m, row in result["metrics"].items():
        if row.get("value") is None:
            continue
        info = METRICS[m]
        net = result.get("clip_network") if info.needs == "clip" else result["reference_network"]
        reference = _short(net) if info.of and net else None  # pairs read no network
        of = f" ({reference} {info.of})" if reference else ""
        args = {
            "n": result["n"],
            "seed": result["seed"],
            "sampler": result["sampler"],
            **({"options": result["options"]} if result.get("options") else {}),
            "real_vs_real": row.get("real_vs_real"),
            "untrained": row.get("untrained"),
            "n_real": result["n_real"],
        }
        if reference:
            args["reference"] = reference
        name = f"{info.title}{of}{options_label(result.get('options'))}"
        out.append({"type": m, "name": name, "value": row["value"], "args": args})
    return out


def merge_model_index(
    index: list[dict[str, Any]] | None,
    name: str,
    task: str,
    dataset: str,
    split: str,
    metrics: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """``index`` with ``metrics`` put into the result for (task, dataset, split).

    A metric of the same type and name is replaced in place, new ones are appended,
    and other metrics, results and entries are kept.
    """
    entries = [dict(e) for e in (index or [])]
    entry = next((e for e in entries if e.get("name") == name), None)
    if entry is None:
        entry = {"name": name, "results": []}
        entries.append(entry)
    results = [dict(res) for res in entry.get("results", [])]
    entry["results"] = results
    want = {"task": {"type": task}, "dataset": {"name": dataset, "type": dataset, "split": split}}
    result = next(
        (
            res
            for res in results
            if res.get("task", {}).get("type") == task
            and res.get("dataset", {}).get("name") == dataset
            and res.get("dataset", {}).get("split") == split
        ),
        None,
    )
    if result is None:
        result = {**want, "metrics": []}
        results.append(result)
    new = {(m["type"], m["name"]): m for m in metrics}
    merged = [new.pop((m.get("type"), m.get("name")), m) for m in result.get("metrics", [])]
    result["metrics"] = merged + list(new.values())
    return entries


def check_writable(resolved: Resolved) -> None:
    """Raise unless the model is a folder (shipped in cards/ or local) that can be written."""
    if resolved.source == "hub":
        raise RequestError(
            f"'{resolved.name}' is a Hub model; --write-card writes only model folders "
            "(evaluate a local copy of it, then upload that)"
        )
    if not os.access(resolved.folder, os.W_OK):
        raise RequestError(
            f"cannot write to {resolved.folder}; --write-card needs a writable model folder"
        )


def write_card(result: dict[str, Any], model: str | None = None) -> Path:
    """Put an evaluation into its model folder's card (model-index) and re-render the README.

    Only folder models (shipped in cards/ or a local folder) can be written; the
    README is replaced atomically.

    Returns:
        The README.md path.
    """
    from zoo.catalog import resolve
    from zoo.images import atomic_write
    from zoo.registry.cards import render_card

    r = resolve(model or result["model"])
    check_writable(r)
    if r.revision != result["revision"]:
        raise RequestError(
            f"'{r.name}' changed since it was evaluated ({result['revision']} -> {r.revision}); "
            "evaluate it again"
        )
    card = r.card
    index = merge_model_index(
        card.model_index,
        r.folder.name,
        card.pipeline_tag or pipeline_tag(r.family.capabilities),
        result["dataset"],
        result.get("split", TEST_SPLIT),
        model_index_metrics(result),
    )
    card = card.model_copy(update={"model_index": index})
    text = render_card(card, render_body(r.folder.name, card, r.family))
    path = r.folder / "README.md"
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def write_figure(
    model: str,
    key: str,
    *,
    title: str,
    command: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    note: str = "",
) -> Path:
    """Store a table under ``zoo.figures[key]`` of a model folder's card; re-render README.md.

    For figures that are not `zoo eval` rows: a comparison over training, a sweep
    measured by a script. ``command`` is written beside the table and must reproduce it.

    Returns:
        The README.md path.
    """
    from pydantic import ValidationError

    from zoo.catalog import resolve
    from zoo.images import atomic_write
    from zoo.registry.cards import render_card
    from zoo.registry.schemas import Figure

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", key):
        raise RequestError(f"figure key '{key}' must be lowercase letters, digits, '_' or '-'")
    try:
        figure = Figure(
            title=title,
            command=command,
            columns=list(columns),
            rows=[[_plain(v) for v in row] for row in rows],
            note=note,
        )
    except ValidationError as err:
        from zoo.api import format_validation

        raise RequestError(format_validation(err, f"invalid figure '{key}'")) from None
    r = resolve(model)
    check_writable(r)
    card = r.card
    zoo_section = card.zoo.model_copy(update={"figures": {**card.zoo.figures, key: figure}})
    card = card.model_copy(update={"zoo": zoo_section})
    text = render_card(card, render_body(r.folder.name, card, r.family))
    path = r.folder / "README.md"
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch as Python numbers (6 significant digits), other values as is."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


# -- the leaderboard --------------------------------------------------------------------


def leaderboard_rows() -> list[dict[str, Any]]:
    """Every registered generator x metric in the cards' model-index (no torch, no downloads).

    Returns:
        One dict per figure: model, family, task, dataset, split, metric, name,
        value, real_vs_real, untrained, n, seed, sampler, reference.
    """
    from zoo.catalog import resolve_spec
    from zoo.registry.discovery import get_registry
    from zoo.registry.errors import ZooError

    reg = get_registry()
    rows = []
    for mid in sorted(reg.models):
        for spec in reg.models[mid]:
            try:
                r = resolve_spec(spec, reg, download=False)
            except ZooError:
                continue  # unreadable or not pulled: `zoo list` reports it
            if r.family.kind == "reference":
                continue  # reference networks record accuracies, not generation metrics
            for entry in r.card.model_index or []:
                for res in entry.get("results", []):
                    ds = res.get("dataset", {})
                    for m in res.get("metrics", []):
                        args = m.get("args") or {}
                        rows.append(
                            {
                                # a setting (e.g. truncation) is its own row, beside the plain one
                                "model": mid + options_label(args.get("options")),
                                "family": r.family.name,
                                "task": res.get("task", {}).get("type"),
                                "dataset": ds.get("name"),
                                "split": ds.get("split"),
                                "metric": m.get("type"),
                                "name": m.get("name"),
                                "value": m.get("value"),
                                "real_vs_real": args.get("real_vs_real"),
                                "untrained": args.get("untrained"),
                                "n": args.get("n"),
                                "seed": args.get("seed"),
                                "sampler": args.get("sampler"),
                                "reference": args.get("reference"),
                            }
                        )
    return rows
