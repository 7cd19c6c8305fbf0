"""Names of downloaded files: what it is, which topic, as of when, so a file found later in
Downloads or attached to a ticket says what it holds (`dlq-escalation-xact.downloads.dlq-
20261129T1030Z.html`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dashboard.text.moments import shown_end


def export_name(kind: str, topic: str, as_of: datetime, extension: str = "") -> str:
    """`dlq-{kind}-{topic}-{YYYYMMDDTHHMMZ}` plus `.extension` when given (a chart's PNG
    name goes without: the browser adds it)."""
    # Kafka topic names are already [A-Za-z0-9._-]; anything else would not survive a download.
    safe_topic = re.sub(r"[^A-Za-z0-9._-]+", "_", topic)
    name = f"dlq-{kind}-{safe_topic}-{shown_end(as_of).astimezone(UTC):%Y%m%dT%H%MZ}"
    return f"{name}.{extension}" if extension else name
