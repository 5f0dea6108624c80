"""Workspaces: named folders that persist tables and settings and delete completely."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import WorkspaceError
from geo.workspace import (
    create_workspace,
    delete_workspace,
    list_workspaces,
    open_workspace,
)


def test_tables_settings_and_campaigns_persist(tmp_path):
    ws = create_workspace("Shop A", tmp_path)
    df = pd.DataFrame({"store_id": ["S1"], "name": ["A"], "lat": [60.1], "lon": [24.9]})
    v0 = ws.table_version("stores")
    ws.save_table("stores", df)
    assert ws.table_version("stores") != v0
    ws.update_settings(mode="drive", minutes=[1, 2])
    ws.save_campaign_meta("autumn", {"window": ["2026-10-01", "2026-10-03"]})
    again = open_workspace("Shop A", tmp_path)
    pd.testing.assert_frame_equal(again.load_table("stores"), df)
    assert again.settings() == {"mode": "drive", "minutes": [1, 2]}
    assert again.list_campaigns() == ["autumn"]
    assert again.load_table("customers") is None


def test_delete_removes_every_file(tmp_path):
    ws = create_workspace("gone", tmp_path)
    ws.save_table("stores", pd.DataFrame({"a": [1]}))
    ws.save_campaign_meta("c1", {})
    delete_workspace("gone", tmp_path)
    assert not ws.path.exists() and list_workspaces(tmp_path) == []


@pytest.mark.parametrize("name", ["", "../x", "a/b", " ", "x" * 65, ".hidden"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(WorkspaceError, match="invalid name"):
        create_workspace(name, tmp_path)


def test_missing_workspace_message_lists_known(tmp_path):
    create_workspace("one", tmp_path)
    with pytest.raises(WorkspaceError, match="known: one"):
        open_workspace("two", tmp_path)
    with pytest.raises(WorkspaceError, match="already exists"):
        create_workspace("one", tmp_path)
