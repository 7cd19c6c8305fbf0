"""Which records an action is about: named exactly or by trace id, every record a filter
matches, or the replays ready to resolve."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final

import pyarrow as pa

from dashboard.actions.values import Ambiguous, Found, RecordRef
from dashboard.adapters.db import Connection, register
from dashboard.triage.filters import RecordFilter
from dashboard.triage.states import READY_TO_RESOLVE, WORDS, lower_label

_REFS_SCHEMA: Final = pa.schema(
    [("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64())]
)


def find(con: Connection, topic: str, names: Iterable[str]) -> Found:
    """Records named exactly (`topic:partition:offset`) or by trace id. A trace id that
    matches several records selects none of them: they are listed instead."""
    refs: list[RecordRef] = []
    unknown: list[str] = []
    ambiguous: list[Ambiguous] = []
    for name in names:
        ref = RecordRef.parse(name)
        if ref is not None:
            row = con.execute(
                'SELECT 1 FROM records WHERE topic = ? AND "partition" = ? AND "offset" = ?',
                [ref.topic, ref.partition, ref.offset],
            ).fetchone()
            if row:
                refs.append(ref)
            else:
                unknown.append(name)
            continue
        rows = con.execute(
            'SELECT topic, "partition", "offset", kafka_timestamp, state FROM records '
            'WHERE topic = ? AND trace_id = ? ORDER BY kafka_timestamp, "partition", "offset"',
            [topic, name.strip()],
        ).fetchall()
        if not rows:
            unknown.append(name)
        elif len(rows) > 1:
            ambiguous.append(
                Ambiguous(
                    name,
                    [RecordRef(*row[:3]) for row in rows],
                    [_landing(arrived, state) for *_, arrived, state in rows],
                )
            )
        else:
            refs.append(RecordRef(*rows[0][:3]))
    return Found(refs, unknown, ambiguous)


def _landing(arrived: datetime | None, state: str | None) -> str:
    """What tells apart the records of one trace id: when each arrived, where it stands."""
    when = f"arrived {arrived:%Y-%m-%d %H:%M:%S} UTC" if arrived is not None else "no timestamp"
    return f"{when}, {lower_label(state)}" if state in WORDS else when


def matching(con: Connection, topic: str, flt: RecordFilter) -> list[RecordRef]:
    """Every record the filter selects (what a bulk action acts on), in offset order."""
    where, params = flt.where(topic)
    rows = con.execute(
        f'SELECT topic, "partition", "offset" FROM records r WHERE {where} '
        'ORDER BY "partition", "offset"',
        params,
    ).fetchall()
    return [RecordRef(*row) for row in rows]


def ready_to_resolve(con: Connection, topic: str) -> list[RecordRef]:
    """Replayed records whose replay the results topic reports as succeeded."""
    rows = con.execute(
        f'SELECT topic, "partition", "offset" FROM records r '
        f"WHERE topic = ? AND state = '{READY_TO_RESOLVE}' "
        'ORDER BY "partition", "offset"',
        [topic],
    ).fetchall()
    return [RecordRef(*row) for row in rows]


@contextmanager
def wanted_refs(con: Connection, refs: Sequence[RecordRef]) -> Iterator[str]:
    """`refs` as a table on `con` (topic, partition, offset) for a query to join; yields its
    name. A join, not one query per record: a bulk names thousands."""
    name = "wanted_refs"
    table = pa.table(
        [[r.topic for r in refs], [r.partition for r in refs], [r.offset for r in refs]],
        schema=_REFS_SCHEMA,
    )
    register(con, name, table)
    try:
        yield name
    finally:
        con.unregister(name)
