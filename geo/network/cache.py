"""Keep processed road graphs on disk as compact arrays: one ``.npz`` per source, mode and options."""

from __future__ import annotations

import gc
import hashlib
import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "geo-o2o" / "networks"
CACHE_VERSION = 4
"""Part of every cache key: bump it when what a loader stores changes."""
_HASH_LIMIT_BYTES = 64 * 1024 * 1024


# ---------------------------------------------------------------------------
# disk cache: compact arrays in one .npz per (source, mode, speeds)


def cache_key(path: Path, mode: str, **options: Any) -> str:
    """Return the cache key of a network file: its content hash (path, mtime and size above 64 MB).

    ``options`` (speeds, simplify, ...) and ``CACHE_VERSION`` are part of the key.
    """
    stat = path.stat()
    h = hashlib.sha1()
    if stat.st_size <= _HASH_LIMIT_BYTES:
        h.update(path.read_bytes())
    else:
        h.update(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode())
    h.update(json.dumps({"mode": mode, "v": CACHE_VERSION, **options}, sort_keys=True).encode())
    return f"{path.name.split('.')[0]}-{mode}-{h.hexdigest()[:16]}"


def _column(values: list[Any]) -> tuple[np.ndarray, str]:
    """Encode one attribute column as a numpy array plus a kind tag (float/int/bool/str/json)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return np.array([2 if v is None else int(v) for v in values], dtype=np.int8), "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=np.int64), "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), "float"
    if all(isinstance(v, str) for v in present):
        return np.array(["\x01" if v is None else v for v in values], dtype=str), "str"
    if all(hasattr(v, "wkb") for v in present):
        return np.array(["" if v is None else shapely.to_wkb(v, hex=True) for v in values], dtype=str), "wkb"
    return np.array([json.dumps(v) for v in values], dtype=str), "json"


def _decode(arr: np.ndarray, kind: str) -> list[Any]:
    """Decode one attribute column written by `_column` back to Python values (None where absent)."""
    if kind == "bool":
        return [None if v == 2 else bool(v) for v in arr.tolist()]
    if kind == "int":
        ints: list[Any] = arr.tolist()
        return ints
    if kind == "float":
        return [None if v != v else v for v in arr.tolist()]
    if kind == "str":
        return [None if v == "\x01" else v for v in arr.tolist()]
    if kind == "wkb":
        wkb = arr.astype(object)
        wkb[arr == ""] = None
        geoms = shapely.from_wkb(wkb)
        return list(geoms)
    return [json.loads(v) for v in arr.tolist()]


def save_graph_cache(G: nx.MultiDiGraph, file: Path) -> Path:
    """Write ``G`` as a compact ``.npz`` of node and edge attribute arrays."""
    nodes = list(G.nodes(data=True))
    edges = list(G.edges(keys=True, data=True))
    arrays: dict[str, np.ndarray] = {
        "node_id": np.array([n for n, _ in nodes], dtype=np.int64),
        "edge_u": np.array([u for u, _, _, _ in edges], dtype=np.int64),
        "edge_v": np.array([v for _, v, _, _ in edges], dtype=np.int64),
        "edge_k": np.array([k for _, _, k, _ in edges], dtype=np.int64),
    }
    kinds: dict[str, str] = {}
    for prefix, rows in (("n", [d for _, d in nodes]), ("e", [d for *_, d in edges])):
        keys = sorted({k for d in rows for k in d})
        for key in keys:
            arr, kind = _column([d.get(key) for d in rows])
            arrays[f"{prefix}:{key}"] = arr
            kinds[f"{prefix}:{key}"] = kind
    meta = {"graph": G.graph, "kinds": kinds}
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp.npz")
    np.savez(tmp, allow_pickle=True, **arrays)  # numpy's default, spelled out: no array is named allow_pickle
    tmp.replace(file)
    return file


def load_graph_cache(file: Path) -> nx.MultiDiGraph:
    """Read a graph written by `save_graph_cache` (fills networkx's adjacency dicts directly)."""
    was_enabled = gc.isenabled()
    gc.disable()  # tens of thousands of small dicts: the cyclic collector would triple the time
    try:
        return _load_graph_cache(file)
    finally:
        if was_enabled:
            gc.enable()


def _load_graph_cache(file: Path) -> nx.MultiDiGraph:
    """Rebuild the graph from the arrays of ``file`` (nodes, then successor and predecessor dicts)."""
    with np.load(file, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        kinds = meta["kinds"]
        cols = {name: _decode(z[name], kind) for name, kind in kinds.items()}
        node_id = z["node_id"].tolist()
        u, v, k = z["edge_u"].tolist(), z["edge_v"].tolist(), z["edge_k"].tolist()
    G = nx.MultiDiGraph(**meta["graph"])
    G._node.update(zip(node_id, _rows(cols, "n:", len(node_id)), strict=True))
    succ: dict[int, dict[int, dict[int, dict[str, Any]]]] = {n: {} for n in node_id}
    pred: dict[int, dict[int, dict[int, dict[str, Any]]]] = {n: {} for n in node_id}
    for a, b, key, data in zip(u, v, k, _rows(cols, "e:", len(u)), strict=True):
        nbrs = succ[a].get(b)
        if nbrs is None:
            nbrs = succ[a][b] = {}
            pred[b][a] = nbrs
        nbrs[key] = data
    G._succ.update(succ)
    G._pred.update(pred)
    return G


def _rows(cols: dict[str, list[Any]], prefix: str, n: int) -> list[dict[str, Any]]:
    """Rebuild per-row attribute dicts: dense columns zipped, sparse ones filled where present."""
    dense = [c for c in cols if c.startswith(prefix) and all(x is not None for x in cols[c])]
    sparse = [c for c in cols if c.startswith(prefix) and c not in dense]
    keys = [c[len(prefix):] for c in dense]
    rows = ([dict(zip(keys, row, strict=True)) for row in zip(*(cols[c] for c in dense), strict=True)]
            if dense else [{} for _ in range(n)])
    for c in sparse:
        key = c[len(prefix):]
        for row, x in zip(rows, cols[c], strict=True):
            if x is not None:
                row[key] = x
    return rows
