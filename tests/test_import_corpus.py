"""Every file of the nasty-file corpus (tests/data/import) imports as expected.json says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geo.data.ingest import check_file
from geo.errors import DataError

CORPUS = Path(__file__).parent / "data" / "import"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name):
    exp = EXPECTED[name]
    if "error" in exp:
        with pytest.raises(DataError) as info:
            check_file(CORPUS / name, exp["kind"])
        assert exp["error"] in str(info.value)
        assert info.value.file == name
        return
    report = check_file(CORPUS / name, exp["kind"])
    assert report.rows == exp["rows"]
    if "valid_at_least" in exp:
        assert len(report.valid) >= exp["valid_at_least"]
    else:
        assert len(report.valid) == exp["valid"]
    found = [(int(e.row), e.column, e.reason) for e in report.errors.itertuples()]
    for row, column, reason in exp.get("errors", []):
        assert any(r == row and c == column and reason in why for r, c, why in found), \
            (row, column, reason, found)
    if exp.get("exact") or exp.get("reasons") == []:
        assert len(found) == len(exp.get("errors", [])), found
    # the report's arithmetic: every row is either good or named in the errors
    assert len(report.valid) + report.errors["row"].nunique() == report.rows
    if "shared_addresses" in exp:
        assert report.shared_groups == exp["shared_addresses"]
    if "first_names" in exp:
        assert report.valid["first_name"].tolist() == exp["first_names"]
    if "ids" in exp:
        assert report.valid["customer_id"].tolist() == exp["ids"]
    if "lat" in exp:
        np.testing.assert_allclose(report.valid["lat"], exp["lat"], atol=1e-6)
        np.testing.assert_allclose(report.valid["lon"], exp["lon"], atol=1e-6)
