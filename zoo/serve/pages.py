"""HTML of ``zoo serve``'s pages, written from the catalog, the cards and the form fields.

Every value that comes from a card, a plugin or a request is escaped; card bodies are
rendered from Markdown with raw HTML switched off, so a third-party card cannot put
script on the page.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from zoo.serve.forms import FormField

STYLE_VERSION = "1"


def layout(title: str, body: str, script: str | None = None) -> str:
    js = f'<script src="/static/{script}?v={STYLE_VERSION}"></script>' if script else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · zoo</title>
<link rel="stylesheet" href="/static/style.css?v={STYLE_VERSION}">
</head><body>
<header><a class="brand" href="/">zoo</a>
<nav><a href="/">Models</a><a href="/leaderboard">Leaderboard</a><a href="/compare">Compare</a></nav>
</header>
<main>{body}</main>{js}
</body></html>"""


def error_page(message: str) -> str:
    return layout("error", f'<p class="error" id="page-error">{escape(message)}</p>')


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def model_list(
    models: list[dict[str, Any]], families: list[str], caps: list[str], chosen: dict[str, str]
) -> str:
    """The model list: one card per generator, with filters by family and capability."""

    def options(values: list[str], selected: str) -> str:
        out = ['<option value="">all</option>']
        for v in values:
            sel = " selected" if v == selected else ""
            out.append(f'<option value="{escape(v)}"{sel}>{escape(v)}</option>')
        return "".join(out)

    filters = f"""<form class="filters" method="get" action="/">
<label>family <select name="family" onchange="this.form.submit()">{options(families, chosen.get("family", ""))}</select></label>
<label>capability <select name="capability" onchange="this.form.submit()">{options(caps, chosen.get("capability", ""))}</select></label>
<noscript><button>filter</button></noscript></form>"""
    cells = []
    for m in models:
        mid = escape(m["id"])
        url = f"/models/{quote(m['id'])}/"
        img = (
            f'<img src="{url}{quote(m["sample"])}" alt="samples of {mid}">'
            if m.get("sample")
            else '<div class="noimg">no sample image</div>'
        )
        figures = []
        for key, label in (("fid", "FID"), ("accuracy", "accuracy"), ("ms_per_image", "ms/image")):
            if m.get(key) is not None:
                figures.append(f"<span>{label} {_num(m[key])}</span>")
        cells.append(
            f"""<a class="model" href="{url}" data-model="{mid}">{img}
<h3>{mid}</h3>
<p class="meta">{escape(m["family"] or "")} · {escape(m["process"] or "")} · {escape(", ".join(m["capabilities"]))}</p>
<p class="figures">{" ".join(figures)}</p></a>"""
        )
    grid = "".join(cells) or '<p class="empty">no model matches these filters</p>'
    return layout("models", f"<h1>Models</h1>{filters}<div class='models'>{grid}</div>")


def _input(f: FormField) -> str:
    name = escape(f.name)
    attrs = [f'name="{name}"', f'id="f-{name}"']
    if f.minimum is not None:
        attrs.append(f'min="{f.minimum}"')
    if f.maximum is not None:
        attrs.append(f'max="{f.maximum}"')
    placeholder = "" if f.default in (None, "") else f"default {f.default}"
    if f.kind == "text":
        return (
            f'<textarea {" ".join(attrs)} rows="2" placeholder="{escape(placeholder)}"></textarea>'
        )
    if f.kind == "upload":
        extra = ""
        if f.name == "mask":  # a mask can be painted on the uploaded image instead
            extra = (
                '<div class="maskpad" hidden><canvas id="mask-canvas"></canvas>'
                '<button type="button" id="mask-clear">clear mask</button>'
                '<span class="hint">paint the region to repaint (white)</span></div>'
            )
        return f'<input type="file" accept="image/*" {" ".join(attrs)}>{extra}'
    if f.kind == "bool":
        checked = " checked" if f.default else ""
        return (
            f'<select {" ".join(attrs)}><option value="">default ({"on" if f.default else "off"})</option>'
            f'<option value="true">on</option><option value="false">off</option></select>'
            if f.default
            else f'<input type="checkbox" {" ".join(attrs)}{checked}>'
        )
    if f.kind == "choice":
        opts = []
        if f.group != "request":
            opts.append(f'<option value="">default ({escape(str(f.default))})</option>')
        for c in f.choices:
            sel = " selected" if f.group == "request" and c == f.default else ""
            opts.append(f'<option value="{escape(c)}"{sel}>{escape(c)}</option>')
        return f"<select {' '.join(attrs)}>{''.join(opts)}</select>"
    step = "1" if f.kind == "int" else "any"
    kind = "number" if f.kind in ("int", "float") else "text"
    value = f' value="{escape(str(f.default))}"' if f.name in ("n", "seed") else ""
    return (
        f'<input type="{kind}" step="{step}" {" ".join(attrs)}{value} '
        f'placeholder="{escape(placeholder)}">'
    )


def form_html(fields: list[FormField], model: str, action: str = "/api/jobs") -> str:
    """The sampling form: request fields, then the family's options, then each sampler's
    options in a group the page shows only while that sampler is chosen."""
    rows = []
    for f in fields:
        cls = "field"
        data = ""
        if f.group.startswith("sampler:"):
            cls += " sampler-only"
            data = f' data-sampler="{escape(f.group.split(":", 1)[1])}"'
        elif f.samplers:
            cls += " sampler-only"
            data = f' data-sampler="{escape(" ".join(f.samplers))}"'
        where = "" if f.group == "request" else f' <span class="group">{escape(f.group)}</span>'
        rows.append(
            f'<div class="{cls}"{data}><label for="f-{escape(f.name)}">{escape(f.label)}{where}</label>'
            f"{_input(f)}<small>{escape(f.description)}</small></div>"
        )
    return f"""<form id="sample-form" novalidate data-model="{escape(model)}" action="{action}" method="post" enctype="multipart/form-data">
{"".join(rows)}
<div class="actions"><button type="submit" id="draw">Draw</button>
<button type="button" id="variation" disabled title="same seeds, with the sampler and guidance now in the form">Same seeds, other sampler/guidance</button></div>
<p class="error" id="form-error" role="alert" hidden></p>
</form>"""


JOB_SECTION = """<section id="job" hidden><h2>Drawn</h2><p id="status"></p>
<progress id="progress" value="0" max="1"></progress><div id="images"></div>
<p class="hint">Each image links to its PNG; <code>zoo sample --from IMAGE.png</code> redraws it.</p>
</section>"""


def model_page(
    model: dict[str, Any], card_html: str, fields: list[FormField] | None, why_not: str | None
) -> str:
    mid = escape(model["id"])
    head = (
        f'<h1>{mid}</h1><p class="meta">{escape(model["family"] or "")} · '
        f"{escape(model['process'] or '-')} · {escape(', '.join(model['capabilities']) or '-')}</p>"
    )
    if fields is not None:
        side = f"<section class='draw'><h2>Draw</h2>{form_html(fields, model['id'])}</section>"
    else:
        side = f"<section class='draw'><p class='note'>{escape(why_not or '')}</p></section>"
    body = (
        f"{head}<div class='modelpage'>{side}<div class='right'>{JOB_SECTION}"
        f"<article class='card'>{card_html}</article></div></div>"
    )
    return layout(model["id"], body, script="app.js")


def leaderboard(tables: list[dict[str, Any]], titles: dict[str, str]) -> str:
    if not tables:
        return layout("leaderboard", "<h1>Leaderboard</h1><p>no evaluations in any card yet</p>")
    parts = ["<h1>Leaderboard</h1>"]
    for t in tables:
        ref = f", features of {t['reference']}" if t["reference"] else ""
        parts.append(
            f"<h2>{escape(str(t['dataset']))} ({escape(str(t['split']))} split{escape(ref)})</h2>"
        )
        head = "".join(f"<th>{escape(titles.get(m, m))}</th>" for m in t["metrics"])
        rows = []
        for label, vals in t["rows"]:
            cells = "".join(f"<td>{_num(vals.get(m), 4)}</td>" for m in t["metrics"])
            rows.append(f"<tr><td>{escape(label)}</td><td>{_num(vals.get('n'))}</td>{cells}</tr>")
        parts.append(
            f"<table class='board'><thead><tr><th>model</th><th>n</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return layout("leaderboard", "".join(parts))


def compare_page(capability: str, caps: list[str], models: list[dict[str, Any]]) -> str:
    """Two to four models sharing ``capability``, one request, images side by side."""
    cap_opts = "".join(
        f'<option value="{escape(c)}"{" selected" if c == capability else ""}>{escape(c)}</option>'
        for c in caps
    )
    boxes = "".join(
        f'<label class="pick"><input type="checkbox" name="models" value="{escape(m["id"])}"> '
        f"{escape(m['id'])}</label>"
        for m in models
    )
    extra = ""
    if capability == "text":
        extra = '<label>prompt <input type="text" name="prompt" id="c-prompt" required></label>'
    elif capability == "class":
        extra = (
            '<label>label <input type="number" name="label" id="c-label" min="0" step="1"></label>'
        )
    elif capability == "image":
        extra = '<label>image <input type="file" name="image" id="c-image" accept="image/*" required></label>'
    body = f"""<h1>Compare</h1>
<form class="filters" method="get" action="/compare"><label>capability
<select name="capability" onchange="this.form.submit()">{cap_opts}</select></label></form>
<form id="compare-form" novalidate><fieldset><legend>2 to 4 models</legend>{boxes}</fieldset>
{extra}<label>seed <input type="number" name="seed" id="c-seed" value="0" min="0" step="1"></label>
<button type="submit" id="compare">Compare</button>
<p class="error" id="form-error" role="alert" hidden></p></form>
<div id="columns" class="columns"></div>"""
    return layout("compare", body, script="app.js")
