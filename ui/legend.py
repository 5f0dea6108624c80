"""Map legends beside a map: coloured swatches with labels, as small HTML."""

from __future__ import annotations

import html

import streamlit as st


def legend_html(title: str, items: list[tuple[str, list[int]]], *, line: bool = False) -> str:
    """HTML of one legend block: a bold title and a swatch (dot, or line) per item."""
    rows = []
    for label, colour in items:
        r, g, b = colour[:3]
        shape = ("width:16px;height:3px;margin-bottom:3px" if line
                 else "width:11px;height:11px;border-radius:6px")
        rows.append(f"<div style='line-height:1.25'><span style='display:inline-block;{shape};"
                    f"background:rgb({r},{g},{b});margin-right:6px'></span>{html.escape(label)}</div>")
    return (f"<div class='map-legend' style='font-size:0.8rem;margin-bottom:0.6rem'>"
            f"<b>{html.escape(title)}</b>{''.join(rows)}</div>")


def show_legend(title: str, items: list[tuple[str, list[int]]], *, line: bool = False) -> None:
    """Render one legend block (`legend_html`)."""
    st.markdown(legend_html(title, items, line=line), unsafe_allow_html=True)
