"""``python -m geo import`` and ``python -m geo validate``: JSON report and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo.cli import main
from geo.workspace import open_workspace

CORPUS = Path(__file__).parent / "data" / "import"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    return tmp_path


def run_cli(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_import_prints_report_and_stores(data_dir, capsys):
    code, report, _ = run_cli(capsys, "import", "--kind", "customers",
                              str(CORPUS / "every_problem.csv"), "--workspace", "shop")
    assert code == 0
    assert (report["rows"], report["valid"]) == (12, 4)
    assert report["shared_addresses"] == {"groups": 1, "records": 2}
    assert {"row": 8, "column": "lat",
            "reason": "latitude and longitude look swapped (swapping them puts the row among "
                      "the others)"} in report["errors"]
    assert report["workspace"] == "shop" and report["stored"].endswith("customers.parquet")
    assert len(open_workspace("shop", data_dir).load_table("customers")) == 4


def test_validate_stores_nothing_and_writes_bad_rows(data_dir, capsys, tmp_path):
    out = tmp_path / "bad.csv"
    code, report, _ = run_cli(capsys, "validate", "--kind", "customers",
                              str(CORPUS / "every_problem.csv"), "--bad-rows", str(out))
    assert code == 0 and report["valid"] == 4 and len(report["errors"]) == 8
    assert not (data_dir / "workspaces").exists()
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("row,reason,")


def test_unusable_file_exits_2_with_one_line(data_dir, capsys):
    code, report, err = run_cli(capsys, "import", "--kind", "stores",
                                str(CORPUS / "every_problem.csv"))
    assert code == 2 and report is None
    assert err.startswith("error: every_problem.csv") and "store_id" in err
    assert err.count("\n") == 1
    code, _, err = run_cli(capsys, "validate", "--kind", "customers", str(CORPUS / "nope.csv"))
    assert code == 2 and "file not found" in err


def test_no_good_row_exits_1(data_dir, capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,email,first_name,lat,lon,opted_in\n1,x,A,1,1,yes\n")
    code, report, _ = run_cli(capsys, "import", "--kind", "customers", str(bad))
    assert code == 1 and report["valid"] == 0 and report["stored"] is None


def test_map_option_overrides_the_suggestion(data_dir, capsys, tmp_path):
    f = tmp_path / "de.csv"
    f.write_text("Nr;Mail;Vorname;Lat;Lon;Werbung\n1;a@b.de;Jörg;52,5;13,4;1\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", "--kind", "customers", str(f))
    # customer_id is derived from the e-mail when no column holds it; opted_in never is
    assert code == 2 and "missing required column(s) opted_in:" in err
    code, report, _ = run_cli(capsys, "validate", "--kind", "customers", str(f),
                              "--map", "customer_id=Nr", "--map", "opted_in=Werbung",
                              "--map", "first_name=Vorname")
    assert code == 0 and report["valid"] == 1
    assert report["mapping"]["customer_id"] == "Nr"
    code, _, err = run_cli(capsys, "validate", "--kind", "customers", str(f), "--map", "oops")
    assert code == 2 and "CANONICAL=COLUMN" in err


def test_python_dash_m_geo_import(tmp_path):
    env = {**os.environ, "GEO_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "geo", "import", "--kind", "stores",
                           str(CORPUS / "stores_3857.gpkg"), "--workspace", "gis"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rows"] == 3 and report["valid"] == 3 and report["errors"] == []
    assert (tmp_path / "workspaces" / "gis" / "stores.parquet").exists()
