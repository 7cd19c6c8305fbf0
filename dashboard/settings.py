"""Settings: one pydantic model, read from a TOML file and overridden by environment variables.

Precedence, lowest first: built-in defaults (the runbook's values), the TOML file
(`--config PATH`, else `$DLQ_CONFIG`, else `dlq.toml` in the working directory when present:
the Streamlit app has no --config, so `DLQ_CONFIG` is how it is given one), then `DLQ_*`
environment variables. A bad value raises `SettingsError` whose message names the setting
and where it came from, so the CLI can stop with one clear line.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_FILE = "dlq.toml"
CONFIG_ENV_VAR = "DLQ_CONFIG"

KafkaValue = str | int | float | bool


class SettingsError(Exception):
    """A setting is missing, malformed or out of range; the message names it."""


class _Strict(BaseModel):
    # A typo in the TOML must not be silently ignored at 3 a.m.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SeverityBands(_Strict):
    """The runbook's "Severity Classification" table."""

    warning_from_per_10min: float = Field(5, gt=0, description="5-10 per 10 min is Warning")
    warning_to_per_10min: float = Field(10, gt=0, description="upper edge of the Warning band")
    critical_above_per_min: float = Field(10, gt=0, description="> 10 per minute is Critical")
    size_review_above: int = Field(1000, gt=0, description="> 1,000 records: manual review")


class AlertRule(_Strict):
    """A Prometheus-style rule: the condition must hold for `for_minutes` before it fires."""

    name: str = Field(min_length=1)
    kind: Literal["rate_per_min", "size"]
    threshold: float = Field(gt=0)
    for_minutes: float = Field(ge=0)


DEFAULT_ALERTS: tuple[AlertRule, ...] = (
    AlertRule(name="KafkaDLQGrowthRapid", kind="rate_per_min", threshold=10, for_minutes=5),
    AlertRule(name="KafkaDLQGrowthWarning", kind="rate_per_min", threshold=5, for_minutes=10),
    AlertRule(name="KafkaDLQSizeHigh", kind="size", threshold=1000, for_minutes=30),
)


class EscalationCriteria(_Strict):
    """The runbook's "Escalate to L3 Engineering if" list (the numeric ones)."""

    growth_above_per_min: float = Field(50, gt=0)
    same_error_above: int = Field(100, gt=0)
    known_categories: tuple[str, ...] = ("permanent", "transient", "auth", "circuit_open")


class DashboardRules(_Strict):
    """How the dashboard reads the runbook where the runbook leaves room."""

    # Alerts compare a per-minute rate over this trailing window, as Prometheus's
    # rate(...[5m]) * 60 would; the Critical band uses the same window.
    rate_window_minutes: int = Field(5, ge=1, le=60)
    # The snapshot counts as stale (a warning on every page) when the last ingest finished
    # longer ago than this: a few `dlq ingest --follow 30` intervals.
    stale_after_seconds: float = Field(180, gt=0)
    # "Systematic" (runbook pattern 5): at least this many records with one error signature
    # from one domain within this many minutes.
    systematic_min_records: int = Field(50, ge=2)
    systematic_window_minutes: int = Field(10, ge=1)


class ActionSettings(_Strict):
    """Replay and resolve: who may, and how fast."""

    enabled: bool = True  # false: every action is off, for everyone
    operators: tuple[str, ...] = ()  # who may act; unset: anyone with an identity
    # A header a trusted reverse proxy sets to the logged-in user (e.g. X-Forwarded-User).
    proxy_user_header: str | None = None
    # Addresses or networks the proxy connects from; the header is believed only from them
    # (none: it is never believed, since any browser can send it).
    trusted_proxies: tuple[str, ...] = ()
    # Bulk actions go no faster than this (records per second) unless the operator lowers it.
    max_records_per_second: float = Field(50.0, gt=0)
    # Bulk actions over this many records need the count typed to confirm.
    confirm_count_above: int = Field(100, ge=1)
    # A replay counts as failed when the broker has not acknowledged it within this time.
    delivery_timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("proxy_user_header", mode="before")
    @classmethod
    def _empty_header_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("operators")
    @classmethod
    def _operators_are_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(operator_name(name) for name in value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return tuple(item.strip() for item in value)

    @model_validator(mode="after")
    def _a_set_list_names_someone(self) -> ActionSettings:
        # An empty list must not quietly mean "anyone may act".
        if "operators" in self.model_fields_set and not self.operators:
            raise ValueError("operators is set but names no one (leave it out to allow anyone)")
        return self


def operator_name(name: str) -> str:
    """`name` trimmed, if it is a visible, printable name (the audit shows it as it is)."""
    trimmed = name.strip()
    if not trimmed:
        raise ValueError("an operator name cannot be blank")
    if not trimmed.isprintable():
        raise ValueError(f"operator name {trimmed!r} holds control characters or line breaks")
    return trimmed


class MonitoringSettings(_Strict):
    """Where the alert rules' links point (monitoring/prometheus/dlq-alerts.yml is generated
    from these and the alerts: `dlq metrics --rules`)."""

    # The dashboard as the people paged reach it; alerts link to its pages with a filter.
    dashboard_url: str = Field("http://127.0.0.1:8501", pattern=r"^https?://\S+$")
    # The runbook's page; alerts link to its sections by anchor.
    runbook_url: str = Field("https://runbooks.example.com/kafka-dlq", pattern=r"^https?://\S+$")


class IngestTuning(_Strict):
    # Records asked of Kafka per consume() call. The reader runs ahead of the writer by a
    # couple of these, so a larger batch holds more memory without reading faster.
    batch_records: int = Field(2_000, ge=1, le=1_000_000)
    # Records per DuckDB transaction, and per row group the job writes (a full row group
    # goes straight to the table; a partial one through the WAL, written twice). The job
    # holds about three transactions in flight, so the peak memory grows with this; smaller
    # transactions lower it at some cost in speed, and the dashboard scans smaller row
    # groups more slowly (BENCHMARKS.md records both settings). DuckDB takes row groups in
    # whole vectors of 2,048 rows.
    transaction_records: int = Field(16_384, ge=2_048, le=122_880, multiple_of=2_048)
    # The ingest job releases the DuckDB file at least this often so the app and the CLI
    # get their turn while a long backlog is being read.
    hold_db_seconds: float = Field(2.0, gt=0)
    # consume() waits this long for a full batch; short, so the tail of a topic is not slow.
    poll_timeout_seconds: float = Field(0.1, gt=0)


DlqFormat = Literal["xact-download", "claimx-download", "claimx-enrichment", "envelope", "any"]
DLQ_FORMATS: tuple[str, ...] = (
    "xact-download",
    "claimx-download",
    "claimx-enrichment",
    "envelope",
    "any",
)
# Replay to the topic the record names as its source (the envelope's original_topic, or
# Connect/Spring/Streams/Karafka headers) rather than to one pending topic.
REPLAY_TO_ORIGIN = "origin"
# Where each shape's own consumer reads its tasks (dlq-other-formats.md).
# The dashboard's DLQ selector offers this word (?dlq=all) for "every DLQ", so no DLQ is
# called it.
EVERY_DLQ = "all"
DEFAULT_REPLAY_TARGETS: Mapping[str, str] = {
    "xact-download": "xact.downloads.pending",
    "claimx-download": "claimx.downloads.pending",
    "claimx-enrichment": "claimx.enrichment.pending",
}


class DlqSettings(_Strict):
    """One dead-letter queue of the pipeline (`[[dlqs]]`): its topic, the shape of its
    records, where a replay goes, and the group whose committed offsets mean "resolved"."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    topic: str = Field(min_length=1)
    format: DlqFormat = "xact-download"
    # A pending topic, or "origin".
    replay_target: str = Field(min_length=1)
    review_group: str = Field(min_length=1)
    # Unset: the top-level [severity] and [[alerts]] (the runbook's).
    severity: SeverityBands | None = None
    alerts: tuple[AlertRule, ...] | None = None
    # Found by the top-level `discover` pattern, not configured (Settings.with_discovered).
    discovered: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_replay_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "replay_target" not in data:
            fmt = data.get("format", "xact-download")
            return dict(data, replay_target=DEFAULT_REPLAY_TARGETS.get(fmt, REPLAY_TO_ORIGIN))
        return data

    @field_validator("name")
    @classmethod
    def _name_is_not_the_selectors_every(cls, value: str) -> str:
        if value.lower() == EVERY_DLQ:
            raise ValueError(
                f"a DLQ cannot be called {value!r}: the dashboard's DLQ selector uses "
                f"{EVERY_DLQ!r} (?dlq={EVERY_DLQ}) for every DLQ; pick another name"
            )
        return value

    @property
    def replays_to_origin(self) -> bool:
        return self.replay_target == REPLAY_TO_ORIGIN

    @model_validator(mode="after")
    def _target_fits_format(self) -> DlqSettings:
        if self.format == "envelope" and not self.replays_to_origin:
            raise ValueError("an envelope DLQ replays to its records' original topic: use 'origin'")
        if self.replays_to_origin and self.format not in ("envelope", "any"):
            raise ValueError(f"a {self.format} DLQ has no origin topic: name its pending topic")
        return self


def dlq_name_of(topic: str) -> str:
    """The name today's single-DLQ settings give their DLQ: `xact.downloads.dlq` ->
    `xact-downloads`."""
    stem = topic.removesuffix(".dlq") or topic
    return "-".join(part for part in stem.replace("_", ".").split(".") if part) or "dlq"


# The top-level settings that describe the one DLQ of older configurations; with [[dlqs]]
# they follow the first DLQ, and giving them as well would leave one of the two unread.
SINGLE_DLQ_FIELDS = ("dlq_topic", "pending_topic", "review_group")


class Settings(_Strict):
    bootstrap_servers: str = Field("127.0.0.1:9092", min_length=1)
    dlq_topic: str = Field("xact.downloads.dlq", min_length=1)
    pending_topic: str = Field("xact.downloads.pending", min_length=1)
    results_topic: str | None = None
    review_group: str = Field("xact-dlq-review", min_length=1)
    db: Path = Path("dlq.duckdb")
    audit_log: Path = Path("dlq-audit.log")
    # The audit's third copy, in Kafka: a witness neither a shell on the log file nor a DuckDB
    # session can rewrite. Empty: `<dlq_topic>.audit`; "off": no topic (verify then compares
    # the table and the file only).
    audit_topic: str = ""
    # How long a reader or writer waits for another process to release the DuckDB file.
    db_lock_timeout_seconds: float = Field(30.0, gt=0)
    operator: str | None = None

    @field_validator("db")
    @classmethod
    def _db_is_a_file(cls, value: Path) -> Path:
        if str(value) in ("", "."):
            raise ValueError("must name the snapshot file; it is empty")
        if value.is_dir():
            raise ValueError(f"must name the snapshot file, and {value} is a folder")
        return value

    @field_validator("operator")
    @classmethod
    def _operator_is_a_name(cls, value: str | None) -> str | None:
        return None if value is None else operator_name(value)

    # librdkafka properties passed through untouched, e.g. security.protocol = "SASL_SSL".
    # (may hold sasl.password: kept out of the repr, so out of tracebacks and log lines)
    kafka: dict[str, KafkaValue] = Field(default_factory=dict, repr=False)
    severity: SeverityBands = SeverityBands()
    alerts: tuple[AlertRule, ...] = DEFAULT_ALERTS
    escalation: EscalationCriteria = EscalationCriteria()
    rules: DashboardRules = DashboardRules()
    actions: ActionSettings = ActionSettings()
    ingest: IngestTuning = IngestTuning()
    monitoring: MonitoringSettings = MonitoringSettings()
    # Every DLQ the dashboard reads; empty: the one DLQ of dlq_topic/pending_topic/review_group.
    dlqs: tuple[DlqSettings, ...] = ()
    # Topics matching this fnmatch pattern (e.g. "*.dlq") are read as "any"-format DLQs
    # replayed to their origin until configured; empty: none.
    discover: str = ""

    @model_validator(mode="before")
    @classmethod
    def _first_dlq_is_the_default(cls, data: Any) -> Any:
        """With [[dlqs]], dlq_topic/pending_topic/review_group are the first DLQ's, so
        code written for one DLQ reads the default one."""
        if not isinstance(data, dict) or not data.get("dlqs"):
            return data
        given = [name for name in SINGLE_DLQ_FIELDS if name in data]
        if given:
            raise ValueError(
                f"{given[0]} cannot be set beside [[dlqs]]: give it in the DLQ's own table"
            )
        try:
            first = DlqSettings.model_validate(data["dlqs"][0])
        except (ValidationError, IndexError, TypeError):
            return data  # the field's own validation says what is wrong
        default = dict(data, dlq_topic=first.topic, review_group=first.review_group)
        if not first.replays_to_origin:
            default["pending_topic"] = first.replay_target
        return default

    @field_validator("dlqs")
    @classmethod
    def _dlqs_are_distinct(cls, value: tuple[DlqSettings, ...]) -> tuple[DlqSettings, ...]:
        for attribute in ("name", "topic"):
            seen: set[str] = set()
            for dlq in value:
                key = getattr(dlq, attribute)
                if key in seen:
                    raise ValueError(f"two DLQs have the {attribute} {key!r}")
                seen.add(key)
        if any(dlq.discovered for dlq in value):
            raise ValueError("discovered is not set in a file: found DLQs are marked so")
        return value

    def discovers(self, topic: str) -> bool:
        """Whether `topic` is a DLQ `discover` finds: it matches, and is no configured DLQ,
        no internal topic and not the audit topic."""
        return (
            bool(self.discover)
            and fnmatch.fnmatchcase(topic, self.discover)
            and self.dlq_by_topic(topic) is None
            and not topic.startswith("_")
            and topic != self.audit_topic_name
        )

    def with_discovered(self, topics: Iterable[str]) -> Settings:
        """These settings with a DLQ of format "any" (replayed to the origin its records'
        headers name, review group `<name>-review`) for each of `topics` `discover` finds."""
        found = sorted({t for t in topics if self.discovers(t)})
        if not found:
            return self
        names = {d.name.lower() for d in self.dlq_list} | {EVERY_DLQ}
        added = []
        for topic in found:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "-", dlq_name_of(topic)).strip("._-") or "dlq"
            name, n = stem, 2
            while name.lower() in names:
                name, n = f"{stem}-{n}", n + 1
            names.add(name.lower())
            added.append(
                DlqSettings(
                    name=name,
                    topic=topic,
                    format="any",
                    replay_target=REPLAY_TO_ORIGIN,
                    review_group=f"{name}-review",
                    discovered=True,
                )
            )
        return self.model_copy(update={"dlqs": (*self.dlq_list, *added)})

    @property
    def dlq_list(self) -> tuple[DlqSettings, ...]:
        """The configured DLQs, the default first; older settings give a list of one."""
        if self.dlqs:
            return self.dlqs
        return (
            DlqSettings(
                name=dlq_name_of(self.dlq_topic),
                topic=self.dlq_topic,
                format="xact-download",
                replay_target=self.pending_topic,
                review_group=self.review_group,
            ),
        )

    def dlq(self, name: str | None = None) -> DlqSettings:
        """The DLQ called `name`; the first configured when None."""
        dlqs = self.dlq_list
        if name is None:
            return dlqs[0]
        for dlq in dlqs:
            if dlq.name == name:
                return dlq
        known = ", ".join(d.name for d in dlqs)
        raise SettingsError(f"no DLQ named {name!r} (configured: {known})")

    def dlq_by_topic(self, topic: str) -> DlqSettings | None:
        return next((d for d in self.dlq_list if d.topic == topic), None)

    def for_dlq(self, name: str | None = None) -> Settings:
        """These settings narrowed to one DLQ: dlq_topic, pending_topic, review_group,
        severity and alerts are that DLQ's, so every query, rule and action written for one
        DLQ works on it unchanged."""
        dlq = self.dlq(name)
        update: dict[str, Any] = {"dlq_topic": dlq.topic, "review_group": dlq.review_group}
        if not dlq.replays_to_origin:
            update["pending_topic"] = dlq.replay_target
        if dlq.severity is not None:
            update["severity"] = dlq.severity
        if dlq.alerts is not None:
            update["alerts"] = dlq.alerts
        return self.model_copy(update=update)

    @field_validator("results_topic", "operator", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def audit_topic_name(self) -> str | None:
        """The audit topic, or None when it is off. One for every DLQ (the first DLQ's name by
        default, whichever DLQ these settings are narrowed to): the table holds one chain of
        every DLQ's entries, and a topic per DLQ could witness none of it whole."""
        if self.audit_topic.strip().lower() == "off":
            return None
        return self.audit_topic.strip() or f"{self.dlq_list[0].topic}.audit"

    @field_validator("kafka")
    @classmethod
    def _kafka_keys_are_properties(cls, value: dict[str, KafkaValue]) -> dict[str, KafkaValue]:
        for key in value:
            if not key or key.strip() != key or " " in key:
                raise ValueError(f"{key!r} is not a librdkafka property name")
        return value


# Environment variable -> dotted setting path.
ENV_VARS: Mapping[str, str] = {
    "DLQ_BOOTSTRAP_SERVERS": "bootstrap_servers",
    "DLQ_TOPIC": "dlq_topic",
    "DLQ_PENDING_TOPIC": "pending_topic",
    "DLQ_RESULTS_TOPIC": "results_topic",
    "DLQ_REVIEW_GROUP": "review_group",
    "DLQ_DB": "db",
    "DLQ_AUDIT_LOG": "audit_log",
    "DLQ_AUDIT_TOPIC": "audit_topic",
    "DLQ_OPERATOR": "operator",
    "DLQ_DB_LOCK_TIMEOUT": "db_lock_timeout_seconds",
    "DLQ_ACTIONS_ENABLED": "actions.enabled",
    "DLQ_OPERATORS": "actions.operators",
    "DLQ_PROXY_USER_HEADER": "actions.proxy_user_header",
    "DLQ_DASHBOARD_URL": "monitoring.dashboard_url",
    "DLQ_RUNBOOK_URL": "monitoring.runbook_url",
    "DLQ_TRUSTED_PROXIES": "actions.trusted_proxies",
}
LIST_VARS = ("actions.operators", "actions.trusted_proxies")  # comma-separated
# DLQ_KAFKA_SASL_PASSWORD=... sets the librdkafka property sasl.password, so secrets can stay
# out of the TOML file.
KAFKA_ENV_PREFIX = "DLQ_KAFKA_"


def load_settings(
    config_path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings from defaults, the TOML file and the environment."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}

    if config_path is None and env.get(CONFIG_ENV_VAR):
        config_path = env[CONFIG_ENV_VAR]
    path = _config_file(config_path, cwd)
    if path is not None:
        file_values = _read_toml(path)
        merged.update(file_values)
        for key in _flatten_keys(file_values):
            origin[key] = str(path)

    for var, dotted in ENV_VARS.items():
        if var in env:
            value: object = env[var]
            if dotted in LIST_VARS:  # blanks are kept, so that validation refuses them
                value = tuple(env[var].split(","))
            _set_dotted(merged, dotted, value)
            origin[dotted] = f"${var}"
    for var, raw in env.items():
        if var.startswith(KAFKA_ENV_PREFIX) and len(var) > len(KAFKA_ENV_PREFIX):
            prop = var[len(KAFKA_ENV_PREFIX) :].lower().replace("_", ".")
            merged.setdefault("kafka", {})[prop] = raw
            origin[f"kafka.{prop}"] = f"${var}"

    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origin)) from None


def _config_file(config_path: Path | str | None, cwd: Path | None) -> Path | None:
    if config_path is not None:
        path = Path(config_path)
        if path.is_dir():
            raise SettingsError(f"config file {path} is a folder, not a file")
        if not path.is_file():
            raise SettingsError(f"config file {path} does not exist")
        return path
    default = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"config file {path} is not UTF-8 text (byte {exc.start} cannot be read)"
        ) from None
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None


def _flatten_keys(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, Mapping):
            keys.extend(_flatten_keys(value, f"{dotted}."))
    return keys


def _set_dotted(target: dict[str, Any], dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _describe(exc: ValidationError, origin: Mapping[str, str]) -> str:
    """Every problem, each naming its setting and where it came from: one fix per run of
    the command would make a file with three mistakes take three runs."""
    problems: list[str] = []
    for errors in _by_setting(exc.errors()).values():
        if len(errors) == 1:
            problems.append(_problem(errors[0], origin))
            continue
        # A value no member of a union took: one problem, naming what it may be.
        kinds = [_KIND_WORDS.get(str(e["loc"][-1]), str(e["loc"][-1])) for e in errors]
        allowed = ", ".join(kinds[:-1]) + " or " + kinds[-1]
        value = repr(errors[0].get("input"))[:60]
        union = {**errors[0], "loc": errors[0]["loc"][:-1], "type": "union"}
        problems.append(_problem({**union, "msg": f"{value} is not {allowed}"}, origin))
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems: " + "; ".join(problems)


# Pydantic names each member of a union it tried last in an error's location.
_KIND_WORDS: Final = {
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "bool": "a boolean",
}


def _by_setting(errors: list[Any]) -> dict[tuple[Any, ...], list[Any]]:
    """Errors grouped by the setting they are about: a union's members' errors together."""
    grouped: dict[tuple[Any, ...], list[Any]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        member = len(loc) > 1 and str(loc[-1]) in _KIND_WORDS
        grouped.setdefault(loc[:-1] if member else loc, []).append(error)
    return grouped


def _problem(error: Any, origin: Mapping[str, str]) -> str:
    dotted = ".".join(str(part) for part in error["loc"])
    source = _origin_of(dotted, origin)
    where = f" (from {source})" if source else ""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
    if not dotted:  # a rule across settings: its message names them
        return f"settings: {message}"
    return f"setting {dotted}{where}: {message}"


def _origin_of(dotted: str, origin: Mapping[str, str]) -> str | None:
    parts = dotted.split(".")
    while parts:
        key = ".".join(parts)
        if key in origin:
            return origin[key]
        parts.pop()
    return None
