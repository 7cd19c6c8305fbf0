"""An incremental ingest bounded in time, for readers that bring the snapshot up to date
before they show it (the CLI's reading commands, the dashboard's refresh button). Kafka or
the snapshot being unavailable is an answer here, not a crash: the reader goes on with the
snapshot as it was, and says why."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dashboard.adapters.db import DatabaseBusy
from dashboard.adapters.kafka import BrokerUnreachable, KafkaGateway, TopicMissing
from dashboard.settings import Settings
from ingest.job import IngestError, IngestSummary, ingest_once

# A broker that does not answer must not hold a reader longer than this per request.
_REQUEST_SECONDS_AT_MOST = 10.0


@dataclass(frozen=True)
class Refresh:
    summary: IngestSummary | None  # None: the refresh failed
    failure: str = ""  # why, in words


def refresh_within(settings: Settings, seconds: float) -> Refresh:
    """Copy what is new on the DLQ topics into the snapshot, stopping after `seconds`."""
    try:
        summary = ingest_once(
            settings,
            gateway=KafkaGateway(settings, timeout=min(seconds, _REQUEST_SECONDS_AT_MOST)),
            deadline=time.monotonic() + seconds,
        )
    except (BrokerUnreachable, TopicMissing, DatabaseBusy, IngestError) as exc:
        return Refresh(None, str(exc))
    return Refresh(summary)
