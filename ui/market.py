"""Market research on the pages: Huff store choice, the prospects ring, untapped cells, daily demand.

Cached wrappers over `geo.catchments.huff`, `geo.targeting.prospects`,
`geo.targeting.untapped` and `geo.targeting.daily`, keyed by a `Selection`
and plain values, and the small Streamlit sections that show them. Every
figure shown comes from those geo functions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from geo.catchments import huff as hf
from geo.errors import GeoError
from geo.modes import Mode
from geo.targeting import daily, prospects
from geo.targeting.forecast import Forecast
from geo.targeting.reach import ReachIndex
from geo.targeting.targets import OfferWindow
from geo.workspace import open_workspace
from ui import cache, engine
from ui.selection import Selection

ASSIGN_BY = ("Nearest store", "Huff (store-choice probabilities)")


# -- Huff ----------------------------------------------------------------------------------------

def _choice_sets(sel: Selection, limit: float) -> hf.ChoiceSets:
    if sel.mode == Mode.RADIUS:
        return hf.radius_choice_sets(sel.chosen_stores(), sel.customers(), max_km=limit)
    return hf.network_choice_sets(engine.router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(),
                                  max_minutes=limit, traffic=sel.traffic)


@st.cache_resource(show_spinner="Computing store-choice probabilities…", max_entries=8)
def huff(sel: Selection, limit: float, alpha: float, beta: float) -> tuple[pd.Series, pd.DataFrame]:
    """Expected visitors per store and the per-customer summary (`geo.catchments.huff`), shared, read-only."""
    sets = _choice_sets(sel, limit)
    p = hf.probabilities(sets, alpha, beta)
    return hf.expected_visitors(sets, p), hf.customer_summary(sets, p)


@st.cache_data(show_spinner="Fitting the store-choice model…", max_entries=8)
def calibrated(sel: Selection, limit: float, digest: str, _choices: pd.DataFrame) -> hf.HuffFit:
    """`geo.catchments.huff.calibrate` on uploaded choices (``digest`` identifies them)."""
    sets = _choice_sets(sel, limit)
    ci, si = hf.choice_indices(_choices, sel.customers()["customer_id"], sets.store_ids)
    return hf.calibrate(sets, ci, si)


def huff_parameters(sel: Selection, limit: float, key: str) -> hf.HuffFit:
    """The Huff parameters to use: fitted on an uploaded choices file, else the stated defaults."""
    up = st.file_uploader("Observed choices to calibrate on (CSV: customer_id, store_id)", type=["csv"],
                          key=f"{key}_choices",
                          help="Which store each past redeemer or loyalty-card holder used. Without it "
                               "the literature default β = 2, α = 1 is used.")
    if up is None:
        return hf.DEFAULT_FIT
    from geo.data.sniff import decode_text
    from geo.data.tables import read_csv_text

    try:
        choices = read_csv_text(decode_text(up.getvalue(), up.name), up.name)
        return calibrated(sel, limit, hashlib.sha1(up.getvalue()).hexdigest(), choices)
    except GeoError as exc:
        st.error(f"Choices not used ({up.name}): {exc}. The default β = 2, α = 1 applies.", icon="⚠️")
        return hf.DEFAULT_FIT


def huff_section(sel: Selection, limit: float, nearest: pd.DataFrame) -> None:
    """Expected visitors per store by Huff next to the nearest-store counts, and the contested customers' map.

    ``nearest``: ``store_id`` and the nearest-store customer count in the
    catchment (``in_catchment``).
    """
    from geo.views.market_maps import contested_deck

    unit = Mode.parse(sel.mode).unit
    fit = huff_parameters(sel, limit, "reach_huff")
    visitors, summary = huff(sel, limit, fit.alpha, fit.beta)
    st.caption(fit.describe() + f" Stores within {limit:g} {unit} of a customer compete for them; all "
               "customers count, before the audience rules.")
    table = pd.DataFrame({"Store": visitors.index.astype(str),
                          "Nearest-store customers": nearest.set_index("store_id")["in_catchment"]
                          .reindex(visitors.index.astype(str)).fillna(0).astype(int).to_numpy(),
                          "Expected visitors (Huff)": visitors.round(1).to_numpy()})
    contested = int(summary["contested"].sum())
    c1, c2 = st.columns(2)
    c1.metric("Expected visitors, all stores", f"{visitors.sum():,.0f}")
    c2.metric("Contested customers", f"{contested:,}",
              help=f"No store has a probability of {hf.CONTESTED_BELOW:.0%} or more: red on the map.")
    st.dataframe(table, hide_index=True, width="stretch", key="reach_huff_table")
    st.pydeck_chart(contested_deck(sel.chosen_stores(), sel.customers(), summary), height=420,
                    key="reach_huff_map")


def visitors_taken_section(sel: Selection, lat: float, lon: float, minutes: float) -> None:
    """The Catchments what-if: expected visitors (Huff, default β = 2, α = 1) a candidate takes from each store."""
    try:
        table = _visitors_taken(sel, float(lat), float(lon), float(minutes))
    except GeoError as exc:
        st.info(f"Expected visitors taken: not available ({exc}).")
        return
    st.markdown(f"**Expected visitors the candidate would take** (Huff, β = {hf.DEFAULT_BETA:g}, "
                f"α = {hf.DEFAULT_ALPHA:g}, stores within {minutes:g} min):")
    st.dataframe(table.round(1), hide_index=True)


@st.cache_data(show_spinner="Comparing expected visitors with the candidate…", max_entries=16)
def _visitors_taken(sel: Selection, lat: float, lon: float, minutes: float) -> pd.DataFrame:
    return hf.visitors_taken(engine.router(sel.source, sel.mode), sel.chosen_stores(), sel.customers(), lat, lon,
                             max_minutes=minutes, traffic=sel.traffic)


# -- prospects ring ------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=16)
def decay_curve(root: str, ws: str, campaigns: str, mode: str) -> prospects.DecayCurve | None:
    """`geo.targeting.prospects.fit_decay` of the workspace (``campaigns``: their version)."""
    return prospects.fit_decay(open_workspace(ws, Path(root)), mode)


@st.cache_resource(show_spinner=False, max_entries=16)
def _ring_outcome(sel: Selection, audience_key: str, limit: float, delta: float, campaigns: str,
                  holdout: float, cost_per_email: float, discount_value: float, *, _index: ReachIndex,
                  _curve: prospects.DecayCurve | None) -> prospects.RingOutcome:
    """`geo.targeting.prospects.ring_outcome`, shared and read-only.

    ``_index`` is keyed by ``sel`` and ``audience_key``, ``_curve`` by ``sel`` and ``campaigns``.
    """
    return prospects.ring_outcome(_index, limit, delta, _curve, holdout=holdout,
                                  cost_per_email=cost_per_email, discount_value=discount_value)


@st.cache_resource(show_spinner=False, max_entries=16)
def _marginal_returns(sel: Selection, audience_key: str, upto: float, step: float, campaigns: str,
                      holdout: float, cost_per_email: float, discount_value: float, *,
                      _index: ReachIndex, _curve: prospects.DecayCurve) -> pd.DataFrame:
    """`geo.targeting.prospects.marginal_returns`, shared and read-only (keys as `_ring_outcome`)."""
    return prospects.marginal_returns(_index, _curve, upto=upto, step=step, holdout=holdout,
                                      cost_per_email=cost_per_email, discount_value=discount_value)


def prospects_section(index: ReachIndex, sel: Selection, limit: float, *, root: str, ws: str, campaigns: str,
                      holdout: float, cost_per_email: float, discount_value: float, currency: str,
                      audience_key: str) -> float | None:
    """The ring just beyond the band: counts, expected outcome, suggestion, map; returns Δ when added to the list."""
    from geo.money import format_money
    from geo.views.market_maps import ring_deck, ring_points_json

    mode = Mode.parse(sel.mode)
    unit = mode.unit
    c1, c2, c3 = st.columns(3)
    delta = float(c1.number_input(f"Ring width Δ ({unit})", 0.1 if unit == "km" else 1.0, 60.0,
                                  prospects.DEFAULT_DELTA[unit], 0.1 if unit == "km" else 1.0,
                                  key="reach_ring_delta", persist_state="session"))
    threshold = float(c2.number_input(f"Keep extending while the return per extra {unit} is at least "
                                      f"({currency})", -1e6, 1e6, 0.0, 1.0, key="reach_ring_threshold",
                                      persist_state="session"))
    add = c3.checkbox("Add the ring to the target list (own band and tag)", key="reach_ring_add",
                      persist_state="session")
    curve = decay_curve(root, ws, campaigns, mode.value)
    o = _ring_outcome(sel, audience_key, limit, delta, campaigns, holdout, cost_per_email, discount_value,
                      _index=index, _curve=curve)
    total = o.counts.iloc[-1]
    m = st.columns(4)
    m[0].metric(f"Customers {limit:g}–{limit + delta:g} {unit}", f"{int(total['in_catchment']):,}")
    m[1].metric("Consenting records", f"{int(total['opted_in']):,}")
    m[2].metric("Addresses to target", f"{int(total['one_per_email']):,}")
    if o.has_history:
        m[3].metric("Expected redemptions", f"{o.redemptions:,.1f}",
                    help=f"revenue {format_money(o.revenue, currency)}, cost {format_money(o.cost, currency)}")
        st.caption(o.message + f" Marginal return: {format_money(o.marginal_return, currency)} per extra {unit}.")
        table = _marginal_returns(sel, audience_key, max(limit + delta, 1.0) * 2,
                                  1.0 if unit == "min" else 0.25, campaigns, holdout, cost_per_email,
                                  discount_value, _index=index, _curve=curve) \
            if curve is not None else pd.DataFrame()
        best = prospects.suggest_limit(table, threshold)
        end = float(table["limit"].iloc[-1]) + float(table["limit"].diff().iloc[-1]) if len(table) > 1 else None
        if best is None:
            st.caption(f"No extension returns {format_money(threshold, currency)} per extra {unit}.")
        else:
            beyond = " (every step scanned pays; the scan stops there)" if end is not None and best >= end else ""
            st.caption(f"Suggested catchment: **{best:g} {unit}**{beyond}, the largest limit up to which every "
                       f"extra {unit} returns at least {format_money(threshold, currency)}.")
    else:
        st.caption(o.message)
    from geo.targeting.reach import STAGE_LABELS

    st.dataframe(o.counts.rename(columns={**STAGE_LABELS, "store_id": "Store"}), hide_index=True,
                 width="stretch", key="reach_ring_table")
    customers = index.audience.customers
    inside = customers.iloc[index.rows[index.value <= limit]][["lat", "lon"]]
    ring = customers.iloc[index.rows[prospects.in_ring(index.value, limit, delta)]][["lat", "lon"]]
    url = cache.publish_static("ring", ring_points_json(inside, ring))
    st.pydeck_chart(ring_deck(sel.chosen_stores(), ring, url), height=420, key="reach_ring_map")
    return delta if add else None


# -- untapped cells ------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Reading building footprints…", max_entries=2)
def buildings(source: str) -> pd.DataFrame | None:
    """Building centroids and residential floor area (m²) of a source's OSM extract; None when it has none."""
    import pyrosm

    from geo.demo.build import building_weights
    from geo.network.load import demo_network_path

    path = demo_network_path() if source == "demo" else Path(source)
    if not (path.exists() and path.name.lower().endswith(".pbf")):
        return None
    b = pyrosm.OSM(str(path)).get_buildings()
    if b is None or not len(b):
        return None
    b = b[b.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    pts = b.geometry.representative_point()
    return pd.DataFrame({"lat": pts.y.to_numpy(), "lon": pts.x.to_numpy(), "floor_m2": building_weights(b)})


@st.cache_data(show_spinner="Ranking untapped cells…", max_entries=8)
def untapped(sel: Selection, max_cost: float, resolution: int) -> pd.DataFrame | None:
    """`geo.targeting.untapped.untapped_cells` of the selection; None without building footprints."""
    from geo.targeting.untapped import untapped_cells

    b = buildings(sel.source)
    if b is None:
        return None
    router = None if sel.mode == Mode.RADIUS else engine.router(sel.source, sel.mode)
    return untapped_cells(sel.customers(), b, sel.chosen_stores(), mode=sel.mode, max_cost=max_cost,
                          router=router, traffic=sel.traffic, resolution=resolution)


def untapped_section(sel: Selection, limit: float) -> None:
    """Map layer and CSV of the cells with many homes, few customers and a store within reach."""
    from geo.targeting.untapped import M2_PER_HOME
    from geo.views.market_maps import untapped_deck

    unit = Mode.parse(sel.mode).unit
    cells = untapped(sel, float(limit), 9)
    if cells is None:
        st.info("Untapped areas need building footprints: they are read from the demo extract or an "
                ".osm.pbf network file; this network has none.")
        return
    st.caption(f"H3 cells (~0.1 km²): homes = residential floor area (footprint × levels) / {M2_PER_HOME:g} m² "
               f"(an assumption); ranked by homes without a customer among cells within {limit:g} {unit} "
               "of a store. The 20 best are outlined.")
    st.pydeck_chart(untapped_deck(sel.chosen_stores(), cells), height=420, key="reach_untapped_map")
    st.dataframe(cells.head(20), hide_index=True, width="stretch", key="reach_untapped_table")
    st.download_button("Untapped cells (CSV)", data=lambda: cells.to_csv(index=False).encode(),
                       file_name="untapped-cells.csv", mime="text/csv", on_click="ignore",
                       key="reach_untapped_csv")


# -- daily demand --------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=8)
def daily_profile(root: str, ws: str, campaigns: str) -> daily.DailyProfile:
    """`geo.targeting.daily.fit_profile` of the workspace (``campaigns``: their version)."""
    return daily.fit_profile(open_workspace(ws, Path(root)))


def daily_section(fc: Forecast, per_band: pd.DataFrame, start: str, end: str, *, root: str, ws: str,
                  campaigns: str) -> None:
    """Expected redemptions per store per day of the offer window: chart per store and CSV.

    ``per_band``: `geo.targeting.reach.Reach.per_band` (treatment per store and band).
    """
    if not fc.has_history:
        st.caption("Demand per store per day needs past campaigns with provider events.")
        return
    rec = per_band.rename(columns={"treatment": "recipients"})[["store_id", "band", "recipients"]]
    rec = rec.assign(store_id=rec["store_id"].astype(str), band=rec["band"].astype(str))
    profile = daily_profile(root, ws, campaigns)
    table = daily.daily_forecast(fc, rec, OfferWindow.parse(start, end), profile)
    st.caption(profile.describe() + f" Intervals: {fc.totals.confidence:.0%}.")
    spec = {"facet": {"field": "store_id", "type": "nominal", "title": "Store"}, "columns": 4,
            "spec": {"layer": [
                {"mark": {"type": "bar"}, "encoding": {
                    "x": {"field": "date", "type": "ordinal", "title": None},
                    "y": {"field": "expected", "type": "quantitative", "title": "Expected redemptions"},
                    "tooltip": [{"field": f} for f in ("store_id", "date", "weekday", "expected", "low",
                                                       "high", "revenue")]}},
                {"mark": {"type": "rule"}, "encoding": {
                    "x": {"field": "date", "type": "ordinal"},
                    "y": {"field": "low", "type": "quantitative"}, "y2": {"field": "high"}}}]}}
    st.vega_lite_chart(table.round(2), spec, key="reach_daily_chart")
    st.download_button("Demand per store per day (CSV)", data=lambda: table.to_csv(index=False).encode(),
                       file_name="demand-per-store-per-day.csv", mime="text/csv", on_click="ignore",
                       key="reach_daily_csv")


def pick_assignment(key: str = "reach_assign_by") -> str:
    """The assignment the Reach page shows next to the nearest store: one of `ASSIGN_BY`."""
    return str(st.radio("Assign customers by", ASSIGN_BY, horizontal=True, key=key, persist_state="session",
                        help="The target list always uses the nearest store; Huff shows how customers "
                             "between stores are likely to split."))


def ring_label(limit: float, delta: float, unit: str) -> str:
    """Caption of a target list that includes the ring."""
    return f"The list includes the prospects ring {limit:g}–{limit + delta:g} {unit} (band and tag 'prospects')."


def ring_rows(values: np.ndarray, limit: float, delta: float) -> int:
    """Number of target-list rows in the ring (for a caption)."""
    return int(prospects.in_ring(values, limit, delta).sum())
