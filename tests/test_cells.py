"""The one hexagon grid: ids, centres and counts agree with H3's own scalar functions."""

import h3
import numpy as np
import pytest

from geo.cells import cell_area_km2, cell_centres, cell_hex, cell_ids, count_by_cell
from geo.errors import GeoError


def test_ids_match_h3_and_centres_lie_in_their_cells():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(47.05, 47.27, 200), rng.uniform(9.47, 9.64, 200)
    ids = cell_ids(lat, lon, 9)
    assert cell_hex(ids) == [h3.latlng_to_cell(a, b, 9) for a, b in zip(lat, lon, strict=True)]
    clat, clon = cell_centres(ids)
    assert (cell_ids(clat, clon, 9) == ids).all()


def test_counts_and_weights_per_cell():
    lat = np.array([47.1, 47.1, 47.1, 47.2])
    lon = np.array([9.5, 9.5, 9.5, 9.6])
    counts = count_by_cell(lat, lon, 8)
    assert counts.tolist() == [3.0, 1.0]
    weighted = count_by_cell(lat, lon, 8, weights=np.array([1.0, 2.0, 3.0, 10.0]))
    assert weighted.tolist() == [10.0, 6.0]
    assert 0.5 < cell_area_km2(8) < 1.0 and cell_area_km2(9) < cell_area_km2(8)


@pytest.mark.parametrize("bad", [{"resolution": 16}, {"lat": np.array([np.nan])}])
def test_bad_input_is_refused_with_a_message(bad):
    lat = bad.get("lat", np.array([47.1]))
    with pytest.raises(GeoError):
        cell_ids(lat, np.array([9.5]), bad.get("resolution", 9))
