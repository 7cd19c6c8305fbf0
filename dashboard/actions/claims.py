"""Claims: a record being acted on is claimed in the `action_claims` table, in the same DuckDB
transaction that checked it was eligible. DuckDB admits one writing process at a time, so two
operators racing over the same records each claim a disjoint share; a claim is released in
the transaction that records its outcome.

A claim belongs to a live process: one whose holder is gone (its PID no longer runs on this
host, or from another host its lease ran out) no longer holds the record, and the next
action or preview settles it (interrupted.py). A replay whose outcome is unknown (the process
died after sending, or Kafka did not acknowledge in time) keeps its claim, marked unsettled,
until the pending topic says whether it landed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from dashboard.actions.preview import candidates, why_not
from dashboard.actions.selection import wanted_refs
from dashboard.actions.values import Candidate, RecordRef, Request
from dashboard.adapters.db import Connection, insert_rows
from dashboard.settings import Settings

# The token of a claim whose holder is gone and whose replay's outcome is not known (pid 0).
UNSETTLED: Final = "unsettled"

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
    "reason",
)


def claim(
    con: Connection,
    request: Request,
    refs: Sequence[RecordRef],
    token: str,
    settings: Settings | None = None,
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Within the caller's transaction: check each record and claim the eligible ones under
    `token`. Returns the claimed records and the refused ones with why (`settings`: as for
    preview.why_not)."""
    claimed: list[Candidate] = []
    refused: list[tuple[Candidate, str]] = []
    for c in candidates(con, refs):
        why = why_not(request.action, c, request.override, settings)
        if why:
            refused.append((c, why))
        else:
            claimed.append(c)
    moment = datetime.now(UTC)
    pid, host = os.getpid(), socket.gethostname()
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
                pid,
                host,
                request.reason,
            ]
            for c in claimed
        ],
    )
    return claimed, refused


def release(con: Connection, token: str) -> None:
    con.execute("DELETE FROM action_claims WHERE token = ?", [token])


def hold_unsettled(con: Connection, token: str, refs: Sequence[RecordRef]) -> None:
    """Keep `refs`' claims past the run, marked unsettled: their replays' outcome is unknown
    until the pending topic is read back."""
    if not refs:
        return
    with wanted_refs(con, refs) as wanted:
        con.execute(
            f"UPDATE action_claims SET token = ?, pid = 0 FROM {wanted} w "
            "WHERE action_claims.token = ? AND action_claims.topic = w.topic "
            'AND action_claims."partition" = w."partition" '
            'AND action_claims."offset" = w."offset"',
            [UNSETTLED, token],
        )
