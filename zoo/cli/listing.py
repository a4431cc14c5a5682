"""``zoo list``, ``zoo info``, ``zoo plugins``: read the registry and cards; no torch."""

from __future__ import annotations

import json
from typing import Any

import click


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def _escape(text: str, limit: int = 300) -> str:
    """Terminal-safe: control characters escaped, long text cut."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of models.")
def list_cmd(pattern: str | None, as_json: bool) -> None:
    """List models: id, family, kind, process, capabilities, source, plugin.

    PATTERN filters ids with shell wildcards, e.g. 'zoo list "*-digits"'.
    """
    from zoo.catalog import list_models

    rows = list_models(pattern)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no models" + (f" match '{pattern}'" if pattern else ""))
        return
    # each column shows its --json field; "-" where the field is empty, "?" where unknown
    table = [
        [
            r["id"],
            r["family"] or "?",
            r.get("kind") or "?",
            r["process"] or ("-" if r["family"] else "?"),
            ",".join(r["capabilities"]) or ("-" if r["family"] else "?"),
            r["source"],
            r["plugin"],
        ]
        for r in rows
    ]
    header = ["ID", "FAMILY", "KIND", "PROCESS", "CAPABILITIES", "SOURCE", "PLUGIN"]
    click.echo(_table(table, header))
    for r in rows:
        if r.get("error"):
            click.echo(f"! {r['id']}: {_escape(r['error'])}", err=True)


@click.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the card's data as JSON.")
def info(model: str, as_json: bool) -> None:
    """Show the card of MODEL (id, folder path or hf:org/name[@rev])."""
    from zoo.catalog import option_names, resolve

    res = resolve(model)
    data: dict[str, Any] = res.card.model_dump(mode="json", by_alias=True, exclude_none=True)
    if as_json:
        data["id"] = res.name
        data["folder"] = str(res.folder)
        data["source"] = res.source
        data["revision"] = res.revision
        data["process"] = res.family.process
        data["sampler"] = res.default_sampler()
        data["capabilities"] = list(res.capabilities)
        data["kind"] = res.family.kind
        data["options"] = option_names(res)
        data["reconstructs"] = res.family.can_reconstruct
        data["config"] = res.config
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{res.name}  ({res.source}, revision {res.revision})")
    click.echo(f"folder: {res.folder}")
    f = res.family
    what = f.process or f.kind
    click.echo(f"family: {f.name} ({what}; {', '.join(f.capabilities) or '-'})")
    names = option_names(res)
    if names:
        flags = ", ".join("--" + o.replace("_", "-") for o in names)
        click.echo(f"options: {flags}")
    if f.can_reconstruct:
        click.echo(f"reconstructs: zoo reconstruct {res.name} --image in.png -o out.png")
    click.echo("")
    # a card is third-party text: escape control characters (ANSI sequences) line by line
    click.echo("\n".join(_escape(line, 10_000) for line in res.body.strip().splitlines()))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of plugins.")
def plugins(as_json: bool) -> None:
    """List installed plugins: status, errors and what each registers.

    Status is ok, clash (it registers a name another plugin holds: a built-in
    keeps its names, else the first plugin in name order; only that claim is
    ignored), broken (failed to import, raised in a hook or registered
    something malformed) or disabled.

    Plugins are Python packages with an entry point in the 'zoo.plugins' group.
    They run with your privileges: install only plugins you trust.
    Disable some with ZOO_DISABLE_PLUGINS=a,b or allow only some with
    ZOO_LOAD_PLUGINS=a,b (which keeps the built-in samplers, datasets and the
    shipped models of the families it loads).
    """
    from zoo.registry.discovery import get_registry

    reg = get_registry()
    rows = [p.as_dict() for p in reg.plugins.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = []
    for p in rows:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in p["registered"].items() if v)
        dist = f"{p['distribution']} {p['version']}".strip()
        table.append([p["name"], p["status"], dist, _escape(what, 80)])
    click.echo(_table(table, ["PLUGIN", "STATUS", "DISTRIBUTION", "REGISTERS"]))
    for p in rows:
        for err in p["errors"]:
            click.echo(f"! {p['name']}: {_escape(err)}")
    for msg in reg.conflicts:
        click.echo(f"! {_escape(msg)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of datasets.")
def datasets(as_json: bool) -> None:
    """List datasets (all available offline). 'folder:PATH' loads your own images too."""
    from zoo.registry.discovery import get_registry

    rows = [
        {"name": d.name, "description": d.description, "plugin": d.plugin}
        for d in sorted(get_registry().datasets.values(), key=lambda d: d.name)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        _table(
            [[r["name"], r["plugin"], r["description"]] for r in rows],
            ["DATASET", "PLUGIN", "DESCRIPTION"],
        )
    )
