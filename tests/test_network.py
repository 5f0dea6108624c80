"""Tests for geo.network.graph: OSMnx-faithful loading, speeds, cache, bad inputs and the online path."""

from __future__ import annotations

import gzip
import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely

from geo.errors import NetworkError, NetworkWarning
from geo.network.download import graph_from_bbox, graph_from_place
from geo.network.extent import graph_bounds
from geo.network.graph import DEFAULT_BIKE_KMH, DEFAULT_WALK_KMH, load_notes
from geo.network.load import load_network
from geo.network.osm import read_osm_elements, way_filter, way_passes
from tests.conftest import SHARED_OSM

OSM = SHARED_OSM
KREMS = OSM / "krems.osm.gz"
ANDORRA = OSM / "andorra.osm.pbf"


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "engine-netcache"


def _load(source, mode, cache, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        return load_network(source, mode, cache_dir=cache, **kw)


@pytest.fixture(scope="module")
def krems_drive(net_cache):
    return _load(KREMS, "drive", net_cache)


def test_way_filter_follows_osmnx_semantics():
    drive, walk, bike = way_filter("drive"), way_filter("walk"), way_filter("bike")
    assert way_passes({"highway": "residential"}, drive)
    assert not way_passes({"highway": "footway"}, drive)
    assert not way_passes({"highway": "service", "service": "driveway"}, drive)
    assert not way_passes({"highway": "residential", "access": "private"}, drive)
    assert not way_passes({"highway": "residential", "motor_vehicle": "no"}, drive)
    assert not way_passes({"building": "yes"}, drive)  # no highway key
    assert way_passes({"highway": "footway"}, walk)
    assert not way_passes({"highway": "motorway"}, walk)
    assert not way_passes({"highway": "cycleway"}, walk)
    assert way_passes({"highway": "cycleway"}, bike)
    assert not way_passes({"highway": "residential", "bicycle": "no"}, bike)


def test_unknown_mode_is_refused():
    with pytest.raises(NetworkError, match="unknown travel mode 'car'"):
        load_network(KREMS, "car")


def test_drive_graph_has_osmnx_attributes_and_speeds(krems_drive):
    G = krems_drive
    assert G.graph["crs"] == "epsg:4326" and G.graph["mode"] == "drive"
    # every piece is kept and counted: the report agrees with networkx's components
    sizes = sorted((len(c) for c in nx.weakly_connected_components(G)), reverse=True)
    assert len(sizes) > 1 and G.graph["load_report"]["piece_nodes"] == sizes
    assert G.graph["load_report"]["pieces"] == len(sizes) and G.graph["load_report"]["nodes"] == len(G)
    x = np.array([d["x"] for _, d in G.nodes(data=True)])
    y = np.array([d["y"] for _, d in G.nodes(data=True)])
    assert (15.5 < x).all() and (x < 15.8).all() and (48.3 < y).all() and (y < 48.5).all()
    # speeds exactly as ox.add_edge_speeds / add_edge_travel_times on the same graph
    H = G.copy()
    for *_, d in H.edges(data=True):
        del d["speed_kph"], d["travel_time"]
    H = ox.add_edge_travel_times(ox.add_edge_speeds(H))
    for u, v, k, d in G.edges(keys=True, data=True):
        assert d["speed_kph"] == H.edges[u, v, k]["speed_kph"]
        assert d["travel_time"] == H.edges[u, v, k]["travel_time"]
    # one-way streets hold for driving: some oneway edges have no reverse edge
    oneway = [(u, v) for u, v, d in G.edges(data=True) if d["oneway"]]
    assert oneway and any(not G.has_edge(v, u) for u, v in oneway)


def test_walk_and_bike_use_constant_speeds_and_walk_is_bidirectional(net_cache):
    W = _load(KREMS, "walk", net_cache)
    assert all(W.has_edge(v, u) for u, v in W.edges())
    speeds = {d["speed_kph"] for *_, d in W.edges(data=True)}
    assert speeds == {DEFAULT_WALK_KMH}
    u, v, d = next(iter(W.edges(data=True)))
    assert d["travel_time"] == pytest.approx(d["length"] / (DEFAULT_WALK_KMH / 3.6))
    B = _load(KREMS, "bike", net_cache, bike_kmh=18.0)
    assert {d["speed_kph"] for *_, d in B.edges(data=True)} == {18.0}
    assert DEFAULT_BIKE_KMH == 15.0


def test_full_resolution_matches_osmnx_construction(krems_drive):
    """Same nodes and edges as OSMnx's own graph construction from the filtered ways, every piece kept."""
    from osmnx import graph as oxg

    response, _ = read_osm_elements(KREMS, "drive")
    G = oxg._create_graph([response], False)
    tiny = [c for c in nx.weakly_connected_components(G) if G.subgraph(c).number_of_edges() < 2]
    G.remove_nodes_from(set().union(*tiny))
    assert set(G.nodes) == set(krems_drive.nodes)
    assert set(G.edges(keys=True)) == set(krems_drive.edges(keys=True))
    assert krems_drive.graph["load_report"]["dropped_pieces"] == sorted((len(c) for c in tiny), reverse=True)


def test_disk_cache_round_trip(net_cache, krems_drive):
    files = list(net_cache.glob("krems-drive-*.npz"))
    assert len(files) == 1
    again = _load(KREMS, "drive", net_cache)
    assert set(again.edges(keys=True)) == set(krems_drive.edges(keys=True))
    for u, v, k, d in krems_drive.edges(keys=True, data=True):
        assert again.edges[u, v, k] == d
    for n, d in krems_drive.nodes(data=True):
        assert again.nodes[n] == d
    assert again.graph["load_report"] == krems_drive.graph["load_report"]
    # a different speed is a different cache entry
    before = set(net_cache.glob("krems-walk-*.npz"))
    _load(KREMS, "walk", net_cache, walk_kmh=5.5)
    slow = set(net_cache.glob("krems-walk-*.npz")) - before
    _load(KREMS, "walk", net_cache, walk_kmh=5.6)
    assert len(slow) == 1 and len(set(net_cache.glob("krems-walk-*.npz")) - before - slow) == 1


def _declared_box(path: Path) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of the ``<bounds>`` element, read from the XML text itself."""
    import re

    head = gzip.decompress(path.read_bytes())[:2000].decode()
    attrs = dict(re.findall(r"(min\w+|max\w+)='([-\d.]+)'", head.split("<bounds", 1)[1].split("/>", 1)[0]))
    return (float(attrs["minlon"]), float(attrs["minlat"]), float(attrs["maxlon"]), float(attrs["maxlat"]))


def test_bounds_are_recorded_and_survive_the_disk_cache(net_cache, krems_drive):
    west, south, east, north = _declared_box(KREMS)
    box = graph_bounds(krems_drive)
    assert box.bounds == pytest.approx((west, south, east, north), abs=1e-7)
    assert krems_drive.graph["bounds_from"] == "<bounds> element"
    again = _load(KREMS, "drive", net_cache)  # read from the cache file written by krems_drive
    assert graph_bounds(again).equals(box) and again.graph["bounds_from"] == "<bounds> element"
    pbf = _load(ANDORRA, "drive", net_cache)
    assert graph_bounds(pbf).bounds == pytest.approx((1.422104, 42.43509, 1.780386, 42.65717), abs=1e-6)
    assert pbf.graph["bounds_from"] == "PBF header box"


def test_a_file_without_bounds_records_none(tmp_path):
    path = _two_islands(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkWarning)
        G = load_network(path, "drive", use_cache=False)
    assert "bounds" not in G.graph and graph_bounds(G) is None


def test_graphml_source(tmp_path, krems_drive):
    path = tmp_path / "krems.graphml"
    ox.save_graphml(krems_drive, path)
    G = load_network(path, "drive", use_cache=False)
    assert len(G) == len(krems_drive)
    assert graph_bounds(G).equals(graph_bounds(krems_drive))  # the bounds travel with the file
    assert G.graph["load_report"]["piece_nodes"] == krems_drive.graph["load_report"]["piece_nodes"]
    W = load_network(path, "walk", use_cache=False)
    assert {d["speed_kph"] for *_, d in W.edges(data=True)} == {DEFAULT_WALK_KMH}
    del krems_drive.graph["bounds"]
    try:
        ox.save_graphml(krems_drive, tmp_path / "nobounds.graphml")
    finally:
        krems_drive.graph["bounds"] = G.graph["bounds"]
    assert graph_bounds(load_network(tmp_path / "nobounds.graphml", "drive", use_cache=False)) is None


def test_graphml_with_broken_bounds_is_refused(tmp_path, krems_drive):
    H = krems_drive.copy()
    H.graph["bounds"] = "not a polygon"
    ox.save_graphml(H, tmp_path / "bad.graphml")
    with pytest.raises(NetworkError, match=r"bad.graphml: the graph attribute 'bounds' is not a polygon in WKT"):
        load_network(tmp_path / "bad.graphml", "drive", use_cache=False)


# --- bad inputs ----------------------------------------------------------------


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(NetworkError, match="not found"):
        load_network(tmp_path / "nope.osm.pbf", "drive", use_cache=False)
    bad = tmp_path / "roads.shp"
    bad.write_bytes(b"x")
    with pytest.raises(NetworkError, match="unsupported network file type"):
        load_network(bad, "drive", use_cache=False)


def test_garbage_bytes(tmp_path):
    bad = tmp_path / "garbage.osm.pbf"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(NetworkError, match="garbage.osm.pbf: cannot read OSM data.*corrupt or truncated"):
        load_network(bad, "drive", use_cache=False)


def test_truncated_pbf(tmp_path):
    cut = tmp_path / "andorra-cut.osm.pbf"
    data = ANDORRA.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NetworkError, match="corrupt or truncated"):
        load_network(cut, "drive", use_cache=False)


def test_truncated_xml(tmp_path):
    cut = tmp_path / "krems-cut.osm"
    text = gzip.decompress(KREMS.read_bytes())
    cut.write_bytes(text[: len(text) // 2])
    with pytest.raises(NetworkError, match="corrupt or truncated"):
        load_network(cut, "drive", use_cache=False)


def test_empty_network(tmp_path):
    empty = tmp_path / "empty.osm"
    empty.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
                     "<node id='1' lat='48.0' lon='15.0' version='1'/>\n"
                     "<way id='5' version='1'><nd ref='1'/><tag k='building' v='yes'/></way>\n</osm>\n")
    with pytest.raises(NetworkError, match="empty drive network: 0 highway ways read"):
        load_network(empty, "drive", use_cache=False)


def _clipped_copy(tmp_path: Path) -> tuple[Path, set[int]]:
    """Krems with every 40th node removed: ways referencing them become clipped."""
    lines = gzip.decompress(KREMS.read_bytes()).decode().splitlines(keepends=True)
    out, removed, i = [], set(), 0
    skipping = False
    for line in lines:
        s = line.lstrip()
        if s.startswith("<node "):
            i += 1
            if i % 40 == 0:
                removed.add(int(s.split("id='")[1].split("'")[0]))
                skipping = not s.rstrip().endswith("/>")
                continue
        if skipping:
            if s.startswith("</node>"):
                skipping = False
            continue
        out.append(line)
    path = tmp_path / "krems-clipped.osm"
    path.write_text("".join(out))
    return path, removed


def test_clipped_extract_is_split_with_a_warning_or_refused(tmp_path):
    path, removed = _clipped_copy(tmp_path)
    with pytest.warns(NetworkWarning, match=r"the extract is clipped: \d+ ways reference \d+ nodes missing.*way ids"):
        G = load_network(path, "drive", use_cache=False)
    report = G.graph["load_report"]
    assert report["missing_node_refs"] > 0 and report["clipped_ways"]
    assert not removed & set(G.nodes)
    assert all("x" in d for _, d in G.nodes(data=True))
    with pytest.raises(NetworkError, match=r"clipped: .*way ids \d+"):
        load_network(path, "drive", use_cache=False, on_missing_nodes="raise")


def _two_islands(tmp_path: Path) -> Path:
    nodes, ways = [], []
    for island, lon0 in ((0, 15.0), (1, 15.5), (2, 16.0)):
        ids = [island * 100 + j for j in range(1, 6)]
        nodes += [f"<node id='{n}' version='1' lat='48.0' lon='{lon0 + 0.001 * j}'/>" for j, n in enumerate(ids)]
        refs = "".join(f"<nd ref='{n}'/>" for n in ids)
        ways.append(f"<way id='{island + 1}' version='1'>{refs}<tag k='highway' v='residential'/></way>")
    path = tmp_path / "islands.osm"
    path.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n" + "\n".join(nodes + ways)
                    + "\n</osm>\n")
    return path


def test_every_piece_is_kept_and_reported(tmp_path):
    path = _two_islands(tmp_path)
    with pytest.warns(NetworkWarning, match="no edge of the drive network has a maxspeed tag"):
        G = load_network(path, "drive", use_cache=False)
    assert len(G) == 15
    report = G.graph["load_report"]
    assert report["pieces"] == 3 and report["piece_nodes"] == [5, 5, 5] and report["dropped_pieces"] == []
    assert {d["speed_kph"] for *_, d in G.edges(data=True)} == {30.0}
    assert any("3 separate pieces (15 nodes: the largest 5, the other 2 together 10)" in n
               for n in load_notes(report))


def test_only_pieces_of_one_edge_are_dropped(tmp_path):
    """A lone one-way segment (1 edge) is dropped and recorded; a lone two-way segment (2 edges) is kept."""
    nodes = [f"<node id='{i}' version='1' lat='48.0' lon='{15.0 + 0.001 * i}'/>" for i in range(1, 10)]
    ways = ["<way id='1' version='1'><nd ref='1'/><nd ref='2'/><nd ref='3'/><nd ref='4'/><nd ref='5'/>"
            "<tag k='highway' v='residential'/><tag k='maxspeed' v='30'/></way>",
            "<way id='2' version='1'><nd ref='6'/><nd ref='7'/><tag k='highway' v='residential'/>"
            "<tag k='oneway' v='yes'/></way>",
            "<way id='3' version='1'><nd ref='8'/><nd ref='9'/><tag k='highway' v='residential'/></way>"]
    path = tmp_path / "lone.osm"
    path.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n" + "\n".join(nodes + ways)
                    + "\n</osm>\n")
    G = load_network(path, "drive", use_cache=False)
    assert set(G.nodes) == {1, 2, 3, 4, 5, 8, 9}
    assert G.graph["load_report"]["dropped_pieces"] == [2]
    assert G.graph["load_report"]["piece_nodes"] == [5, 2]
    assert any("1 tiny piece of fewer than 2 edges (2 nodes) dropped" in n
               for n in load_notes(G.graph["load_report"]))


def test_andorra_walk_keeps_every_piece(net_cache):
    G = _load(ANDORRA, "walk", net_cache)
    sizes = sorted((len(c) for c in nx.weakly_connected_components(G)), reverse=True)
    assert len(sizes) == 45 and sizes[0] == 30_510 and sum(sizes[1:]) == 7_014  # the pieces the issue names
    assert G.graph["load_report"]["piece_nodes"] == sizes


# --- online path against a loopback server ---------------------------------------


@pytest.fixture
def fake_osm_server(tmp_path):
    response, _ = read_osm_elements(KREMS, "drive")
    overpass = json.dumps(response).encode()
    nominatim = json.dumps([{
        "place_id": 1, "osm_type": "relation", "osm_id": 1, "lat": "48.40", "lon": "15.63",
        "display_name": "Krems an der Donau", "class": "boundary", "type": "administrative", "importance": 0.5,
        "boundingbox": ["48.39", "48.414", "15.60", "15.67"],
        "geojson": {"type": "Polygon", "coordinates": [[[15.60, 48.39], [15.67, 48.39], [15.67, 48.414],
                                                        [15.60, 48.414], [15.60, 48.39]]]},
    }]).encode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            self._send(nominatim if self.path.startswith("/nominatim/search") else b"{}")

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.path)
            self._send(overpass)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    saved = {k: getattr(ox.settings, k) for k in ("overpass_url", "nominatim_url", "overpass_rate_limit",
                                                    "use_cache", "doh_url_template", "cache_folder")}
    ox.settings.overpass_url = base + "/api"
    ox.settings.nominatim_url = base + "/nominatim"
    ox.settings.overpass_rate_limit = False
    ox.settings.use_cache = False
    ox.settings.doh_url_template = None
    ox.settings.cache_folder = str(tmp_path / "oxcache")
    try:
        yield seen
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)
        server.shutdown()
        server.server_close()


def test_graph_from_bbox_through_loopback_overpass(fake_osm_server, krems_drive):
    G = graph_from_bbox((15.60, 48.39, 15.67, 48.414), "drive")
    assert any(p.startswith("/api/interpreter") for p in fake_osm_server)
    assert len(G) > 0.5 * len(krems_drive)
    assert all("travel_time" in d and "speed_kph" in d for *_, d in G.edges(data=True))
    # the same OSM nodes as the file, cut to the box, and the box is the network's bounds
    assert set(G.nodes) < set(krems_drive.nodes)
    x = np.array([d["x"] for _, d in G.nodes(data=True)])
    y = np.array([d["y"] for _, d in G.nodes(data=True)])
    assert (x >= 15.60).all() and (x <= 15.67).all() and (y >= 48.39).all() and (y <= 48.414).all()
    assert graph_bounds(G).bounds == pytest.approx((15.60, 48.39, 15.67, 48.414))
    assert G.graph["bounds_from"] == "download box"


def test_graph_from_place_through_loopback_nominatim(fake_osm_server):
    G = graph_from_place("Krems an der Donau", "walk")
    assert any(p.startswith("/nominatim/search") for p in fake_osm_server)
    assert {d["speed_kph"] for *_, d in G.edges(data=True)} == {DEFAULT_WALK_KMH}
    assert graph_bounds(G).equals(shapely.box(15.60, 48.39, 15.67, 48.414))  # the place's polygon
    assert G.graph["bounds_from"] == "download polygon"


def test_an_unreachable_server_fails_fast_in_plain_words(monkeypatch):
    import socket
    import time

    with socket.socket() as s:              # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{port}/api")
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{port}/nominatim")
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", True)  # OSMnx would wait 60 s
    for download in (lambda: graph_from_bbox((15.60, 48.39, 15.67, 48.414), "drive"),
                     lambda: graph_from_place("Krems an der Donau", "walk")):
        start = time.monotonic()
        with pytest.raises(NetworkError, match="servers cannot be reached from this machine") as info:
            download()
        assert time.monotonic() - start < 10
        assert "127.0.0.1" not in str(info.value) and "Upload an OSM extract" in str(info.value)


def test_online_errors_become_network_errors():
    with pytest.raises(NetworkError, match="west < east"):
        graph_from_bbox((15.7, 48.39, 15.6, 48.41), "drive")
