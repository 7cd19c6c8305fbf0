"""Whether a process still runs: the claims, ingest runs and broker PIDs the project records
are checked against it when their owner may have died without saying so (kill -9)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True while `pid` runs on this host. A process of another user counts as running; a
    zombie (exited, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux), or it exited just now: os.kill said it ran


def holder_gone(pid: int, host: str, since: datetime, lease: timedelta) -> bool:
    """Whether whoever took something at `since` as process `pid` on `host` is gone: its PID
    no longer runs on this host, or (on another host, where the PID cannot be checked) its
    lease ran out. PID 0 or below marks a holder already known to be gone."""
    if pid <= 0:
        return True
    if host == socket.gethostname():
        return not process_alive(pid)
    return datetime.now(UTC) - since > lease
