"""Where a replay goes, as the dialog and the CLI say it, and why a record of an "any" DLQ
that names no origin is refused: per DLQ, not the default DLQ's pending topic."""

from __future__ import annotations

from typing import Any

from dashboard.actions.preview import replay_destination, why_not
from dashboard.actions.values import NO_ORIGIN_TOPIC, Candidate, RecordRef
from dashboard.settings import Settings

SETTINGS = Settings.model_validate(
    {
        "dlqs": [
            {"name": "xact", "topic": "xact.downloads.dlq", "review_group": "g1"},
            {"name": "workers", "topic": "workers.dlq", "format": "envelope", "review_group": "g2"},
            {"name": "foreign", "topic": "connect.dlq", "format": "any", "review_group": "g3"},
            {"name": "raw", "topic": "raw.dlq", "format": "any", "review_group": "g4",
             "replay_target": "raw.pending"},
        ]
    }
)  # fmt: skip


def test_a_dlq_with_a_pending_topic_replays_to_it() -> None:
    assert replay_destination(SETTINGS.for_dlq("xact"), ["ignored"]) == (
        "to xact.downloads.pending"
    )
    assert replay_destination(SETTINGS.for_dlq("raw"), [], code=True) == "to `raw.pending`"


def test_an_origin_dlq_replays_to_each_records_original_topic() -> None:
    workers = SETTINGS.for_dlq("workers")
    assert replay_destination(workers, ["a.tasks", "b.tasks"]) == (
        "to each record's original topic (a.tasks, b.tasks)"
    )
    assert replay_destination(workers, ["a.tasks"], code=True) == (
        "to each record's original topic (`a.tasks`)"
    )
    assert replay_destination(workers, ["a", "b", "c", "d"]) == (
        "to each record's original topic (4 topics)"
    )
    assert replay_destination(SETTINGS.for_dlq("foreign"), []) == (
        "to each record's original topic"
    )
    # Not the default DLQ's pending topic, which the narrowed settings still hold.
    assert "xact.downloads.pending" not in replay_destination(workers, [])


def candidate(topic: str, **fields: Any) -> Candidate:
    values: dict[str, Any] = {
        "trace_id": None, "state": "open", "replay_outcome": None, "replayed_at": None,
        "parse_error": "value is not a JSON object", "attachment_url": None,
        "error_category": None, "error_signature": None, "domain": None,
        "claimed_by": None, "claimed_at": None,
    }  # fmt: skip
    values.update(fields)
    return Candidate(RecordRef(topic, 0, 7), **values)


def test_an_unparseable_record_of_an_any_dlq_without_origin_headers_has_no_origin() -> None:
    reason = why_not("replay", candidate("connect.dlq"), False, SETTINGS)
    assert reason == f"{NO_ORIGIN_TOPIC} (value is not a JSON object)"


def test_other_unparseable_records_have_nothing_to_replay() -> None:
    unparseable = "unparseable, nothing to replay (value is not a JSON object)"
    # The xact DLQ, and an "any" DLQ with a pending topic: their values are what is sent.
    assert why_not("replay", candidate("xact.downloads.dlq"), False, SETTINGS) == unparseable
    assert why_not("replay", candidate("raw.dlq"), False, SETTINGS) == unparseable
    # Without the settings (callers that know no DLQ) the reason is as before.
    assert why_not("replay", candidate("connect.dlq"), False) == unparseable
    # A record whose headers name its origin is not refused for "no origin".
    named = candidate("connect.dlq", origin_topic="orders")
    assert why_not("replay", named, False, SETTINGS) == unparseable
    # Resolving is not replaying.
    assert why_not("resolve", candidate("connect.dlq"), False, SETTINGS) is None
