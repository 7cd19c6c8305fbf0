"""The DLQ's Prometheus metrics: what each one is, and a collector that reads them from the
snapshot at every scrape (`dlq ingest --follow --metrics-port`, `dlq metrics`).

Every value comes from the snapshot (dashboard.triage.monitoring), never from counting in
this process, so a restarted exporter carries on from the snapshot's totals and two
exporters of one snapshot report the same numbers (the alert rules take `max by (topic)`).
Every configured DLQ is exported, each sample labelled with its `topic` and its `dlq` name
(one name per topic, so the label adds no series). Labels stay few: the state words, an
action's result, how a record was resolved, an ingest run's status and the error category
(the known ones, "none" and "other"); never trace ids, URLs or error text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from dashboard.actions.audit import RESULTS
from dashboard.adapters.db import Database, DatabaseBusy, SnapshotMissing
from dashboard.settings import Settings
from dashboard.triage.dlq_summary import with_snapshot_dlqs
from dashboard.triage.monitoring import MonitoringNumbers, monitoring_numbers
from dashboard.triage.states import STATES

OTHER: Final = "other"
NO_CATEGORY: Final = "none"
RESOLUTION_SOURCES: Final = ("dashboard", "review-group", "before-dashboard")
INGEST_STATUSES: Final = ("ok", "failed", "interrupted")
# A dry run writes one entry for its whole selection, naming no record: not counted.
ACTION_RESULTS: Final = tuple(r for r in RESULTS if r != "dry-run")
# A scrape waits at most this long for the ingest job to release the snapshot, well inside
# Prometheus' default 10 s scrape timeout.
SCRAPE_LOCK_TIMEOUT_SECONDS: Final = 5.0


@dataclass(frozen=True)
class MetricSpec:
    name: str  # as exposed (counters end in _total)
    kind: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = ("topic",)


METRICS: Final = (
    MetricSpec(
        "dlq_records_entered_total",
        "counter",
        "Records ever written to the DLQ topic (the sum of its partitions' high watermarks at "
        "the last ingest). The growth alerts take its per-minute increase.",
    ),
    MetricSpec("dlq_records_ingested_total", "counter", "Records copied into the snapshot."),
    MetricSpec(
        "dlq_records_unparseable_total",
        "counter",
        "Records in the snapshot whose value could not be read as a DLQ message.",
    ),
    MetricSpec(
        "dlq_backlog_records",
        "gauge",
        "Records in Kafka and not resolved (open + replayed-waiting + ready-to-resolve + "
        "replay-failed), as the dashboard counts them. KafkaDLQSizeHigh compares it.",
    ),
    MetricSpec(
        "dlq_records_by_state",
        "gauge",
        "Records still in Kafka, by state (the dashboard's words; resolved is outside the "
        "backlog).",
        ("topic", "state"),
    ),
    MetricSpec(
        "dlq_backlog_records_by_category",
        "gauge",
        'Backlog records by error category (the known ones, "none" and "other").',
        ("topic", "category"),
    ),
    MetricSpec(
        "dlq_topic_records",
        "gauge",
        "Records in the topic by its watermarks (high - low, summed over partitions).",
    ),
    MetricSpec(
        "dlq_records_not_ingested", "gauge", "Records in the topic not (yet) in the snapshot."
    ),
    MetricSpec(
        "dlq_records_gone",
        "gauge",
        "Records deleted from Kafka by retention, kept in the snapshot.",
    ),
    MetricSpec(
        "dlq_backlog_unparseable_records",
        "gauge",
        "Backlog records whose value could not be read as a DLQ message.",
    ),
    MetricSpec(
        "dlq_oldest_open_age_seconds",
        "gauge",
        "Age of the oldest open record (by its Kafka timestamp); 0 when none is open.",
    ),
    MetricSpec(
        "dlq_replays_total",
        "counter",
        "Single-record replays (dashboard or CLI), by result.",
        ("topic", "result"),
    ),
    MetricSpec(
        "dlq_resolves_total",
        "counter",
        "Single-record resolves (dashboard or CLI), by result.",
        ("topic", "result"),
    ),
    MetricSpec(
        "dlq_resolutions_total",
        "counter",
        "Resolved records, by how: dashboard, review-group (its committed offset passed them) "
        "or before-dashboard.",
        ("topic", "source"),
    ),
    MetricSpec(
        "dlq_replay_returns_total",
        "counter",
        "Records that arrived in the DLQ again after a replay of their trace id (replay "
        "failures, a runbook escalation criterion).",
    ),
    MetricSpec(
        "dlq_snapshot_age_seconds",
        "gauge",
        "Time since the last ingest run that finished ok (a failed attempt refreshes nothing).",
    ),
    MetricSpec(
        "dlq_last_ingest_duration_seconds",
        "gauge",
        "How long the last ingest run that read Kafka took (not a failed attempt to reach it).",
    ),
    MetricSpec(
        "dlq_last_ingest_success",
        "gauge",
        "1 when the last ingest run finished ok, 0 when it failed or was interrupted.",
    ),
    MetricSpec(
        "dlq_ingest_runs_total",
        "counter",
        "Finished ingest runs, by status (ok, failed, interrupted).",
        ("topic", "status"),
    ),
    MetricSpec(
        "dlq_snapshot_up",
        "gauge",
        "1 when this scrape could read the snapshot; 0 when it is missing or stayed locked "
        "(then no other DLQ metric is reported).",
        (),
    ),
)
METRIC_NAMES: Final = frozenset(m.name for m in METRICS)
_SPECS: Final = {m.name: m for m in METRICS}


def bounded(value: str | None, known: Iterable[str], *, none: str = OTHER) -> str:
    """`value` when it is one of `known`, `none` when missing, else "other"."""
    if value is None or not value.strip():
        return none
    word = value.strip().lower()
    return word if word in known else OTHER


class _Families:
    """Metric families being filled, one per spec, in the order of METRICS; the samples of
    every DLQ go into the same families (a name may appear once in an exposition)."""

    def __init__(self) -> None:
        self.families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        self.dlq = ""  # the `dlq` label of the samples being added

    def add(self, name: str, value: float, *labels: str) -> None:
        """`labels` in the spec's order (the topic first); the DLQ's name goes after it."""
        family = self.families.get(name)
        spec = _SPECS[name]
        names = ("topic", "dlq", *spec.labels[1:]) if spec.labels else ()
        if family is None:
            if spec.kind == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=names)
            else:
                family = GaugeMetricFamily(name, spec.help, labels=names)
            self.families[name] = family
        values = [labels[0], self.dlq, *labels[1:]] if spec.labels else []
        family.add_metric(values, value)

    def add_each(
        self, name: str, topic: str, counts: Mapping[str, int], known: Iterable[str]
    ) -> None:
        """One sample per known label value (0 when absent, so rates start at once), the
        values outside `known` summed as "other"."""
        totals = dict.fromkeys(known, 0)
        for key, n in counts.items():
            label = bounded(key, totals)
            totals[label] = totals.get(label, 0) + n
        for label, n in totals.items():
            self.add(name, n, topic, label)


def families(
    numbers: MonitoringNumbers,
    topic: str,
    settings: Settings,
    now: datetime,
    *,
    dlq: str = "",
    out: _Families | None = None,
) -> list[Metric]:
    """The DLQ metric families of one topic (the DLQ `dlq`, with `settings` narrowed to it),
    from what the snapshot says at `now`, added to `out`'s when given."""
    out = out or _Families()
    out.dlq = dlq
    size = numbers.size
    out.add("dlq_records_entered_total", numbers.entered, topic)
    out.add("dlq_records_ingested_total", numbers.ingested, topic)
    out.add("dlq_records_unparseable_total", numbers.ingested_unparseable, topic)
    out.add("dlq_backlog_records", size.backlog, topic)
    for word in STATES:
        out.add("dlq_records_by_state", size.states.of(word), topic, word)
    categories = {
        (NO_CATEGORY if c is None else c): n for c, n in numbers.backlog_by_category.items()
    }
    out.add_each(
        "dlq_backlog_records_by_category",
        topic,
        categories,
        (*settings.escalation.known_categories, NO_CATEGORY),
    )
    out.add("dlq_topic_records", size.in_topic, topic)
    out.add("dlq_records_not_ingested", size.not_ingested, topic)
    out.add("dlq_records_gone", size.gone, topic)
    out.add("dlq_backlog_unparseable_records", size.unparseable, topic)
    oldest = numbers.oldest_open_at
    out.add(
        "dlq_oldest_open_age_seconds",
        0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        topic,
    )
    out.add_each("dlq_replays_total", topic, numbers.replays, ACTION_RESULTS)
    out.add_each("dlq_resolves_total", topic, numbers.resolves, ACTION_RESULTS)
    out.add_each("dlq_resolutions_total", topic, numbers.resolutions, RESOLUTION_SOURCES)
    out.add("dlq_replay_returns_total", numbers.replay_returns, topic)
    last = numbers.last_ingest
    if numbers.last_ok_at is not None:
        # A failed attempt (Kafka not answering) refreshes nothing: the age keeps growing.
        out.add("dlq_snapshot_age_seconds", (now - numbers.last_ok_at).total_seconds(), topic)
    if last is not None:
        if not last.failed_to_start:  # an outage's attempts: its length, not a run's
            out.add("dlq_last_ingest_duration_seconds", last.seconds, topic)
        out.add("dlq_last_ingest_success", float(last.status == "ok"), topic)
    out.add_each("dlq_ingest_runs_total", topic, numbers.ingest_runs, INGEST_STATUSES)
    return list(out.families.values())


class SnapshotCollector(Collector):
    """Reads the snapshot at each scrape (one short read-only connection)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(
            settings.db, min(settings.db_lock_timeout_seconds, SCRAPE_LOCK_TIMEOUT_SECONDS)
        )

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dlq_snapshot_up", _SPECS["dlq_snapshot_up"].help)
        try:
            with self.database.read() as con:
                # A follower runs for months: a DLQ `discover` finds after it started is
                # scraped from the ingest that first reads it on.
                settings = with_snapshot_dlqs(con, self.settings)
                dlqs = settings.dlq_list
                numbers = [monitoring_numbers(con, dlq.topic) for dlq in dlqs]
        except (SnapshotMissing, DatabaseBusy):
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        out = _Families()
        now = datetime.now(UTC)
        for dlq, counted in zip(dlqs, numbers, strict=True):
            narrowed = settings.for_dlq(dlq.name)
            families(counted, dlq.topic, narrowed, now, dlq=dlq.name, out=out)
        yield from out.families.values()


def registry_for(settings: Settings) -> CollectorRegistry:
    """A registry holding only the DLQ metrics of `settings`' snapshot, for every DLQ they
    configure (`settings` as loaded, not narrowed to one DLQ: see cli.context)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(settings))
    return registry
