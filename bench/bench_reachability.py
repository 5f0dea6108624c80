"""Benchmark who gets a travel time near a network's edge, against an independent OSMnx + networkx reference.

Run: ``.venv/bin/python bench/bench_reachability.py [--near 3000] [--uniform 2000]
[--networks andorra,krems,bayreuth,liechtenstein,demo] [--modes walk,drive]``

For each extract of ``../shared/osm`` (and the embedded demo), in walk and drive
mode, with stores (Andorra: the 50 benchmark stores; the others: 8 random
network nodes, seed 0) and synthetic customers (``--near`` placed 5-250 m to
the side of random road edges, ``--uniform`` uniformly in the extract's
declared box), it prints:

(a) the share of customers inside the box and within 250 m of a road (distance
    to the nearest road segment, shapely) that get no time, with the reasons;
    target < 0.5 %. A customer whose nearest road lies in a piece of the
    network without a store has no route by design (``no_route``), so the
    share is also given without them (the pieces are the reference's);
(b) against the reference, the share of travel minutes within
    ``max(0.25 min, 10 %)`` plus the walked snap leg (the larger of the two);
    target >= 99 %;
(c) the share of nearest stores that agree with the reference where its two
    nearest stores differ by more than that margin; target >= 99 %.

The reference is built without `geo.network.graph` and `geo.network.routing`: the ways that
pass OSMnx's network filter (``geo.network.osm.way_passes``, the one shared piece)
are written to OSM XML with pyosmium and read by ``ox.graph_from_xml``
(unsimplified, every piece), with OSMnx's speeds and travel times; it is kept
to its strongly connected part (the largest strongly connected component of
each piece, networkx). Stores snap with ``ox.distance.nearest_nodes`` (graph
projected by ``ox.project_graph``) to any piece, customers to the pieces
holding a store, within the same 500 m; minutes are networkx Dijkstra from each
store on the reversed graph plus the snap leg at 4.8 km/h. Timings are medians
of ``--repeats`` runs; tests never assert on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pyproj
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.catchments.assign import assign_customers  # noqa: E402
from geo.errors import NetworkWarning
from geo.network.extent import file_bounds  # noqa: E402
from geo.network.graph import DEFAULT_WALK_KMH, TYPICAL_DRIVE_KMH
from geo.network.load import demo_network_path, load_network
from geo.network.osm import way_filter, way_passes
from geo.network.routing import Router  # noqa: E402

OSM = Path(__file__).resolve().parents[2] / "shared" / "osm"
NETWORKS = {"andorra": OSM / "andorra.osm.pbf", "krems": OSM / "krems.osm.gz",
            "bayreuth": OSM / "north-bayreuth.osm.gz", "liechtenstein": OSM / "liechtenstein.osm.pbf",
            "demo": None}
NEAR_ROAD_M = 250.0
SNAP_MAX_M = 500.0


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall seconds of ``repeats`` calls, and the last result."""
    walls, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t)
    return statistics.median(walls), out


# --- the reference ---------------------------------------------------------------------


def filtered_xml(path: Path, mode: str, out: Path) -> Path:
    """Write the ways of ``mode`` (OSMnx's filter) and their nodes to OSM XML, cut where nodes are missing."""
    clauses = way_filter(mode)
    ways: dict[int, tuple[dict[str, str], list[int]]] = {}
    for w in osmium.FileProcessor(str(path), osmium.osm.WAY):
        tags = {t.k: t.v for t in w.tags}
        if "highway" in tags and way_passes(tags, clauses):
            ways[w.id] = (tags, [n.ref for n in w.nodes])
    needed = {r for _, refs in ways.values() for r in refs}
    present: set[int] = set()
    with osmium.SimpleWriter(str(out), overwrite=True) as writer:
        for n in osmium.FileProcessor(str(path), osmium.osm.NODE):
            if n.id in needed and n.location.valid():
                writer.add_node(n)
                present.add(n.id)
        next_id = max(ways) + 1
        for wid, (tags, refs) in ways.items():
            runs, run = [], []
            for r in refs + [None]:
                if r in present:
                    run.append(r)
                else:
                    runs.append(run)
                    run = []
            for k, run in enumerate(r for r in runs if len(r) >= 2):
                writer.add_way(osmium.osm.mutable.Way(id=wid if k == 0 else next_id, nodes=run, tags=tags))
                next_id += k > 0
    return out


def reference_graph(path: Path, mode: str, folder: Path) -> nx.MultiDiGraph:
    """OSMnx's graph of the extract (every piece, unsimplified, projected) with OSMnx travel times."""
    xml = filtered_xml(path, mode, folder / f"{path.name.split('.')[0]}-{mode}.osm")
    G = ox.graph_from_xml(xml, bidirectional=mode in ox.settings.bidirectional_network_types, simplify=False,
                          retain_all=True)
    if mode == "drive":
        if any("maxspeed" in d for *_, d in G.edges(data=True)):
            G = ox.add_edge_speeds(G)
        else:
            G = ox.add_edge_speeds(G, hwy_speeds=TYPICAL_DRIVE_KMH, fallback=TYPICAL_DRIVE_KMH["unclassified"])
        G = ox.add_edge_travel_times(G)
    else:
        for *_, d in G.edges(data=True):
            d["travel_time"] = d["length"] / (DEFAULT_WALK_KMH / 3.6)
    return ox.project_graph(G)


def strong_cores(G: nx.MultiDiGraph) -> dict[int, int]:
    """Node -> piece number, for the nodes of the largest strongly connected component of each piece."""
    out = {}
    for k, piece in enumerate(nx.weakly_connected_components(G)):
        core = max(nx.strongly_connected_components(G.subgraph(piece)), key=len)
        if len(core) > 1:
            out.update(dict.fromkeys(core, k))
    return out


def reference_minutes(G: nx.MultiDiGraph, stores: pd.DataFrame, lat: np.ndarray, lon: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minutes by the reference recipe, the snap distances and whether the nearest road's piece has no store.

    Returns ``(n_customers, n_stores)`` minutes (NaN: no time; stores in the
    given order), the metres to the snapped node, and per customer whether the
    nearest node of the whole graph lies in a piece without a store.
    """
    cores = strong_cores(G)
    piece = {n: k for k, nodes in enumerate(nx.weakly_connected_components(G)) for n in nodes}
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", G.graph["crs"], always_xy=True)
    sx, sy = to_xy.transform(stores["lon"].to_numpy(float), stores["lat"].to_numpy(float))
    snap_nodes, snap_d = ox.distance.nearest_nodes(G.subgraph(list(cores)), sx, sy, return_dist=True)
    placed = np.asarray(snap_d) <= SNAP_MAX_M
    served = {cores[n] for n, ok in zip(snap_nodes, placed, strict=True) if ok}
    sub = G.subgraph([n for n, k in cores.items() if k in served])
    cx, cy = to_xy.transform(lon, lat)
    cnode, cdist = ox.distance.nearest_nodes(sub, cx, cy, return_dist=True)
    cdist = np.asarray(cdist, dtype=float)
    leg_s = cdist / (DEFAULT_WALK_KMH / 3.6)
    rev = G.reverse(copy=False)
    out = np.full((len(lat), len(stores)), np.nan)
    for j, (node, ok) in enumerate(zip(snap_nodes, placed, strict=True)):
        if not ok:
            continue
        sec = nx.single_source_dijkstra_path_length(rev, node, weight="travel_time")
        out[:, j] = [sec.get(n, np.nan) for n in cnode]
    out = (out + leg_s[:, None]) / 60.0
    out[cdist > SNAP_MAX_M] = np.nan
    nearest = ox.distance.nearest_nodes(G, cx, cy)
    storeless = np.array([piece[n] not in served for n in nearest])
    return out, cdist, storeless


# --- customers and stores ----------------------------------------------------------------


def road_segments(G: nx.MultiDiGraph) -> np.ndarray:
    """Straight road segments of a projected graph as shapely lines (full resolution: one per edge)."""
    xy = {n: (d["x"], d["y"]) for n, d in G.nodes(data=True)}
    pairs = {(min(u, v), max(u, v)) for u, v in G.edges()}
    return shapely.linestrings([[xy[u], xy[v]] for u, v in pairs])


def synthetic_customers(G: nx.MultiDiGraph, box: shapely.Polygon, n_near: int, n_uniform: int,
                        seed: int = 1) -> pd.DataFrame:
    """Customers 5-250 m beside random edges and uniformly in ``box``, with their distance to the nearest road."""
    rng = np.random.default_rng(seed)
    segs = road_segments(G)
    ends = shapely.get_coordinates(segs).reshape(-1, 2, 2)
    pick = ends[rng.integers(0, len(ends), n_near)]
    along = pick[:, 1] - pick[:, 0]
    normal = np.column_stack([-along[:, 1], along[:, 0]]) / np.maximum(np.hypot(*along.T), 1e-9)[:, None]
    side = rng.uniform(5, NEAR_ROAD_M, n_near) * rng.choice([-1, 1], n_near)
    near = pick[:, 0] + along * rng.random(n_near)[:, None] + normal * side[:, None]
    to_lonlat = pyproj.Transformer.from_crs(G.graph["crs"], "EPSG:4326", always_xy=True)
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", G.graph["crs"], always_xy=True)
    lon, lat = to_lonlat.transform(near[:, 0], near[:, 1])
    west, south, east, north = box.bounds
    lon = np.concatenate([lon, rng.uniform(west, east, n_uniform)])
    lat = np.concatenate([lat, rng.uniform(south, north, n_uniform)])
    x, y = to_xy.transform(lon, lat)
    tree = shapely.STRtree(segs)
    _, road_m = tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(lon))], "lat": lat, "lon": lon,
                         "road_m": road_m, "inside": shapely.contains_xy(box, lon, lat)})


def random_stores(G: nx.MultiDiGraph, box: shapely.Polygon, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` random nodes of the reference graph inside ``box`` (fixed seed), as stores."""
    to_lonlat = pyproj.Transformer.from_crs(G.graph["crs"], "EPSG:4326", always_xy=True)
    nodes = sorted(G.nodes)
    x = np.array([G.nodes[v]["x"] for v in nodes])
    y = np.array([G.nodes[v]["y"] for v in nodes])
    lon, lat = to_lonlat.transform(x, y)
    inside = np.flatnonzero(shapely.contains_xy(box, lon, lat))
    idx = np.random.default_rng(seed).choice(inside, n, replace=False)
    return pd.DataFrame({"store_id": [f"R{i:02d}" for i in range(n)], "name": "random",
                         "lat": lat[idx], "lon": lon[idx]})


# --- one run -----------------------------------------------------------------------------


def bench(name: str, path: Path, mode: str, args: argparse.Namespace, folder: Path) -> dict:
    """Figures (a), (b), (c) and timings for one extract and mode."""
    box, _ = file_bounds(path)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(path, mode, cache_dir=folder / "cache")
    load_s = time.perf_counter() - t
    router_s, R = median_time(lambda: Router.from_graph(G), 1)
    ref = reference_graph(path, mode, folder)
    if name == "andorra":
        stores = pd.read_csv(OSM / "andorra-stores-50.csv", dtype={"store_id": str})
    else:
        stores = random_stores(ref, box, 8)
    stores = stores.sort_values("store_id", ignore_index=True)
    customers = synthetic_customers(ref, box, args.near, args.uniform)
    assign_s, out = median_time(lambda: assign_customers(R, stores, customers, mode=mode), args.repeats)
    ref_min, ref_snap, storeless = reference_minutes(ref, stores, customers["lat"].to_numpy(),
                                                     customers["lon"].to_numpy())

    target = (customers["inside"] & (customers["road_m"] <= NEAR_ROAD_M)).to_numpy()
    no_time = target & ~out["reachable"].to_numpy()
    reasons = out.loc[no_time, "unreachable_reason"].astype(str).value_counts().to_dict()
    served_target = target & ~storeless

    ours = out["travel_min"].to_numpy(float)
    best = np.nanmin(np.where(np.isnan(ref_min), np.inf, ref_min), axis=1)
    best[~np.isfinite(best)] = np.nan
    both = ~np.isnan(ours) & ~np.isnan(best)
    leg = np.fmax(out["snap_m"].to_numpy(float), ref_snap) / (DEFAULT_WALK_KMH / 3.6) / 60.0
    margin = np.maximum(0.25, 0.10 * best) + leg
    close = np.abs(ours - best) <= margin
    ranked = np.sort(np.where(np.isnan(ref_min), np.inf, ref_min), axis=1)
    second = ranked[:, 1] if ranked.shape[1] > 1 else np.full(len(ranked), np.inf)
    clear = both & (second - best > margin)
    ref_store = stores["store_id"].to_numpy()[np.argmin(np.where(np.isnan(ref_min), np.inf, ref_min), axis=1)]
    agree = out["store_id"].astype(str).to_numpy() == ref_store
    return {"network": name, "mode": mode, "nodes": len(G), "pieces": R.n_pieces, "set_aside": R.set_aside_nodes,
            "stores": len(stores), "customers": len(customers), "target": int(target.sum()),
            "a_no_time": no_time.sum() / max(target.sum(), 1), "a_reasons": reasons,
            "a_storeless": int((target & storeless).sum()), "a_served": int(served_target.sum()),
            "a_served_no_time": (no_time & served_target).sum() / max(served_target.sum(), 1),
            "b_compared": int(both.sum()), "b_within": close[both].mean() if both.any() else np.nan,
            "only_ours": int((~np.isnan(ours) & np.isnan(best)).sum()),
            "only_ref": int((np.isnan(ours) & ~np.isnan(best)).sum()),
            "c_compared": int(clear.sum()), "c_agree": agree[clear].mean() if clear.any() else np.nan,
            "median_abs_diff_min": float(np.median(np.abs(ours - best)[both])) if both.any() else np.nan,
            "load_s": load_s, "router_s": router_s, "assign_s": assign_s}


def report(row: dict) -> None:
    """Print one run's figures."""
    print(f"\n== {row['network']} {row['mode']}: {row['nodes']:,} nodes in {row['pieces']} pieces, "
          f"{row['set_aside']:,} set aside; {row['stores']} stores, {row['customers']:,} customers")
    print(f"  (a) no time, inside the box and <= {NEAR_ROAD_M:.0f} m from a road: {row['a_no_time']:7.2%} "
          f"of {row['target']:,}  {row['a_reasons'] or ''}")
    print(f"      {row['a_storeless']:,} of the {row['target']:,} have their nearest road in a piece without a store "
          f"(no route by design); of the {row['a_served']:,} others, {row['a_served_no_time']:.2%} get no time")
    print(f"  (b) minutes within max(0.25 min, 10 %) + snap leg:            {row['b_within']:7.2%} "
          f"of {row['b_compared']:,} (median |diff| {row['median_abs_diff_min']:.3f} min; a time only here "
          f"{row['only_ours']}, only in the reference {row['only_ref']})")
    print(f"  (c) nearest store agrees where the two nearest differ by more: {row['c_agree']:7.2%} "
          f"of {row['c_compared']:,}")
    print(f"  timings (median): load {row['load_s']:.2f} s, Router.from_graph {row['router_s']:.2f} s, "
          f"assign {row['customers']:,} customers {row['assign_s']:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--near", type=int, default=3000, help="customers 5-250 m beside random edges")
    parser.add_argument("--uniform", type=int, default=2000, help="customers uniform in the extract's box")
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"subset of {', '.join(NETWORKS)}")
    parser.add_argument("--modes", default="walk,drive")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ox.settings.use_cache = False
    ox.settings.log_console = False
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reach-") as tmp:
        for name in (n.strip() for n in args.networks.split(",")):
            path = NETWORKS[name] or demo_network_path()
            for mode in (m.strip() for m in args.modes.split(",")):
                rows.append(bench(name, Path(path), mode, args, Path(tmp)))
                report(rows[-1])
    table = pd.DataFrame(rows)[["network", "mode", "a_no_time", "a_served_no_time", "b_within", "c_agree"]]
    print("\nsummary (targets: a < 0.5 %, b >= 99 %, c >= 99 %; a_served: customers whose nearest road is in "
          "a piece with a store)")
    pct = "{:.2%}".format
    print(table.to_string(index=False, formatters={c: pct for c in table.columns[2:]}))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
