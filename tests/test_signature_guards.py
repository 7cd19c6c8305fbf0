"""The error signature's first steps (URLs, credentials, timestamps) run only on texts that
hold a character they need (ingest/signatures.sql): that must never change a signature."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from dashboard.adapters.db import register, scratch_connection
from dashboard.devtools.demo_data import generate
from dashboard.devtools.demo_formats import generate as generate_format
from ingest.parse import BatchParser, RawRecord, install_macros, signatures_sql, stage_raw

HOSTILE_MESSAGES = [
    "",
    "   ",
    "GET https://a.example.com/c?X-Amz-Signature=abc&token=zz failed",
    "token%3Dabc then sig%253Dxyz and key-pair-id%25253Dq",
    "login failed: password=hunter2 api_key=abc;secret=s",
    "at 2026-11-29T10:00:00Z code 503 Service Unavailable (404) HTTP/1.1 410",
    "path /var/lib/x/y.pdf C:\\temp\\a.txt 0xdeadbeef12 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "é ünï 🚀 \x00\x1b[31m red \x7f",
    "no special characters at all 12 34.5 1,000",
    "x" * 100_000 + " https://h.example/p?sig=1 " + "2026-01-01",
    "s3://bucket/key?AWSAccessKeyId=AKIA&Signature=x%2F== policy=eyJ",
    "%%%=====----:////",
]


def unguarded(sql: str) -> str:
    """The same steps, each run on every text."""
    return re.sub(
        r"CASE WHEN contains\(message[^\n]*? THEN regexp_replace",
        "CASE WHEN true THEN regexp_replace",
        sql,
    )


def signatures(sql: str, messages: list[str | None]) -> list[str | None]:
    con = scratch_connection(threads=1)
    try:
        install_macros(con)
        register(con, "dlq_input", pa.table({"message": pa.array(messages, pa.string())}))
        found: list[str | None] = con.sql(sql).to_arrow_table()["signature"].to_pylist()
        return found
    finally:
        con.close()


def demo_messages() -> list[str | None]:
    records = [
        RawRecord(0, i, r.value, r.key, tuple(r.headers or ()), r.timestamp_ms)
        for i, r in enumerate(generate(3_000, 3, seed=11))
    ]
    for dlq_format in ("claimx-download", "claimx-enrichment", "envelope"):
        records += [
            RawRecord(
                1, i, r.value, r.key, tuple(r.headers or ()), r.timestamp_ms, topic=dlq_format
            )
            for i, r in enumerate(generate_format(dlq_format, 500, 3, seed=12))
        ]
    formats = {f: f for f in ("claimx-download", "claimx-enrichment", "envelope")}
    with BatchParser(formats=formats) as parser:
        parsed = parser.parse(stage_raw(records))
    distinct: list[str | None] = pc.unique(parsed["error_message"]).to_pylist()
    return distinct


def test_the_guards_change_no_signature() -> None:
    sql = signatures_sql()
    assert unguarded(sql) != sql  # the guards are there, and the test removes them
    messages = demo_messages() + HOSTILE_MESSAGES + [None]
    assert len(messages) > 500
    guarded = signatures(sql, messages)
    assert guarded == signatures(unguarded(sql), messages)
    assert any(s is not None and "<url>" in s for s in guarded)
    assert any(s is not None and "<secret>" in s for s in guarded)
    assert any(s is not None and "<time>" in s for s in guarded)
