"""``zoo eval`` and ``zoo leaderboard``."""

from __future__ import annotations

import json
from typing import Any

import click

from zoo.registry.errors import RequestError

ROWS = (("value", "model"), ("real_vs_real", "real vs real"), ("untrained", "untrained"))


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _arrow(metric: str) -> str:
    from zoo.eval_metrics import METRICS

    info = METRICS.get(metric)
    return "" if info is None else (" ↑" if info.higher_is_better else " ↓")


@click.command("eval")
@click.argument("model")
@click.option(
    "--metrics",
    help="Comma-separated metrics (default: the model's): fid,is,kid,precision,recall for "
    "unconditional and class models; text models add clip_score,prompt_accuracy; "
    "image-conditioned models ssim,psnr.",
)
@click.option("-n", "--n", "n", type=int, default=1000, show_default=True, help="Images to draw.")
@click.option("--seed", type=int, default=0, show_default=True, help="Image i is seeded SEED+i.")
@click.option(
    "--batch-size", type=int, default=64, show_default=True, help="Images per forward pass."
)
@click.option(
    "--reference", help="Reference network (id or folder) instead of classifier-<dataset>."
)
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Draw with an option of the model's family or sampler (repeatable), e.g. "
    "truncation=0.5, direction=b2a, stage=1, rerank=8; figures per setting stay apart.",
)
@click.option("--sampler", help="Draw with this sampler (default: the model's).")
@click.option("--steps", type=int, help="Sampler steps (iterative samplers).")
@click.option("--guidance", type=float, help="Guidance scale (diffusion models).")
@click.option(
    "--split",
    default="test",
    show_default=True,
    help="Split of real images and conditions (scenes also have 'heldout': the attribute "
    "pairs training never saw).",
)
@click.option("--device", help="cpu, cuda or mps (default: the best available).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help="Where drawn images are kept (default: $ZOO_CACHE/eval, else ~/.cache/zoo/eval).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--write-card", is_flag=True, help="Record the figures in the model folder's card.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def eval_cmd(
    model: str,
    metrics: str | None,
    n: int,
    seed: int,
    batch_size: int,
    reference: str | None,
    option_pairs: tuple[str, ...],
    sampler: str | None,
    steps: int | None,
    guidance: float | None,
    split: str,
    device: str | None,
    cache_dir: str | None,
    as_json: bool,
    write_card: bool,
    quiet: bool,
) -> None:
    """Score MODEL's samples against the test split of its dataset.

    Each figure comes with two reference rows measured the same way: real vs
    real (N train images against the test split: what a perfect generator
    reaches) and untrained (the same family and config with fresh weights
    seeded 0: a floor). Features come from the zoo's reference network for the
    dataset (classifier-<dataset>; clip-<dataset> for CLIP score). Drawn images
    are cached, so a second run resumes.

    \b
    Examples:
      zoo eval dcgan-digits
      zoo eval cgan-digits -n 1000 --metrics fid,is --json
      zoo eval runs/dcgan --write-card
      zoo eval biggan-digits --option truncation=0.5 --write-card
      zoo eval ddpm-digits --sampler dpm++2m --steps 20 --guidance 3

    --sampler, --steps and --guidance are kept with the figures like options.
    """
    from zoo.eval_card import check_writable
    from zoo.eval_plan import plan
    from zoo.evaluate import check_numbers, check_options, evaluate, parse_options

    check_numbers(n, seed, batch_size)  # bad input fails here, before any weights load
    options = parse_options(option_pairs)
    given = {"sampler": sampler, "steps": steps, "guidance": guidance}
    for key, value in given.items():
        if value is not None:
            if key in options:
                raise RequestError(f"--{key} is given twice (as --{key} and --option)")
            options[key] = value
    p = plan(model, metrics, reference)
    options = check_options(p.resolved, options)
    if write_card:
        check_writable(p.resolved)
    result = evaluate(
        p,
        n=n,
        seed=seed,
        batch_size=batch_size,
        device=device,
        cache_dir=cache_dir,
        progress=not quiet,
        options=options,
        split=split,
    )
    path = None
    if write_card:
        from zoo.eval_card import write_card as write

        path = write(result, model)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(_report(result))
    if path is not None:
        click.echo(f"wrote {path}", err=as_json)


def _report(result: dict[str, Any]) -> str:
    from zoo.eval_metrics import METRICS

    head = (
        f"{result['model']} ({result['revision']}): {result['n']} images, seed {result['seed']}, "
        f"sampler {result['sampler']}"
        + "".join(f", {k}={v}" for k, v in (result.get("options") or {}).items())
        + f", against the {result['dataset']} {result['split']} split "
        f"({result['n_real']} images)"
        + (
            f"; reference network {result['reference_network']}"
            if result["reference_network"]
            else ""
        )
        + (f", {result['clip_network']}" if result.get("clip_network") else "")
    )
    rows = [["metric", *(label for _, label in ROWS)]]
    for m, row in result["metrics"].items():
        rows.append([METRICS[m].title + _arrow(m), *(_num(row.get(k)) for k, _ in ROWS)])
    lines = [head, "", _align(rows)]
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


# -- leaderboard ------------------------------------------------------------------------


def tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group leaderboard rows into one table per (dataset, split, reference network).

    Each table: {dataset, split, reference, metrics: [type], rows: [(label, {type: value})]}
    with the models sorted by their first metric, then the real-vs-real row(s), then
    the untrained rows: one per family, or one per model where their configs differ.
    """
    from zoo.eval_metrics import METRIC_NAMES, METRICS

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["split"], r["reference"]), []).append(r)
    out = []
    for (dataset, split, ref), figures in sorted(groups.items(), key=lambda kv: str(kv[0])):
        order = [m for m in METRIC_NAMES if any(f["metric"] == m for f in figures)]
        models: dict[str, dict[str, Any]] = {}
        real: dict[Any, dict[str, Any]] = {}
        untrained: dict[str, dict[str, Any]] = {}  # per model: its config's untrained twin
        family: dict[str, str] = {}
        for f in figures:
            models.setdefault(f["model"], {"n": f["n"]})[f["metric"]] = f["value"]
            real.setdefault(f["n"], {"n": f["n"]})[f["metric"]] = f["real_vs_real"]
            untrained.setdefault(f["model"], {"n": f["n"]})[f["metric"]] = f["untrained"]
            family[f["model"]] = f["family"]
        first = order[0] if order else None

        def key(item: tuple[str, dict[str, Any]], first: Any = first) -> tuple[Any, ...]:
            v = item[1].get(first)
            if v is None:
                return (1, 0.0, item[0])
            return (0, -v if METRICS[first].higher_is_better else v, item[0])

        table_rows = [(name, vals) for name, vals in sorted(models.items(), key=key)]
        table_rows += [(f"real data ({dataset} train split)", vals) for vals in real.values()]
        for fam in sorted(set(family.values())):
            twins = {m: v for m, v in sorted(untrained.items()) if family[m] == fam}
            if len({json.dumps(v, sort_keys=True) for v in twins.values()}) == 1:
                table_rows.append((f"untrained {fam}", next(iter(twins.values()))))
            else:  # models of one family with other configs: one twin each
                table_rows += [(f"untrained {fam} ({m} config)", v) for m, v in twins.items()]
        out.append(
            {
                "dataset": dataset,
                "split": split,
                "reference": ref,
                "metrics": order,
                "rows": table_rows,
            }
        )
    return out


def _render(table: dict[str, Any], markdown: bool) -> str:
    from zoo.eval_metrics import METRICS

    ref = f", features of {table['reference']}" if table["reference"] else ""
    title = f"{table['dataset']} ({table['split']} split{ref})"
    header = ["model", "n", *(METRICS[m].title + _arrow(m) for m in table["metrics"])]
    body = [[label, _num(vals.get("n")), *(_num(vals.get(m)) for m in table["metrics"])] for label, vals in table["rows"]]  # fmt: skip
    if not markdown:
        return title + "\n" + _align([header, *body])
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |")
    for label, *cells in body:
        shown = label if not label.startswith(("real data", "untrained")) else f"*{label}*"
        lines.append("| " + " | ".join([shown, *cells]) + " |")
    return "\n".join(lines)


@click.command("leaderboard")
@click.option("--markdown", is_flag=True, help="Print Markdown tables.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as a JSON array.")
def leaderboard(markdown: bool, as_json: bool) -> None:
    """Every model x metric recorded in the cards by `zoo eval --write-card`.

    One table per dataset and reference network, models sorted by their first
    metric, followed by the reference rows: real data (train split against test
    split) and an untrained generator of each family.
    """
    from zoo.eval_card import leaderboard_rows

    rows = leaderboard_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no evaluations in any card yet; run `zoo eval MODEL --write-card`")
        return
    click.echo("\n\n".join(_render(t, markdown) for t in tables(rows)))
