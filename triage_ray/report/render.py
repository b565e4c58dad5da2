"""Render a `Document` as Markdown (figures linked) or as one self-contained HTML page.

The HTML embeds its figures as base64 PNGs and carries its own CSS: it can be mailed or opened
offline, and it makes no network request.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

from triage_ray.report.doc import Bullets, Callout, Document, FigureRow, Heading, Para, Table

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, out_dir: Path) -> str:
    """Markdown for a file written in `out_dir` (figure links are relative to it)."""
    lines = [f"# {doc.title}", ""]
    if doc.subtitle:
        lines += [f"*{doc.subtitle}*", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            lines += [f"{'#' * b.level} {b.text}", ""]
        elif isinstance(b, Para):
            lines += [f"<sub>{b.text}</sub>" if b.small else b.text, ""]
        elif isinstance(b, Callout):
            lines += [f"> **{b.tone.upper()}:** {b.text}", ""]
        elif isinstance(b, Bullets):
            lines += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Table):
            lines += [
                "| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                "|" + "|".join("---" for _ in b.header) + "|",
                *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows),
            ]
            lines += [f"\n*{b.caption}*" if b.caption else "", ""]
        elif isinstance(b, FigureRow):
            for f in b.figures:
                rel = os.path.relpath(f.path, out_dir)
                lines += [f"![{f.caption}]({rel})", f"*{f.caption}*", ""]
        else:  # pragma: no cover - Block is a closed union
            raise TypeError(f"unknown block {type(b).__name__}")
    return "\n".join(lines).rstrip() + "\n"


def inline_html(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text))


def png_data_uri(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: figure not found")
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;border-bottom:1px solid #ccd;
 padding-bottom:.2rem;margin-top:1.6rem} h3{font-size:1.05rem}
.subtitle{color:#556;margin-top:0} .small{font-size:.82rem;color:#556}
.callout{border-left:6px solid #c0392b;background:#fdecea;padding:.6rem .9rem;font-weight:600}
.callout.note{border-color:#2c6fbb;background:#eaf2fb;font-weight:400}
table{border-collapse:collapse;margin:.6rem 0;width:100%} caption{caption-side:bottom;
 font-size:.82rem;color:#556;text-align:left;padding-top:.3rem}
th,td{border:1px solid #d5d8e0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f2f6} .figs{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;flex:1 1 16rem} figure img{width:100%} figcaption{font-size:.82rem;color:#556}
"""


def to_html(doc: Document) -> str:
    """A complete, self-contained HTML page (no external resources)."""
    out = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(doc.title)}</h1>",
    ]
    if doc.subtitle:
        out.append(f'<p class="subtitle">{inline_html(doc.subtitle)}</p>')
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = ' class="small"' if b.small else ""
            out.append(f"<p{cls}>{inline_html(b.text)}</p>")
        elif isinstance(b, Callout):
            out.append(f'<div class="callout {b.tone}">{inline_html(b.text)}</div>')
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{inline_html(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in row) + "</tr>"
                for row in b.rows
            )
            cap = f"<caption>{inline_html(b.caption)}</caption>" if b.caption else ""
            out.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, FigureRow):
            figs = "".join(
                f'<figure><img src="{png_data_uri(f.path)}" alt="{html.escape(f.caption)}">'
                f"<figcaption>{inline_html(f.caption)}</figcaption></figure>"
                for f in b.figures
            )
            out.append(f'<div class="figs">{figs}</div>')
        else:  # pragma: no cover
            raise TypeError(f"unknown block {type(b).__name__}")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
