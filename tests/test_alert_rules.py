"""The Prometheus alert rules: generated from the settings the dashboard evaluates, and
evaluated by promtool exactly as the dashboard evaluates the same series."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.exports.alert_rules import rule_document, rules_document, rules_yaml
from dashboard.settings import DEFAULT_ALERTS, AlertRule, MonitoringSettings, Settings
from dashboard.triage.alerts import evaluate, rate_samples, size_samples
from dashboard.triage.overview import BacklogPoint, Bucket
from dashboard.triage.states import StateCounts
from tests.alert_cases import CASES, AlertCase
from tests.conftest import REPO

RULES_FILE = REPO / "monitoring" / "prometheus" / "dlq-alerts.yml"
TOPIC = "xact.downloads.dlq"
DLQ = "xact-downloads"  # the exporter's `dlq` label of TOPIC with the default settings
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEFAULTS = Settings()
RULES = {r.name: r for r in DEFAULT_ALERTS}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("DLQ_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool is not installed (Debian's prometheus package ships it)")
    return found


def test_the_rules_file_is_what_the_default_settings_generate() -> None:
    assert RULES_FILE.read_text() == rules_yaml(DEFAULTS), (
        "regenerate it: dlq metrics --rules > monitoring/prometheus/dlq-alerts.yml"
    )


def test_the_rules_file_states_the_settings_thresholds_and_for_windows() -> None:
    text = RULES_FILE.read_text()
    found = re.findall(r'alert: "(\w+)"\n\s+expr: "(.*) > ([\d.]+)"\n\s+for: "(\d+)m"', text)
    window = DEFAULTS.rules.rate_window_minutes
    assert [(name, float(t), float(m)) for name, _, t, m in found] == [
        (r.name, r.threshold, r.for_minutes) for r in DEFAULT_ALERTS
    ]
    for name, expr, _, _ in found:
        if RULES[name].kind == "rate_per_min":  # per minute over the dashboard's window
            assert expr == (
                f"max by (topic, dlq) (increase(dlq_records_entered_total[{window}m])) / {window}"
            )
        else:
            assert expr == "max by (topic, dlq) (dlq_backlog_records)"
    assert re.findall(r'severity: "(\w+)"', text) == ["critical", "warning", "warning"]


def test_annotations_link_the_filtered_dashboard_page_and_the_runbook_section() -> None:
    settings = Settings(
        monitoring=MonitoringSettings(
            dashboard_url="https://dlq.example.net/", runbook_url="https://wiki.example.net/dlq"
        )
    )
    rapid = rule_document(RULES["KafkaDLQGrowthRapid"], settings)["annotations"]
    assert rapid == {
        "summary": "DLQ {{ $labels.topic }} growing at {{ $value | humanize }} records/min "
        "(> 10 records/min for 5 min)",
        "description": "Runbook: Investigate immediately (response within 1 hour). "
        "The dashboard link lists the records.",
        "dashboard_url": "https://dlq.example.net/messages?states=backlog&from=10m",
        "runbook_url": "https://wiki.example.net/dlq#initial-triage-10-minutes",
    }
    size = rule_document(RULES["KafkaDLQSizeHigh"], settings)["annotations"]
    assert isinstance(size, dict)
    assert size["dashboard_url"] == "https://dlq.example.net/messages?states=backlog"
    assert size["runbook_url"].endswith("#weekly-dlq-cleanup-30-minutes")


def test_a_quick_variant_shrinks_windows_not_thresholds() -> None:
    text = rules_yaml(DEFAULTS, time_scale=1 / 30)
    assert '(increase(dlq_records_entered_total[10s])) * 60 / 10 > 10"\n        for: "10s"' in text
    assert '(dlq_backlog_records) > 1000"\n        for: "1m"' in text


# -- both evaluators on the same cases ------------------------------------------------------


def dashboard_state(case: AlertCase) -> str:
    rule: AlertRule = RULES[case.alert]
    if rule.kind == "rate_per_min":
        buckets = [Bucket(T0 + timedelta(minutes=i), n) for i, n in enumerate(case.per_minute)]
        samples = rate_samples(buckets, DEFAULTS.rules.rate_window_minutes)
    else:
        points = [
            BacklogPoint(T0 + timedelta(minutes=i), StateCounts(open=n))
            for i, n in enumerate(case.per_minute)
        ]
        samples = size_samples(points)
    until = T0 + timedelta(minutes=case.at_minute)
    return evaluate(rule, [s for s in samples if s.at <= until]).state


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_dashboard_evaluates_each_case(case: AlertCase) -> None:
    assert dashboard_state(case) == case.expected


def promtool_group(case: AlertCase) -> dict[str, object]:
    """The case as a promtool test group: the exporter's series one sample a minute, and the
    alert's ALERTS series (pending or firing; none when ok) at the minute checked."""
    if RULES[case.alert].kind == "rate_per_min":
        series = "dlq_records_entered_total"
        totals = [sum(case.per_minute[:k]) for k in range(len(case.per_minute) + 1)]
    else:
        series, totals = "dlq_backlog_records", list(case.per_minute)
    severity = "critical" if case.alert == "KafkaDLQGrowthRapid" else "warning"
    expected = (
        []
        if case.expected == "ok"
        else [
            {
                "labels": f'ALERTS{{alertname="{case.alert}",alertstate="{case.expected}",'
                f'dlq="{DLQ}",severity="{severity}",topic="{TOPIC}"}}',
                "value": 1,
            }
        ]
    )
    return {
        "name": case.id,
        "interval": "1m",
        "input_series": [
            {
                "series": f'{series}{{topic="{TOPIC}",dlq="{DLQ}"}}',
                "values": " ".join(map(str, totals)),
            }
        ],
        "promql_expr_test": [
            {
                "expr": f'ALERTS{{alertname="{case.alert}"}}',
                "eval_time": f"{case.at_minute}m",
                "exp_samples": expected,
            }
        ],
    }


def firing_with_annotations() -> dict[str, object]:
    """One firing alert with its annotations rendered: the templates work, and the dashboard
    link opens the alerting series' DLQ."""
    rule = next(r for r in rules_document(DEFAULTS)["groups"][0]["rules"])  # type: ignore[index]
    annotations = dict(rule["annotations"])
    annotations["summary"] = (
        annotations["summary"]
        .replace("{{ $labels.topic }}", TOPIC)
        .replace("{{ $value | humanize }}", "12")
    )
    annotations["dashboard_url"] = annotations["dashboard_url"].replace("{{ $labels.dlq }}", DLQ)
    assert annotations["dashboard_url"].endswith(f"&from=10m&dlq={DLQ}")
    return {
        "interval": "1m",
        "input_series": [
            {
                "series": f'dlq_records_entered_total{{topic="{TOPIC}",dlq="{DLQ}"}}',
                "values": "0+12x20",
            }
        ],
        "alert_rule_test": [
            {
                "alertname": "KafkaDLQGrowthRapid",
                "eval_time": "12m",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "critical", "topic": TOPIC, "dlq": DLQ},
                        "exp_annotations": annotations,
                    }
                ],
            }
        ],
    }


def test_promtool_evaluates_the_rules_file_like_the_dashboard(tmp_path: Path) -> None:
    binary = promtool()
    checked = subprocess.run(
        [binary, "check", "rules", str(RULES_FILE)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "dlq-alerts.test.yml"  # JSON is YAML
    tests.write_text(
        json.dumps(
            {
                "rule_files": [str(RULES_FILE)],
                "evaluation_interval": "1m",
                "tests": [*(promtool_group(c) for c in CASES), firing_with_annotations()],
            },
            indent=1,
        )
    )
    result = subprocess.run(
        [binary, "test", "rules", str(tests)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_a_dlq_with_its_own_thresholds_gets_rules_of_its_own(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "dlqs": [
                {"name": "xact", "topic": TOPIC, "review_group": "g1"},
                {
                    "name": "claimx",
                    "topic": "claimx.downloads.dlq",
                    "format": "claimx-download",
                    "review_group": "g2",
                    "severity": {"critical_above_per_min": 100},
                    "alerts": [
                        {"name": "KafkaDLQGrowthRapid", "kind": "rate_per_min",
                         "threshold": 100, "for_minutes": 5},
                        {"name": "KafkaDLQSizeHigh", "kind": "size",
                         "threshold": 20000, "for_minutes": 60},
                    ],
                },
                {"name": "generic", "topic": "workers.dlq", "format": "envelope",
                 "review_group": "g3"},
            ]
        }
    )  # fmt: skip
    text = rules_yaml(settings)
    found = re.findall(r'alert: "(\w+)"\n\s+expr: "(.*)"\n\s+for: "(\w+)"', text)
    quoted = '\\"claimx.downloads.dlq\\"'  # JSON-quoted in the file
    claimx, others = f"topic={quoted}", f"topic!={quoted}"
    assert found == [
        (
            "KafkaDLQGrowthRapid",
            f"max by (topic, dlq) (increase(dlq_records_entered_total{{{others}}}[5m])) / 5 > 10",
            "5m",
        ),
        (
            "KafkaDLQGrowthWarning",
            f"max by (topic, dlq) (increase(dlq_records_entered_total{{{others}}}[5m])) / 5 > 5",
            "10m",
        ),
        (
            "KafkaDLQSizeHigh",
            f"max by (topic, dlq) (dlq_backlog_records{{{others}}}) > 1000",
            "30m",
        ),
        (
            "KafkaDLQGrowthRapid",
            f"max by (topic, dlq) (increase(dlq_records_entered_total{{{claimx}}}[5m])) / 5 > 100",
            "5m",
        ),
        (
            "KafkaDLQSizeHigh",
            f"max by (topic, dlq) (dlq_backlog_records{{{claimx}}}) > 20000",
            "60m",
        ),
    ]
    # The claimx DLQ's Critical band starts at 100 a minute: its rapid rule is critical.
    assert re.findall(r'severity: "(\w+)"', text) == [
        "critical", "warning", "warning", "critical", "warning"
    ]  # fmt: skip
    assert re.findall(r"- name: (\S+)", text) == ["dlq", "dlq-claimx"]
    # Each alert's link opens its DLQ: the shared group's by the series' label, the claimx
    # group's by its name.
    links = re.findall(r'dashboard_url: "(.*)"', text)
    assert [link.rsplit("&dlq=", 1)[1] for link in links] == [
        "{{ $labels.dlq }}", "{{ $labels.dlq }}", "{{ $labels.dlq }}", "claimx", "claimx"
    ]  # fmt: skip
    assert links[3] == "http://127.0.0.1:8501/messages?states=backlog&from=10m&dlq=claimx"
    binary = promtool()
    rules = tmp_path / "rules.yml"
    rules.write_text(text)
    checked = subprocess.run([binary, "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_one_dlq_with_thresholds_of_its_own_links_without_a_choice() -> None:
    settings = Settings.model_validate(
        {
            "dlqs": [
                {"name": "xact", "topic": TOPIC, "review_group": "g1",
                 "severity": {"critical_above_per_min": 20}},
            ]
        }
    )  # fmt: skip
    links = re.findall(r'dashboard_url: "(.*)"', rules_yaml(settings))
    assert links[3:] == [
        "http://127.0.0.1:8501/messages?states=backlog&from=10m",
        "http://127.0.0.1:8501/messages?states=backlog&from=15m",
        "http://127.0.0.1:8501/messages?states=backlog",
    ]
