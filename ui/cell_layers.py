"""Map layers at scale: above `geo.views.aggregate.AGGREGATE_FROM` customers, pages draw H3 cells, not points.

Each page keeps building its deck as before and passes it through one function
here (`overview_layers`, `catchment_layers`), which swaps the customer point
and density layers for one ``H3HexagonLayer`` of counts served by URL. Below
the threshold the deck is returned untouched and the point files are used.
"""

from __future__ import annotations

from collections.abc import Callable

import pydeck as pdk
import streamlit as st

from geo.views.aggregate import aggregated, assigned_cells, cells_json, cells_layer, customer_cells
from ui import cache, engine
from ui.selection import Selection

POINT_LAYERS = ("customers", "density")


@st.cache_data(show_spinner="Counting customers per area…", max_entries=8)
def customer_cells_url(root: str, workspace: str, version: str) -> str:
    """URL of the workspace's customers counted per H3 cell (`geo.views.aggregate.customer_cells`)."""
    def make() -> bytes:
        return cells_json(customer_cells(cache.table(root, workspace, "customers", version)))

    return cache.publish_static_keyed("customer-cells", f"{root}|{workspace}|{version}", make)


@st.cache_data(show_spinner="Counting customers per area…", max_entries=16)
def assigned_cells_url(sel: Selection, km: float | None) -> str:
    """URL of the selection's customers per H3 cell, coloured by their usual store."""
    from geo.views.maps import store_palette

    assigned = engine.assignment(sel) if km is None else engine.radius_assignment(sel, km)
    return cache.publish_static("assigned-cells",
                                cells_json(assigned_cells(sel.customers(), assigned, store_palette(list(sel.stores)))))


def points_url(root: str, workspace: str, version: str, n_customers: int) -> str:
    """The Map page's point file URL, or "" when the customers are drawn as cells (nothing is built)."""
    return "" if aggregated(n_customers) else cache.customer_points_url(root, workspace, version)


def assigned_points(sel: Selection, km: float | None, n_customers: int) -> str | None:
    """The Catchments page's point file URL, or None when the customers are drawn as cells."""
    return None if aggregated(n_customers) else engine.assigned_points_url(sel, km)


def _swap(deck: pdk.Deck, layer: pdk.Layer, drop: tuple[str, ...], shown: bool) -> pdk.Deck:
    """Put ``layer`` where the first of ``drop`` stood (after the first layer when none did)."""
    layers = list(deck.layers)
    ids = [getattr(x, "id", None) for x in layers]
    at = min((i for i, lid in enumerate(ids) if lid in drop), default=min(1, len(layers)))
    kept = [x for x in layers if getattr(x, "id", None) not in drop]
    if shown:
        kept.insert(min(at, len(kept)), layer)
    deck.layers = kept
    return deck


def overview_layers(deck: pdk.Deck, root: str, workspace: str, version: str, n_customers: int,
                    colour_by: str, show: dict[str, bool]) -> pdk.Deck:
    """The Map page's deck with cells instead of points and density at scale (unchanged below it)."""
    if not aggregated(n_customers):
        return deck
    shown = show.get("customers", True) or show.get("density", True)
    layer = cells_layer(customer_cells_url(root, workspace, version),
                        colour="sc" if colour_by == "segment" else "cc")
    return _swap(deck, layer, POINT_LAYERS, shown)


def compare_layers(deck: pdk.Deck, cells_url: Callable[[], str], n_customers: int) -> pdk.Deck:
    """The radius-versus-time deck with cells by kind (``cells_url()``, built only then) instead of points at scale."""
    if not aggregated(n_customers):
        return deck
    return _swap(deck, cells_layer(cells_url()), ("customers",), True)


def catchment_layers(deck: pdk.Deck, sel: Selection, km: float | None, n_customers: int) -> pdk.Deck:
    """The Catchments page's deck with cells coloured by store instead of points at scale."""
    if not aggregated(n_customers):
        return deck
    return _swap(deck, cells_layer(assigned_cells_url(sel, km)), ("customers",), True)
