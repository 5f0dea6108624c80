"""The generated static files behind the maps: written once, safe under concurrent sessions, pruned safely."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ui import cache


@pytest.fixture()
def static_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(cache, "STATIC_DIR", tmp_path)
    return tmp_path / "generated"


def _file(url: str, static_dir: Path) -> Path:
    return static_dir / url.rsplit("/", 1)[1]


def test_a_published_file_is_written_once_and_touched_when_used_again(static_dir):
    url = cache.publish_static("points", b"[1,2,3]")
    path = _file(url, static_dir)
    assert url == f"{cache.STATIC_URL}/generated/{path.name}" and path.read_bytes() == b"[1,2,3]"
    os.utime(path, (0, 0))                                   # as if written long ago
    assert cache.publish_static("points", b"[1,2,3]") == url
    assert path.stat().st_mtime > time.time() - 60           # in use again
    made = []
    keyed = cache.publish_static_keyed("roads", "src|walk", lambda: made.append(1) or b"[]")
    assert cache.publish_static_keyed("roads", "src|walk", lambda: made.append(1) or b"[]") == keyed
    assert made == [1]                                       # built once


def test_sessions_publishing_the_same_file_at_once_all_get_it(static_dir):
    payload = b"[" + b"0," * 200_000 + b"0]"
    urls, errors = [], []

    def slow() -> bytes:
        time.sleep(0.05)                                     # widen the window between check and rename
        return payload

    def session() -> None:
        try:
            urls.append(cache.publish_static_keyed("customers", "ws|v1", slow))
        except Exception as exc:  # noqa: BLE001 — any error is the failure under test
            errors.append(exc)

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(urls)) == 1
    assert _file(urls[0], static_dir).read_bytes() == payload
    assert [p.name for p in static_dir.iterdir()] == [_file(urls[0], static_dir).name]   # no temporary left


def test_pruning_deletes_only_files_this_server_has_not_written_or_used(static_dir):
    static_dir.mkdir(parents=True)
    started = time.time()
    for i in range(6):
        old = static_dir / f"old-{i}.json"
        old.write_text("[]")
        os.utime(old, (started - 3600, started - 3600))       # left by an earlier run
    (static_dir / ".old-9.json.tmp").write_text("[")
    os.utime(static_dir / ".old-9.json.tmp", (started - 3600, started - 3600))
    reused = static_dir / "old-0.json"
    os.utime(reused)                                          # this server handed out its URL again
    for i in range(3):
        (static_dir / f"new-{i}.json").write_text("[]")
    assert cache.prune_static(static_dir, before=started, high_water=20) == 0   # under the high water
    assert cache.prune_static(static_dir, before=started, high_water=4) == 6
    assert sorted(p.name for p in static_dir.iterdir()) == ["new-0.json", "new-1.json", "new-2.json",
                                                            "old-0.json"]
    # past the high water with only this server's files, nothing goes: a cached URL never loses its file
    assert cache.prune_static(static_dir, before=started, high_water=1) == 0
