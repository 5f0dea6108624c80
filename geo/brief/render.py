"""Render a `geo.brief.content.CampaignBrief` as a one- or two-page A4 PDF (fpdf2) and as HTML with an SVG map.

Both draw the same `geo.brief.content.map_shapes`. The PDF embeds DejaVu Sans
when the system has it (any store name prints); otherwise it falls back to
the built-in Helvetica and replaces characters outside Latin-1.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from geo.brief.content import CampaignBrief, MapShapes, map_shapes
from geo.text import plural

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
MAP_W, MAP_H = 180.0, 105.0          # millimetres on the page
SMALL_W, SMALL_H = 87.0, 52.0        # one store's map on the second page
PER_STORE_MAPS = 8                   # stores drawn one by one (one page of small maps)


def _number(value: float, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:,.{digits}f}"


def store_rows(brief: CampaignBrief) -> list[list[str]]:
    """The per-store table: header then one row per store (text, as printed)."""
    head = ["Store", "Name", "Codes sent", "Held out", "Radius km", "Expected", "Per day"]
    rows = [head]
    for r in brief.stores.itertuples(index=False):
        low_high = "" if pd.isna(r.expected_low) else \
            f" ({_number(r.expected_low, 0)}–{_number(r.expected_high, 0)})"
        rows.append([str(r.store_id), str(r.name), f"{int(r.treatment):,}", f"{int(r.holdout):,}",
                     _number(r.radius_km, 2), _number(r.expected) + low_high,
                     _number(r.expected_per_day)])
    return rows


def headline(brief: CampaignBrief) -> list[str]:
    """The brief's opening lines: window, audience, catchment, code rules."""
    limit = "" if brief.limit is None else f" within {brief.limit:g} {brief.unit}"
    lines = [
        f"Offer window: {brief.offer_start:%a %d %b %Y %H:%M} to {brief.offer_end:%a %d %b %Y %H:%M} "
        f"({plural(brief.days, 'day')}).",
        f"Who: {plural(brief.totals.get('treatment', 0), 'customer')} received a personal code "
        f"({brief.mode}{limit} of their nearest store); "
        f"{plural(brief.totals.get('holdout', 0), 'customer')} were held out on purpose and got "
        "no e-mail: treat them like anyone else.",
    ]
    if brief.code_length:
        lines.append(f"Codes: {brief.code_length} characters, one per customer, single use; the "
                     "last character is a check character.")
    lines.append("Expected redemptions: " + brief.forecast_message)
    return lines


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.family, self.unicode = "helvetica", False
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.add_font("dejavu", "", str(regular))
                self.add_font("dejavu", "B", str(bold))
                self.family, self.unicode = "dejavu", True
                break
        self.set_auto_page_break(True, margin=12)
        self.set_margins(15, 12, 15)

    def text_of(self, text: str) -> str:
        if self.unicode:
            return text
        text = text.replace("–", "-").replace("—", "-").replace("’", "'")
        return text.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", size)

    def line_of(self, text: str, size: float = 10, bold: bool = False, h: float = 5.2) -> None:
        self.font(size, bold)
        self.multi_cell(0, h, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _draw_map(pdf: _Pdf, shapes: MapShapes, x0: float, y0: float) -> None:
    pdf.set_draw_color(200, 200, 200)
    pdf.rect(x0, y0, shapes.width, shapes.height)
    for x, y, color in shapes.points:
        pdf.set_fill_color(*color)
        pdf.ellipse(x0 + x - 0.35, y0 + y - 0.35, 0.7, 0.7, style="F")
    pdf.set_line_width(0.4)
    for x, y, r, color in shapes.circles:
        pdf.set_draw_color(*color)
        pdf.ellipse(x0 + x - r, y0 + y - r, 2 * r, 2 * r, style="D")
    pdf.font(7, bold=True)
    for x, y, label, color in shapes.stores:
        pdf.set_fill_color(*color)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.3)
        pdf.rect(x0 + x - 1.4, y0 + y - 1.4, 2.8, 2.8, style="DF")
        pdf.set_xy(x0 + x + 1.8, y0 + y - 2)
        pdf.cell(20, 4, pdf.text_of(label))
    if shapes.scale_len:
        sx, sy = x0 + 5, y0 + shapes.height - 5
        pdf.set_draw_color(0, 0, 0)
        pdf.line(sx, sy, sx + shapes.scale_len, sy)
        pdf.font(7)
        pdf.set_xy(sx, sy - 4.5)
        pdf.cell(30, 4, f"{shapes.scale_km:g} km")
    pdf.set_line_width(0.2)


def brief_pdf(brief: CampaignBrief) -> bytes:
    """The brief as PDF bytes: map and table on page 1, till instructions after (at most 2 pages)."""
    pdf = _Pdf()
    pdf.set_title(pdf.text_of(f"Campaign brief: {brief.name}"))
    pdf.add_page()
    pdf.line_of(f"Campaign brief: {brief.name}", 16, bold=True, h=8)
    pdf.line_of(f"Workspace {brief.workspace} · for store managers", 9)
    pdf.ln(1)
    for text in headline(brief):
        pdf.line_of(text, 9.5, h=4.8)
    pdf.ln(2)
    shapes = map_shapes(brief, MAP_W, MAP_H)
    top = pdf.get_y()
    _draw_map(pdf, shapes, pdf.l_margin, top)
    pdf.set_xy(pdf.l_margin, top + MAP_H + 1)
    pdf.line_of("Squares: stores; circles: the radius holding each store's targets; dots: "
                "customers with a code (colour of their store), grey: held out.", 7.5, h=3.8)
    pdf.ln(2)
    pdf.font(8.5)
    with pdf.table(col_widths=(16, 52, 20, 18, 18, 34, 18), line_height=5,
                   text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as table:
        for i, cells in enumerate(store_rows(brief)):
            row = table.row()
            for cell in cells:
                if i == 0:
                    pdf.font(8.5, bold=True)
                row.cell(pdf.text_of(cell))
                pdf.font(8.5)
    pdf.ln(3)
    if pdf.get_y() > 230:
        pdf.add_page()
    pdf.line_of("How to take a code at the till", 12, bold=True, h=7)
    for i, step in enumerate(brief.till_steps(), start=1):
        pdf.line_of(f"{i}. {step}", 9.5, h=4.8)
    if pdf.page_no() == 1 and 1 < len(brief.stores) <= PER_STORE_MAPS:
        _store_maps(pdf, brief)
    return bytes(pdf.output())


def _store_maps(pdf: _Pdf, brief: CampaignBrief) -> None:
    """Page 2: each store's own map (its targets and radius), two per row."""
    pdf.add_page()
    pdf.line_of("Each store's targets", 12, bold=True, h=7)
    top = pdf.get_y() + 1
    for i, r in enumerate(brief.stores.itertuples(index=False)):
        x = pdf.l_margin + (i % 2) * (SMALL_W + 6)
        y = top + (i // 2) * (SMALL_H + 12)
        pdf.set_xy(x, y)
        pdf.font(8, bold=True)
        pdf.cell(SMALL_W, 4, _fit(pdf, f"{r.store_id} · {r.name}", SMALL_W))
        pdf.font(7.5)
        pdf.set_xy(x, y + 4)
        pdf.cell(SMALL_W, 3.5, f"{int(r.treatment):,} codes · {int(r.holdout):,} held out")
        _draw_map(pdf, map_shapes(brief, SMALL_W, SMALL_H, store_id=str(r.store_id)), x, y + 8)


def _fit(pdf: _Pdf, text: str, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` millimetres in the current font."""
    text = pdf.text_of(text)
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…" if pdf.unicode else text + "...") > width:
        text = text[:-1]
    return text + ("…" if pdf.unicode else "...")


def _svg(shapes: MapShapes) -> str:
    def rgb(c: tuple[int, int, int]) -> str:
        return f"rgb({c[0]},{c[1]},{c[2]})"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {shapes.width:g} '
             f'{shapes.height:g}" width="100%" role="img" aria-label="map of stores and targets">',
             f'<rect width="{shapes.width:g}" height="{shapes.height:g}" fill="white" '
             'stroke="#ccc" stroke-width="0.3"/>']
    parts += [f'<circle cx="{x:.2f}" cy="{y:.2f}" r="0.35" fill="{rgb(c)}"/>'
              for x, y, c in shapes.points]
    parts += [f'<circle cx="{x:.2f}" cy="{y:.2f}" r="{r:.2f}" fill="none" stroke="{rgb(c)}" '
              'stroke-width="0.4"/>' for x, y, r, c in shapes.circles]
    for x, y, label, c in shapes.stores:
        parts.append(f'<rect x="{x - 1.4:.2f}" y="{y - 1.4:.2f}" width="2.8" height="2.8" '
                     f'fill="{rgb(c)}" stroke="black" stroke-width="0.3"/>')
        parts.append(f'<text x="{x + 1.8:.2f}" y="{y + 1:.2f}" font-size="2.6" '
                     f'font-weight="bold">{html.escape(label)}</text>')
    if shapes.scale_len:
        y = shapes.height - 5
        parts.append(f'<line x1="5" y1="{y:g}" x2="{5 + shapes.scale_len:.2f}" y2="{y:g}" '
                     'stroke="black" stroke-width="0.3"/>')
        parts.append(f'<text x="5" y="{y - 1.2:g}" font-size="2.6">{shapes.scale_km:g} km</text>')
    parts.append("</svg>")
    return "".join(parts)


def brief_html(brief: CampaignBrief) -> str:
    """The brief as one self-contained HTML page (inline SVG map, no external resources)."""
    esc = html.escape
    rows = store_rows(brief)
    table = "<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in rows[0]) + \
        "</tr></thead><tbody>" + "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:]) + \
        "</tbody></table>"
    steps = "".join(f"<li>{esc(s)}</li>" for s in brief.till_steps())
    lines = "".join(f"<p>{esc(s)}</p>" for s in headline(brief))
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Campaign brief: {esc(brief.name)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:50rem;margin:1.5rem auto;color:#222}"
        "table{border-collapse:collapse;width:100%;font-size:.9rem}"
        "th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left}"
        "td:nth-child(n+3){text-align:right}.note{font-size:.8rem;color:#555}</style></head><body>"
        f"<h1>Campaign brief: {esc(brief.name)}</h1>"
        f"<p class=\"note\">Workspace {esc(brief.workspace)} · for store managers</p>{lines}"
        f"{_svg(map_shapes(brief, MAP_W, MAP_H))}"
        "<p class=\"note\">Squares: stores; circles: the radius holding each store's targets; "
        "dots: customers with a code (colour of their store), grey: held out.</p>"
        f"{table}<h2>How to take a code at the till</h2><ol>{steps}</ol>"
        f"<h2>Each store's targets</h2>{_store_svgs(brief)}</body></html>")


def _store_svgs(brief: CampaignBrief) -> str:
    """One small SVG map per store, with its name and counts."""
    parts = []
    for r in brief.stores.itertuples(index=False):
        shapes = map_shapes(brief, SMALL_W, SMALL_H, store_id=str(r.store_id))
        parts.append(f"<figure><figcaption>{html.escape(f'{r.store_id} · {r.name}')} · "
                     f"{int(r.treatment):,} codes, {int(r.holdout):,} held out</figcaption>"
                     f"{_svg(shapes)}</figure>")
    return "".join(parts)
