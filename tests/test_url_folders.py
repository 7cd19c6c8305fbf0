"""A record's URL folder (dashboard.adapters.url_folders): what the reports group URLs by,
kept per record by the ingest and by migration 0007 for the records before it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dashboard.adapters import url_folders
from dashboard.adapters.db import Database
from tests.snapshots import VARIED_AT, demo_records, pipeline_record, write_snapshot
from tests.test_schema_migrations import as_released_before

FOLDERS = [
    ("https://h.example.com/a/b.pdf?x=1/2#f/g", "https://h.example.com/a/"),
    ("https://h.example.com/a?b/c1234/d", "https://h.example.com/"),
    ("https://h.example.com/a#b/c1234/d", "https://h.example.com/"),
    ("https://h.example.com", "https://h.example.com"),
    ("https://h.example.com/", "https://h.example.com/"),
    ("https://h.example.com/abc1/def2/ghi3/x", "https://h.example.com/{id}/{id}/{id}/"),
    ("https://h.example.com//a1b2//x", "https://h.example.com//{id}//"),
    ("https://h.example.com/v2/api/ab12/a1/x.pdf", "https://h.example.com/v2/api/{id}/a1/"),
    ("https://h.example.com/123/1234/12345/a/", "https://h.example.com/123/{id}/{id}/a/"),
    ("https://h.example.com/abc/12345", "https://h.example.com/abc/"),
    ("https://h.example.com/é123/ü/x", "https://h.example.com/{id}/ü/"),
    ("ftp://user@h:21/x9y8/z", "ftp://user@h:21/{id}/"),
    ("h.example.com/a/1234/b", "(not a URL)"),
    ("mailto:x@y.example.com", "(not a URL)"),
    ("", "(not a URL)"),
    (None, None),
]


@pytest.mark.parametrize(("url", "folder"), FOLDERS)
def test_the_folder_drops_query_fragment_and_file_and_hides_ids(
    url: str | None, folder: str | None
) -> None:
    with duckdb.connect() as con:
        url_folders.install(con)
        assert con.execute("SELECT dlq_url_folder(?::VARCHAR)", [url]).fetchone() == (folder,)


def test_the_ingest_keeps_each_records_folder(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    urls = [u for u, _ in FOLDERS if u]
    write_snapshot(path, [pipeline_record(0, i, VARIED_AT, url=u) for i, u in enumerate(urls)])
    with Database(path).read() as con:
        kept = con.execute('SELECT url_folder FROM records ORDER BY "offset"').fetchall()
    assert [k for (k,) in kept] == [f for u, f in FOLDERS if u]


def test_the_migration_fills_the_folder_the_ingest_would_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, now = tmp_path / "before.duckdb", tmp_path / "now.duckdb"
    records = demo_records(2_000)  # poison records (no URL, not JSON) among them
    with monkeypatch.context() as patched:
        as_released_before(patched, "0007_records_url_folder")
        write_snapshot(before, records)
    write_snapshot(now, records)
    query = 'SELECT "partition", "offset", url_folder FROM records ORDER BY ALL'
    with Database(before).write() as migrated:  # brings the file forward
        kept = migrated.execute(query).fetchall()
    with Database(now).read() as ingested:
        assert kept == ingested.execute(query).fetchall()
    assert any(folder and "{id}" in folder for *_, folder in kept)
    assert any(folder is None for *_, folder in kept)
