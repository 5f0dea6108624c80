"""A deterministic, country-sized synthetic drive network for the scale benchmark.

No extract of a whole country is on this machine, so `generate` draws one:

* an arterial lattice over the country, lines every ``lattice_km`` with a node
  every 500 m; every 12th line is a ``motorway``, every 4th a ``primary``, the
  others ``secondary`` roads (lines share their crossing nodes);
* towns of lognormal sizes (cities of ten thousand nodes and more, many
  villages of a few dozen) at random places, each a grid of ``residential``
  streets 100 m apart, joined to the nearest lattice node by a ``tertiary``
  road from each side's midpoint.

Every edge is two-way, with its length in metres and the speed OSMnx's
``add_edge_speeds`` gives its highway type when no ``maxspeed`` is tagged
(`geo.network.graph.TYPICAL_DRIVE_KMH`, the values the project imputes), so
``travel_time = length / 1000 / (speed / 3600)`` as in OSMnx. From there on
the code path is the one of OSM networks: `SyntheticNetwork.router` builds a
`geo.network.routing.Router` from the arrays, `SyntheticNetwork.graph` a
networkx graph for `Router.from_graph` (small sizes: the test compares both).

Coordinates are made in metres on a local plane and placed around
(``lat0``, ``lon0``) in EPSG:4326 (equirectangular; lengths are those of the plane).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from geo.network.graph import TYPICAL_DRIVE_KMH
from geo.network.routing import Router

LATTICE_STEP_M = 500.0
STREET_M = 100.0
HIGHWAYS = ("motorway", "primary", "secondary", "tertiary", "residential")
M_PER_DEG = 111_320.0


@dataclass
class SyntheticNetwork:
    """Nodes (metres and degrees), two-way edges and the towns of a synthetic country.

    Attributes
    ----------
    x, y
        Node coordinates on the local plane, metres.
    lon, lat
        The same in EPSG:4326 degrees.
    u, v
        Edge end node indices (each road appears once; `router` adds both directions).
    length_m
        Edge lengths, metres.
    highway
        Index into `HIGHWAYS` per edge.
    town_nodes
        Node index range ``(start, stop)`` of each town, largest town first.
    """

    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    highway: np.ndarray
    town_nodes: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    def travel_s(self) -> np.ndarray:
        """Seconds per edge at the OSMnx-imputed speed of its highway type (km/h), as OSMnx computes them."""
        kmh = np.array([TYPICAL_DRIVE_KMH[h] for h in HIGHWAYS])[self.highway]
        seconds: np.ndarray = self.length_m / 1000.0 / (kmh / 3600.0)
        return seconds

    def router(self) -> Router:
        """A drive `Router` over both directions of every edge (no networkx graph in between)."""
        t = self.travel_s()
        return Router.from_arrays("drive", np.arange(self.n_nodes), self.lon, self.lat,
                                  np.concatenate([self.u, self.v]), np.concatenate([self.v, self.u]),
                                  np.concatenate([t, t]))

    def graph(self) -> nx.MultiDiGraph:
        """An OSMnx-style ``MultiDiGraph`` (``x, y, highway, length, oneway``) for small sizes.

        Speeds and travel times are left to `geo.network.graph.add_travel_times`.
        """
        G = nx.MultiDiGraph(crs="EPSG:4326", mode="drive")
        G.add_nodes_from((int(i), {"x": float(a), "y": float(b)})
                         for i, a, b in zip(range(self.n_nodes), self.lon, self.lat, strict=True))
        for a, b, d, h in zip(self.u.tolist(), self.v.tolist(), self.length_m.tolist(), self.highway.tolist(),
                              strict=True):
            data = {"highway": HIGHWAYS[h], "length": d, "oneway": False, "reversed": False}
            G.add_edge(a, b, **data)
            G.add_edge(b, a, **{**data, "reversed": True})
        return G


def _lattice(width_m: float, height_m: float, line_m: float) -> tuple[np.ndarray, ...]:
    """Arterial lattice: nodes every `LATTICE_STEP_M` on lines every ``line_m``; class from the line index."""
    k = int(round(line_m / LATTICE_STEP_M))
    nx_, ny_ = int(width_m // LATTICE_STEP_M) + 1, int(height_m // LATTICE_STEP_M) + 1
    cols, rows = np.arange(0, nx_, k), np.arange(0, ny_, k)
    gi, gj = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
    on = np.isin(gi, cols) | np.isin(gj, rows)
    index = np.full((nx_, ny_), -1, dtype=np.int64)
    index[on] = np.arange(int(on.sum()))
    x, y = gi[on] * LATTICE_STEP_M, gj[on] * LATTICE_STEP_M

    def klass(line: np.ndarray) -> np.ndarray:
        n = line // k
        return np.where(n % 12 == 0, 0, np.where(n % 4 == 0, 1, 2))

    us, vs, hs = [], [], []
    for c in cols:  # north-south lines
        ids = index[c, :]
        us.append(ids[:-1])
        vs.append(ids[1:])
        hs.append(np.full(ny_ - 1, klass(np.array([c]))[0]))
    for r in rows:  # east-west lines
        ids = index[:, r]
        us.append(ids[:-1])
        vs.append(ids[1:])
        hs.append(np.full(nx_ - 1, klass(np.array([r]))[0]))
    u, v, h = np.concatenate(us), np.concatenate(vs), np.concatenate(hs)
    return x.astype(float), y.astype(float), u, v, np.full(len(u), LATTICE_STEP_M), h


def _town_sides(n_nodes: int, rng: np.random.Generator, n_towns: int) -> np.ndarray:
    """Side lengths (nodes) of ``n_towns`` square towns, lognormal, summing to about ``n_nodes``."""
    w = rng.lognormal(0.0, 1.1, n_towns)
    area = w / w.sum() * n_nodes
    side = np.maximum(3, np.round(np.sqrt(area))).astype(np.int64)
    return np.sort(side)[::-1]


def generate(n_nodes: int = 2_000_000, *, seed: int = 18, width_km: float | None = None,
             height_km: float | None = None,
             lattice_km: float = 5.0, lat0: float = 47.0, lon0: float = 10.0) -> SyntheticNetwork:
    """Draw a synthetic country of about ``n_nodes`` nodes (deterministic for a seed).

    Parameters
    ----------
    n_nodes
        Target node count (lattice plus towns; the result is within a few percent).
    seed
        Random seed of the town sizes and positions.
    width_km, height_km
        Size of the country, km (default: 4:3, sized so that the lattice, about
        ``4 * width * height / lattice_km`` nodes, holds 15 % of them: 700 x 530 km
        at 2 million nodes).
    lattice_km
        Spacing of the arterial lines, km (a multiple of 0.5).
    lat0, lon0
        Where the country's south-west corner lies, degrees.
    """
    rng = np.random.default_rng(seed)
    if width_km is None or height_km is None:
        area_km2 = 0.15 * n_nodes * lattice_km / 4.0
        width_km, height_km = float(np.sqrt(area_km2 * 4 / 3)), float(np.sqrt(area_km2 * 3 / 4))
    w_m, h_m = width_km * 1000.0, height_km * 1000.0
    lx, ly, lu, lv, llen, lh = _lattice(w_m, h_m, lattice_km * 1000.0)
    left = max(0, n_nodes - len(lx))
    n_towns = max(1, left // 600)
    sides = _town_sides(left, rng, n_towns)
    xs, ys, us, vs, lens, hws = [lx], [ly], [lu], [lv], [llen], [lh]
    lattice_tree = cKDTree(np.column_stack([lx, ly]))
    start = len(lx)
    towns = []
    for side in sides.tolist():
        span = (side - 1) * STREET_M
        ox, oy = rng.uniform(0, w_m - span), rng.uniform(0, h_m - span)
        gi, gj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        ids = start + gi * side + gj
        xs.append(ox + gi.ravel() * STREET_M)
        ys.append(oy + gj.ravel() * STREET_M)
        for a, b in ((ids[:-1, :], ids[1:, :]), (ids[:, :-1], ids[:, 1:])):
            us.append(a.ravel())
            vs.append(b.ravel())
            lens.append(np.full(a.size, STREET_M))
            hws.append(np.full(a.size, 4))
        mid = side // 2
        gates = np.array([ids[0, mid], ids[-1, mid], ids[mid, 0], ids[mid, -1]])
        gx = ox + (gates - start) // side * STREET_M
        gy = oy + (gates - start) % side * STREET_M
        d, near = lattice_tree.query(np.column_stack([gx, gy]))
        us.append(gates)
        vs.append(near.astype(np.int64))
        lens.append(np.maximum(d, 1.0))
        hws.append(np.full(4, 3))
        towns.append((start, start + side * side))
        start += side * side
    x, y = np.concatenate(xs), np.concatenate(ys)
    lat = lat0 + y / M_PER_DEG
    lon = lon0 + x / (M_PER_DEG * np.cos(np.radians(lat0 + height_km / 2 / 111.32)))
    return SyntheticNetwork(x=x, y=y, lon=lon, lat=lat, u=np.concatenate(us).astype(np.int64),
                            v=np.concatenate(vs).astype(np.int64), length_m=np.concatenate(lens).astype(float),
                            highway=np.concatenate(hws).astype(np.int8), town_nodes=np.array(towns, dtype=np.int64))


def sample_town_nodes(net: SyntheticNetwork, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` node indices drawn from the towns, each town in proportion to its node count (where people live)."""
    start, stop = net.town_nodes[:, 0], net.town_nodes[:, 1]
    size = stop - start
    town = rng.choice(len(size), n, p=size / size.sum())
    picked: np.ndarray = start[town] + (rng.random(n) * size[town]).astype(np.int64)
    return picked
