"""Write a `Document` as a PDF with fpdf2, refusing to exceed a page limit.

Reusable by any study's report (the intake recommendation can build a `Document` and call
`write_pdf`). The font is DejaVu Sans shipped inside matplotlib (already a dependency), so text may
use any Unicode character and every machine renders the same glyphs. A document longer than
`max_pages` raises `PageLimitError` and writes nothing: a memo promised to be readable in ten
minutes must not silently grow a fourth page.
"""

from __future__ import annotations

from pathlib import Path

from triage_ray.report.doc import Bullets, Callout, Document, FigureRow, Heading, Para, Table

FONT = "dejavu"
BODY_PT = 8.8
SMALL_PT = 7.2
LINE_MM = 4.1  # body line height for BODY_PT
MARGIN_MM = 13.0
GREY = (85, 85, 102)
WARN_FILL, WARN_EDGE = (253, 236, 234), (192, 57, 43)
NOTE_FILL, NOTE_EDGE = (234, 242, 251), (44, 111, 187)
HEAD_FILL = (240, 242, 246)


class PageLimitError(RuntimeError):
    """The rendered document needs more pages than allowed."""


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _new_pdf(footer: str):
    from fpdf import FPDF

    class _PDF(FPDF):
        def footer(self) -> None:
            self.set_y(-9)
            self.set_font(FONT, size=SMALL_PT)
            self.set_text_color(*GREY)
            self.cell(0, 4, f"{footer}   |   page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = _PDF(format="A4")
    d = _font_dir()
    pdf.add_font(FONT, "", str(d / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(d / "DejaVuSans-Bold.ttf"))
    pdf.add_font(FONT, "I", str(d / "DejaVuSans-Oblique.ttf"))
    pdf.add_font(FONT, "BI", str(d / "DejaVuSans-BoldOblique.ttf"))
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    return pdf


def _heading(pdf, b: Heading) -> None:
    size = {1: 14.0, 2: 10.8, 3: 9.4}.get(b.level, 9.4)
    if pdf.will_page_break(3 * LINE_MM + 6):  # never strand a heading at a page foot
        pdf.add_page()
    pdf.ln(2.2 if b.level == 2 else 1.2)
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, b.text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.8)


def _para(pdf, b: Para) -> None:
    size = SMALL_PT if b.small else BODY_PT
    pdf.set_font(FONT, "", size)
    if b.small:
        pdf.set_text_color(*GREY)
    pdf.multi_cell(0, LINE_MM * size / BODY_PT, b.text, markdown=True, new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1.0)


def _callout(pdf, b: Callout) -> None:
    fill, edge = (WARN_FILL, WARN_EDGE) if b.tone == "warning" else (NOTE_FILL, NOTE_EDGE)
    pdf.set_font(FONT, "B" if b.tone == "warning" else "", BODY_PT)
    pdf.set_fill_color(*fill)
    pdf.set_draw_color(*edge)
    pdf.set_line_width(0.6)
    pdf.multi_cell(0, LINE_MM, b.text, border=1, fill=True, markdown=True, padding=2,
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)  # fpdf2 tables fill body cells with the current colour
    pdf.ln(1.5)


def _bullets(pdf, b: Bullets) -> None:
    pdf.set_font(FONT, "", BODY_PT)
    indent = 4.0
    for item in b.items:
        x = pdf.l_margin
        pdf.set_x(x)
        pdf.cell(indent, LINE_MM, "\u2022")
        pdf.multi_cell(pdf.epw - indent, LINE_MM, item, markdown=True, new_x="LMARGIN",
                       new_y="NEXT")
        pdf.ln(0.4)
    pdf.ln(0.8)


def _table(pdf, b: Table) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font(FONT, "", BODY_PT - 0.6)
    with pdf.table(
        col_widths=b.widths, text_align="LEFT", line_height=LINE_MM - 0.2, markdown=True,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL), padding=(0.8, 1.2),
        width=pdf.epw, v_align="TOP",
    ) as t:
        for row in (b.header, *b.rows):
            r = t.row()
            for cell in row:
                r.cell(cell)
    if b.caption:
        pdf.set_font(FONT, "I", SMALL_PT)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 3.2, b.caption, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)


def _figures(pdf, b: FigureRow) -> None:
    from PIL import Image

    gap = 4.0
    n = len(b.figures)
    w = (pdf.epw - gap * (n - 1)) / n
    heights = []
    for f in b.figures:
        if not f.path.is_file():
            raise FileNotFoundError(f"{f.path}: figure not found")
        with Image.open(f.path) as im:
            heights.append(w * im.height / im.width)
    pdf.set_font(FONT, "I", SMALL_PT)  # measure the captions as they will be set
    lines = max(len(pdf.multi_cell(w, 3.2, f.caption, dry_run=True, output="LINES"))
                for f in b.figures)
    cap_h = max(lines, 1) * 3.2
    if pdf.will_page_break(max(heights) + cap_h):
        pdf.add_page()
    y0 = pdf.get_y()
    for i, (f, h) in enumerate(zip(b.figures, heights, strict=True)):
        x = pdf.l_margin + i * (w + gap)
        pdf.image(str(f.path), x=x, y=y0, w=w, h=h)
        pdf.set_xy(x, y0 + h + 0.5)
        pdf.set_font(FONT, "I", SMALL_PT)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(w, 3.2, f.caption, new_x="RIGHT", new_y="TOP")
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, y0 + max(heights) + cap_h + 1.0)


_RENDER = {Heading: _heading, Para: _para, Callout: _callout, Bullets: _bullets, Table: _table,
           FigureRow: _figures}


def write_pdf(doc: Document, path: str | Path, *, max_pages: int | None = 3,
              footer: str = "") -> Path:
    """Render `doc` to `path`; raise PageLimitError (writing nothing) past `max_pages`."""
    pdf = _new_pdf(footer or doc.title)
    pdf.set_title(doc.title)
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(0, 7, doc.title, new_x="LMARGIN", new_y="NEXT")
    if doc.subtitle:
        pdf.set_font(FONT, "", SMALL_PT + 0.6)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 3.6, doc.subtitle, markdown=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)
    for b in doc.blocks:
        _RENDER[type(b)](pdf, b)
    if max_pages is not None and pdf.pages_count > max_pages:
        raise PageLimitError(f"{path}: '{doc.title}' needs {pdf.pages_count} pages, the limit is "
                             f"{max_pages}; shorten the content (nothing was written)")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out
