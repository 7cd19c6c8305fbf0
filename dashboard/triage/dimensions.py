"""What records are grouped and selected by: each dimension's SQL expression, defined once
for the Patterns page's groups and the filters that open a group's records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NONE_LABEL: Final = "(none)"
NO_TEXT_LABEL: Final = "(no error text recorded)"

# Hour of day and day, UTC (the snapshot's session time zone).
HOUR_SQL: Final = "hour(kafka_timestamp)"
DAY_SQL: Final = "strftime(kafka_timestamp, '%Y-%m-%d')"
EVENT_SQL: Final = "coalesce(event_type, '?') || ' / ' || coalesce(event_subtype, '?')"


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    expression: str  # the group's value (as text)
    # The RecordFilter field, and query parameter of the same name, selecting the group.
    filter_field: str | None


DIMENSIONS: Final[dict[str, Dimension]] = {
    d.key: d
    for d in (
        Dimension("error_category", "Error category", "error_category", "category"),
        Dimension("domain", "Domain", '"domain"', "domain"),
        Dimension("error_signature", "Error signature", "error_signature", "signature"),
        Dimension("event", "Event type / subtype", EVENT_SQL, "event"),
        Dimension("file_type", "File type", "file_type", "file_type"),
        Dimension("retry_count", "Retry count", "CAST(retry_count AS VARCHAR)", "retry_count"),
        Dimension(
            "hour", "Hour of day (UTC)", f"lpad(CAST({HOUR_SQL} AS VARCHAR), 2, '0')", "hour"
        ),
        Dimension("day", "Day (UTC)", DAY_SQL, "day"),
    )
}
