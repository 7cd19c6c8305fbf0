"""The runbook's alerts as Prometheus alerting rules, built from the same settings the
dashboard evaluates them with (settings.alerts, settings.rules.rate_window_minutes), so the
two agree: monitoring/prometheus/dlq-alerts.yml is this module's output for the defaults
(`dlq metrics --rules` writes it for your settings).

Rates are per minute, as the runbook states its thresholds: `increase(x[5m]) / 5`, the average
per-minute growth over the trailing window, which is what the dashboard compares (the
pipeline's own rules compared the per-second `rate()` with per-minute numbers). Each expression
takes `max by (topic, dlq)`, so two exporters of one snapshot raise one alert, not two, and the
alert keeps the exporter's `dlq` label (the DLQ's name), which its dashboard link opens.

A DLQ with thresholds of its own (its [severity] or [[alerts]] in `[[dlqs]]`) gets a group of
its own rules, selecting its topic; the group of the top-level rules leaves its topic out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from dashboard.settings import AlertRule, Settings
from dashboard.triage.states import BACKLOG

GROUP_NAME: Final = "dlq"
# The dashboard's ?dlq= of an alert of the shared group: the DLQ the alerting series is of,
# filled in by Prometheus (DLQ names are URL-safe: settings allow letters, digits, ._-).
DLQ_LABEL_TEMPLATE: Final = "{{ $labels.dlq }}"
ENTERED: Final = "dlq_records_entered_total"
BACKLOG_METRIC: Final = "dlq_backlog_records"


@dataclass(frozen=True)
class RunbookStep:
    severity: str  # the runbook's severity table: critical or warning
    action: str  # the runbook's "Alert Thresholds" table
    section: str  # anchor of the runbook section to open


def runbook_step(rule: AlertRule, settings: Settings) -> RunbookStep:
    """What the runbook says about an alert of this kind and threshold."""
    if rule.kind == "size":
        return RunbookStep(
            "warning",
            "Schedule cleanup (manual review within 4 hours)",
            "weekly-dlq-cleanup-30-minutes",
        )
    if rule.threshold >= settings.severity.critical_above_per_min:
        return RunbookStep(
            "critical",
            "Investigate immediately (response within 1 hour)",
            "initial-triage-10-minutes",
        )
    return RunbookStep("warning", "Review within 4 hours", "initial-triage-10-minutes")


def duration(seconds: float) -> str:
    """A Prometheus duration: whole minutes as "5m", anything else in whole seconds."""
    whole = max(1, round(seconds))
    return f"{whole // 60}m" if whole % 60 == 0 else f"{whole}s"


def expression(
    rule: AlertRule, settings: Settings, time_scale: float = 1.0, selector: str = ""
) -> str:
    """The rule's PromQL; `selector`: label matchers narrowing the series (no braces)."""
    labels = f"{{{selector}}}" if selector else ""
    if rule.kind == "size":
        return f"max by (topic, dlq) ({BACKLOG_METRIC}{labels}) > {rule.threshold:g}"
    seconds = max(1, round(settings.rules.rate_window_minutes * 60 * time_scale))
    per_minute = f"/ {seconds // 60}" if seconds % 60 == 0 else f"* 60 / {seconds}"
    # increase over the window divided by its minutes, rather than rate() * 60: the same
    # number, but whole counts stay exact, so exactly 10 a minute is not "> 10" (rate()'s
    # per-second division rounds 50 / 300 * 60 just above 10).
    return (
        f"max by (topic, dlq) (increase({ENTERED}{labels}[{duration(seconds)}])) {per_minute}"
        f" > {rule.threshold:g}"
    )


def dashboard_link(rule: AlertRule, settings: Settings, dlq: str | None = None) -> str:
    """The Messages page on the records the alert is about: the backlog, and for a growth
    alert those that arrived within its window and `for` duration; of the DLQ `dlq` (a name
    or DLQ_LABEL_TEMPLATE, added as it is so Prometheus's template survives), if given."""
    params = {"states": BACKLOG}
    if rule.kind == "rate_per_min":
        minutes = rule.for_minutes + settings.rules.rate_window_minutes
        params["from"] = f"{minutes:g}m"
    choice = f"&dlq={dlq}" if dlq else ""
    return f"{settings.monitoring.dashboard_url.rstrip('/')}/messages?{urlencode(params)}{choice}"


def rule_document(
    rule: AlertRule,
    settings: Settings,
    time_scale: float = 1.0,
    selector: str = "",
    dlq: str | None = None,
) -> dict[str, object]:
    step = runbook_step(rule, settings)
    if rule.kind == "size":
        condition = f"> {rule.threshold:,g} records in the backlog for {rule.for_minutes:g} min"
        summary = "DLQ {{ $labels.topic }} backlog is {{ $value | humanize }} records"
    else:
        condition = f"> {rule.threshold:g} records/min for {rule.for_minutes:g} min"
        summary = "DLQ {{ $labels.topic }} growing at {{ $value | humanize }} records/min"
    return {
        "alert": rule.name,
        "expr": expression(rule, settings, time_scale, selector),
        "for": duration(rule.for_minutes * 60 * time_scale),
        "labels": {"severity": step.severity},
        "annotations": {
            "summary": f"{summary} ({condition})",
            "description": f"Runbook: {step.action}. The dashboard link lists the records.",
            "dashboard_url": dashboard_link(rule, settings, dlq),
            "runbook_url": f"{settings.monitoring.runbook_url}#{step.section}",
        },
    }


@dataclass(frozen=True)
class RuleGroup:
    name: str
    settings: Settings  # whose alerts and severity bands the group's rules take
    selector: str  # PromQL label matchers (no braces); empty: every topic
    dlq: str | None = None  # the dashboard links' ?dlq=; None: none


def rule_groups(settings: Settings) -> list[RuleGroup]:
    """The top-level rules for every DLQ without thresholds of its own, then one group per
    DLQ with its own. `settings` as loaded, not narrowed to one DLQ.

    The shared group's links always name the alerting series' DLQ by its label: the rules
    file generated for the defaults also serves configurations of several DLQs (the compose
    demo's), and with one DLQ the dashboard takes its own name as well as none. A group of
    one DLQ names it when there are others to choose from."""
    own = [d for d in settings.dlq_list if d.severity is not None or d.alerts is not None]
    others = ",".join(f"topic!={json.dumps(d.topic)}" for d in own)
    groups = [RuleGroup(GROUP_NAME, settings, others, DLQ_LABEL_TEMPLATE)]
    several = len(settings.dlq_list) > 1
    for dlq in own:
        narrowed = settings.for_dlq(dlq.name)
        groups.append(
            RuleGroup(
                f"{GROUP_NAME}-{dlq.name}",
                narrowed,
                f"topic={json.dumps(dlq.topic)}",
                dlq.name if several else None,
            )
        )
    return groups


def rules_document(settings: Settings, time_scale: float = 1.0) -> dict[str, object]:
    """The rules file's content. `time_scale` shrinks every window and `for` duration (a
    test's quick variant of the same rules); thresholds stay as they are."""
    return {
        "groups": [
            {
                "name": g.name,
                "rules": [
                    rule_document(r, g.settings, time_scale, g.selector, g.dlq)
                    for r in g.settings.alerts
                ],
            }
            for g in rule_groups(settings)
        ]
    }


HEADER: Final = (
    "# The runbook's DLQ alerts, per minute as the runbook states them. Generated by\n"
    "# `dlq metrics --rules` from the dashboard's settings (alerts, rules.rate_window_minutes,\n"
    "# monitoring.dashboard_url and runbook_url); tests/test_alert_rules.py checks it matches.\n"
)


def rules_yaml(settings: Settings, time_scale: float = 1.0) -> str:
    """The rules file as YAML (strings JSON-quoted, which YAML reads as they are)."""
    lines = [HEADER.rstrip("\n"), "groups:"]
    for group in rule_groups(settings):
        lines += [f"  - name: {group.name}", "    rules:"]
        for rule in group.settings.alerts:
            document = rule_document(rule, group.settings, time_scale, group.selector, group.dlq)
            for i, (key, value) in enumerate(document.items()):
                lead = "        " if i else "      - "
                if isinstance(value, dict):
                    lines.append(f"{lead}{key}:")
                    lines += [f"          {k}: {json.dumps(v)}" for k, v in value.items()]
                else:
                    lines.append(f"{lead}{key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"
