"""The review group's offsets: resolving records moves the group's committed offset, but only
across a contiguous run of resolved records, so no record nobody resolved is ever hidden."""

from __future__ import annotations

from collections.abc import Iterable

from dashboard.adapters.db import Connection, Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings


def contiguous_commits(
    con: Connection, topic: str, committed: dict[int, int | None]
) -> dict[int, int]:
    """Per partition, how far the review group's offset may move: up to the first record at
    or after its current offset that is not resolved (or to the end of what the snapshot has
    read). Only partitions where it moves forward are returned."""
    moves: dict[int, int] = {}
    for partition, current in committed.items():
        row = con.execute(
            """
            SELECT
                (SELECT min(r."offset") FROM records r
                 LEFT JOIN resolutions res USING (topic, "partition", "offset")
                 WHERE r.topic = $topic AND r."partition" = $partition
                   AND r."offset" >= $current AND res."offset" IS NULL),
                (SELECT next_offset FROM ingest_positions
                 WHERE topic = $topic AND "partition" = $partition)
            """,
            {"topic": topic, "partition": partition, "current": current or 0},
        ).fetchone()
        if row is None or row[1] is None:
            continue
        first_open, read_up_to = row
        target = int(first_open) if first_open is not None else int(read_up_to)
        if target > (current or 0):
            moves[partition] = target
    return moves


def move_review_group(
    settings: Settings, kafka: KafkaGateway, partitions: Iterable[int]
) -> dict[int, int]:
    """Commit the review group's offsets on `partitions` as far as the resolved records
    allow. Returns the partitions moved; raises BrokerUnreachable when Kafka does not
    answer."""
    topic, group = settings.dlq_topic, settings.review_group
    current = kafka.committed_offsets(group, topic, partitions)
    with Database.of(settings).read() as con:
        moves = contiguous_commits(con, topic, current)
    kafka.commit_offsets(group, topic, moves)
    return moves


def sync_review_group(settings: Settings, gateway: KafkaGateway | None = None) -> dict[int, int]:
    """Move the review group's offsets as far as the resolved records allow (after a failed
    commit, say). Returns the partitions moved."""
    kafka = gateway or KafkaGateway(settings)
    return move_review_group(settings, kafka, kafka.partitions(settings.dlq_topic))
