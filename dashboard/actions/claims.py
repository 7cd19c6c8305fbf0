"""Claims: a record being acted on is claimed in the `action_claims` table, in the same DuckDB
transaction that checked it was eligible. DuckDB admits one writing process at a time, so two
operators racing over the same records each claim a disjoint share; a claim is released in
the transaction that records its outcome."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from dashboard.actions import audit
from dashboard.actions.preview import candidates, why_not
from dashboard.actions.values import Candidate, RecordRef, Request
from dashboard.adapters.db import Connection, insert_rows
from dashboard.adapters.processes import process_alive

_CLAIM_COLUMNS: Final = (
    "topic",
    "partition",
    "offset",
    "action",
    "actor",
    "claimed_at",
    "token",
    "pid",
    "host",
)


def claim(
    con: Connection, request: Request, refs: Sequence[RecordRef], token: str
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Within the caller's transaction: check each record and claim the eligible ones under
    `token`. Returns the claimed records and the refused ones with why."""
    clear_dead_claims(con)
    claimed: list[Candidate] = []
    refused: list[tuple[Candidate, str]] = []
    for c in candidates(con, refs):
        why = why_not(request.action, c, request.override)
        if why:
            refused.append((c, why))
        else:
            claimed.append(c)
    moment = datetime.now(UTC)
    insert_rows(
        con,
        "action_claims",
        _CLAIM_COLUMNS,
        [
            [
                c.ref.topic,
                c.ref.partition,
                c.ref.offset,
                request.action,
                request.identity.label,
                moment,
                token,
                os.getpid(),
                socket.gethostname(),
            ]
            for c in claimed
        ],
    )
    return claimed, refused


def release(con: Connection, token: str) -> None:
    con.execute("DELETE FROM action_claims WHERE token = ?", [token])


def clear_dead_claims(con: Connection) -> None:
    """Claims left by a process that died mid-action (kill -9, a crash) on this host. Its
    replays may or may not have reached Kafka; the audit says so and the records are free."""
    host = socket.gethostname()
    rows = con.execute(
        'SELECT topic, "partition", "offset", action, actor, pid, token FROM action_claims '
        "WHERE host = ?",
        [host],
    ).fetchall()
    dead = [row for row in rows if not process_alive(int(row[5]))]
    if not dead:
        return
    audit.append(
        con,
        [
            audit.NewEntry(
                action=action,
                actor=actor,
                result="failure",
                topic=topic,
                partition=partition,
                offset=offset,
                error=f"interrupted: process {pid} died while acting; the outcome is "
                "unknown (a replay may have reached Kafka)",
            )
            for topic, partition, offset, action, actor, pid, _token in dead
        ],
    )
    for token in {row[6] for row in dead}:
        release(con, token)
