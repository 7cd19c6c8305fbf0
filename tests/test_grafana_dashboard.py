"""The Grafana dashboard: Grafana is not here, so its JSON's structure is checked, and every
query must name metrics this project exports (a renamed metric would leave a panel empty)."""

from __future__ import annotations

import json
import re
from typing import Any

from dashboard.exports.metrics import METRIC_NAMES
from dashboard.settings import SeverityBands
from tests.conftest import REPO

DASHBOARD = REPO / "monitoring" / "grafana" / "dlq-monitoring.json"
# PromQL words that are not metric names: functions, aggregations, keywords.
PROMQL_WORDS = {"max", "sum", "by", "increase", "rate", "topic", "state", "category", "result"}
# The pipeline's DLQ Monitoring dashboard's panels.
PANELS = {
    "DLQ count (backlog)": "stat",
    "Ingestion rate (records/min)": "stat",
    "Replay rate (replays/min)": "stat",
    "Oldest open message age": "stat",
    "DLQ size over time": "timeseries",
    "Ingestion vs replay (records/min)": "timeseries",
    "Backlog by error category": "piechart",
    "Summary": "table",
}


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside braces and strings, not
    followed by "(" (a function), not a label in by (...), not a duration."""
    bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|by \([^)]*\)', " ", expr)
    return {
        name
        for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)
        if name not in PROMQL_WORDS
    }


def test_metric_names_are_read_from_promql() -> None:
    assert metric_names('max by (topic) (increase(dlq_x_total{a="b"}[5m])) / 5') == {"dlq_x_total"}


def test_the_dashboard_has_the_pipelines_panels() -> None:
    data = load()
    assert data["uid"] == "dlq-monitoring" and data["title"] == "DLQ Monitoring"
    assert {p["title"]: p["type"] for p in data["panels"]} == PANELS
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_every_query_names_an_exported_metric() -> None:
    data = load()
    exprs = [t["expr"] for p in data["panels"] for t in p["targets"]]
    exprs.append(data["templating"]["list"][1]["query"]["query"])
    for expr in exprs:
        names = metric_names(expr.replace("label_values(", "(").replace(", topic)", ")"))
        assert names, expr
        assert names <= METRIC_NAMES, f"{expr}: {names - METRIC_NAMES} not exported"


def test_the_severity_bands_are_the_runbooks() -> None:
    bands = SeverityBands()
    panels = {p["title"]: p for p in load()["panels"]}

    def steps(title: str) -> list[float | None]:
        defaults = panels[title]["fieldConfig"]["defaults"]
        return [s["value"] for s in defaults["thresholds"]["steps"]]

    per_min = [None, bands.warning_from_per_10min / 10, bands.critical_above_per_min]
    assert steps("Ingestion rate (records/min)") == per_min
    assert steps("Ingestion vs replay (records/min)") == per_min
    assert steps("DLQ count (backlog)") == [None, bands.size_review_above]
    assert steps("DLQ size over time") == [None, bands.size_review_above]
