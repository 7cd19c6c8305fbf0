"""Several DLQs in the settings: `[[dlqs]]`, today's single-DLQ settings as a list of one,
and configurations that cannot work refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.settings import Settings, SettingsError, load_settings

THREE_DLQS = """
bootstrap_servers = "broker:9092"

[[dlqs]]
name = "xact-downloads"
topic = "verisk-dlq"
format = "xact-download"
replay_target = "verisk-pending"
review_group = "xact-dlq-review"

[[dlqs]]
name = "claimx-downloads"
topic = "claimx-dlq"
format = "claimx-download"
review_group = "claimx-dlq-review"
[dlqs.severity]
critical_above_per_min = 40

[[dlqs]]
name = "enrichment-worker"
topic = "claimx.enrichment.pending.dlq"
format = "envelope"
replay_target = "origin"
review_group = "generic-dlq-review"
[[dlqs.alerts]]
name = "KafkaDLQSizeHigh"
kind = "size"
threshold = 50
for_minutes = 0
"""


def test_old_settings_are_a_list_of_one(tmp_path: Path) -> None:
    s = load_settings(
        environ={
            "DLQ_TOPIC": "team.downloads.dlq",
            "DLQ_PENDING_TOPIC": "team.downloads.pending",
            "DLQ_REVIEW_GROUP": "team-review",
        },
        cwd=tmp_path,
    )
    (only,) = s.dlq_list
    assert (only.name, only.topic, only.format) == (
        "team-downloads",
        "team.downloads.dlq",
        "xact-download",
    )
    assert (only.replay_target, only.review_group) == ("team.downloads.pending", "team-review")
    assert s.dlq() == s.dlq("team-downloads") == only
    narrowed = s.for_dlq()
    assert (narrowed.dlq_topic, narrowed.pending_topic, narrowed.review_group) == (
        "team.downloads.dlq",
        "team.downloads.pending",
        "team-review",
    )
    assert load_settings(environ={}, cwd=tmp_path).dlq().name == "xact-downloads"


def test_three_dlqs_from_toml(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text(THREE_DLQS)
    s = load_settings(environ={}, cwd=tmp_path)
    assert [(d.name, d.format, d.replay_target) for d in s.dlq_list] == [
        ("xact-downloads", "xact-download", "verisk-pending"),
        ("claimx-downloads", "claimx-download", "claimx.downloads.pending"),  # the default
        ("enrichment-worker", "envelope", "origin"),
    ]
    # The first is the default, and code written for one DLQ reads it.
    assert (s.dlq_topic, s.pending_topic, s.review_group) == (
        "verisk-dlq",
        "verisk-pending",
        "xact-dlq-review",
    )
    claimx = s.for_dlq("claimx-downloads")
    assert (claimx.dlq_topic, claimx.pending_topic, claimx.review_group) == (
        "claimx-dlq",
        "claimx.downloads.pending",
        "claimx-dlq-review",
    )
    assert claimx.severity.critical_above_per_min == 40
    assert claimx.severity.warning_from_per_10min == 5  # the rest stays the runbook's
    assert claimx.alerts == s.alerts
    envelope = s.for_dlq("enrichment-worker")
    assert [a.threshold for a in envelope.alerts] == [50]
    assert envelope.severity == s.severity
    assert s.dlq_by_topic("claimx-dlq") == s.dlq("claimx-downloads")
    with pytest.raises(SettingsError, match=r"no DLQ named 'nope' \(configured: xact-downloads, "):
        s.dlq("nope")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nformat = "claimx"\nreview_group = "g"\n',
            {},
            "setting dlqs.0.format (from",
        ),
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nformat = "envelope"\n'
            'replay_target = "a.pending"\nreview_group = "g"\n',
            {},
            "replays to its records' original topic",
        ),
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nreplay_target = "origin"\nreview_group = "g"\n',
            {},
            "a xact-download DLQ has no origin topic",
        ),
        ('[[dlqs]]\nname = "a"\ntopic = "a.dlq"\n', {}, "setting dlqs.0.review_group"),
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nreview_group = "g"\n'
            '[[dlqs]]\nname = "a"\ntopic = "b.dlq"\nreview_group = "g"\n',
            {},
            "two DLQs have the name 'a'",
        ),
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nreview_group = "g"\n',
            {"DLQ_TOPIC": "other.dlq"},
            "dlq_topic cannot be set beside [[dlqs]]",
        ),
        (
            '[[dlqs]]\nname = "a b"\ntopic = "a.dlq"\nreview_group = "g"\n',
            {},
            "setting dlqs.0.name",
        ),
        (
            '[[dlqs]]\nname = "a"\ntopic = "a.dlq"\nreview_group = "g"\ncolour = "red"\n',
            {},
            "setting dlqs.0.colour (from",
        ),
    ],
)
def test_bad_dlq_configurations_are_refused_with_one_line(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "dlq.toml").write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=env, cwd=tmp_path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_dlq_writes_to_one_audit_topic_the_whole_chain_goes_to() -> None:
    settings = Settings.model_validate(
        {
            "dlqs": [
                {"name": "xact", "topic": "xact.downloads.dlq", "review_group": "g1"},
                {"name": "workers", "topic": "workers.dlq", "review_group": "g2"},
            ]
        }
    )
    names = {settings.for_dlq(d.name).audit_topic_name for d in settings.dlq_list}
    assert names == {"xact.downloads.dlq.audit"}
