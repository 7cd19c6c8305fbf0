"""`dlq demo`'s several DLQs: which it fills, how many records each gets, their bursts, and
the demo's configuration naming the same DLQs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from dashboard.devtools import demo_dlqs
from dashboard.settings import Settings, load_settings
from tests.conftest import REPO

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_demo_config_names_the_dlqs_the_demo_fills() -> None:
    configured = load_settings(REPO / "scripts" / "demo.toml", environ={})
    assert demo_dlqs.demo_dlqs(configured) == list(configured.dlq_list)
    # Today's single-DLQ settings: that DLQ plus the same two.
    assert demo_dlqs.demo_dlqs(Settings()) == list(configured.dlq_list)
    assert [d.format for d in configured.dlq_list] == [
        "xact-download",
        "claimx-download",
        "envelope",
    ]


def test_configured_dlqs_without_demo_records_are_not_filled() -> None:
    settings = Settings.model_validate(
        {
            "dlqs": [
                {"name": "a", "topic": "a.dlq", "review_group": "g1"},
                {"name": "f", "topic": "f.dlq", "format": "any", "review_group": "g2"},
            ]
        }
    )
    assert [d.name for d in demo_dlqs.demo_dlqs(settings)] == ["a"]


def test_the_other_dlqs_get_a_few_hundred_records() -> None:
    assert demo_dlqs.share("xact-download", 3000) == 3000
    assert demo_dlqs.share("claimx-download", 3000) == 400
    assert demo_dlqs.share("envelope", 3000) == 300
    assert demo_dlqs.share("envelope", 5) == 1


def test_each_dlq_has_its_burst() -> None:
    claimx = list(demo_dlqs.with_bursts("claimx-download", 400, 14, NOW, seed=3))
    assert len(claimx) == 400
    stamps = [r.timestamp_ms for r in claimx]
    assert stamps == sorted(stamps)
    recent = [
        r for r in claimx if r.timestamp_ms >= (NOW - timedelta(minutes=40)).timestamp() * 1000
    ]
    # A quarter of the records within the last 40 minutes, nearly all refused by one region.
    assert len(recent) >= 100
    values = [json.loads(r.value) for r in recent if r.value and r.value.startswith(b"{")]
    kinds = Counter((v.get("error_category"), v["download_url"].split("/")[2]) for v in values)
    (category, host), n = kinds.most_common(1)[0]
    assert (category, host) == ("auth", "claimx-media-eu.s3.eu-west-1.amazonaws.com")
    assert n >= 100
    assert len({r.key for r in claimx}) > 390  # the burst repeats no background media ids

    envelopes = list(demo_dlqs.with_bursts("envelope", 300, 14, NOW, seed=3))
    start = (NOW - timedelta(hours=3)).timestamp() * 1000
    window = [r for r in envelopes if start <= r.timestamp_ms <= start + 15 * 60_000]
    html = [r for r in window if r.pattern == "envelope-JSONDecodeError"]
    assert len(html) >= 75
