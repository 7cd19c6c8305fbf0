"""`dlq demo` on the real broker: three DLQs filled, each parsed by the ingest into its
shape's columns (media_id/project_id for ClaimX, the original topic/partition/offset and
the error for the envelope)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools.demo_formats import ENVELOPE_ORIGINS
from dashboard.settings import Settings, load_settings
from ingest.job import ingest_once
from tests.conftest import REPO, run_cli, settings_env

pytestmark = pytest.mark.kafka


def three_dlq_config(base: Settings, path: Path) -> Path:
    """scripts/demo.toml with the test's own topics and review groups."""
    text = (REPO / "scripts" / "demo.toml").read_text()
    for topic in ("xact.downloads", "claimx.downloads", "pipeline.workers"):
        text = text.replace(f'"{topic}.', f'"{base.dlq_topic}.{topic}.')
    text = text.replace('review_group = "', f'review_group = "{base.review_group}-')
    path.write_text(text)
    return path


def test_the_demo_fills_three_dlqs_each_parsed_into_its_columns(
    kafka_settings: Settings, gateway: KafkaGateway, tmp_path: Path
) -> None:
    config = three_dlq_config(kafka_settings, tmp_path / "demo.toml")
    env = settings_env(kafka_settings)
    for single in ("DLQ_TOPIC", "DLQ_PENDING_TOPIC", "DLQ_REVIEW_GROUP"):
        del env[single]
    env.update(DLQ_CONFIG=str(config), PYTHONPATH=str(REPO))
    args = ["demo", "--count", "150", "--days", "3", "--seed", "5", "--partitions", "2"]
    done = run_cli(args, env, tmp_path)
    assert done.returncode == 0, done.stderr
    settings = load_settings(environ=env)
    xact, claimx, workers = settings.dlq_list
    for dlq in settings.dlq_list:
        assert dlq.topic in done.stderr
    # What their replays need exists: the pending topics and the envelope's origins.
    for topic in (xact.replay_target, claimx.replay_target, *ENVELOPE_ORIGINS):
        assert gateway.topic_exists(topic), topic

    ingest_once(settings)
    with Database.of(settings).read() as con:
        counts = dict(con.execute("SELECT topic, count(*) FROM records GROUP BY topic").fetchall())
        assert counts == {xact.topic: 150, claimx.topic: 20, workers.topic: 15}
        claimx_rows = con.execute(
            "SELECT media_id, project_id, attachment_url, error_category, trace_id, "
            "json_extract_string(decode(value), '$.media_id'), "
            "json_extract_string(decode(value), '$.project_id') "
            "FROM records WHERE topic = ? AND parse_error IS NULL",
            [claimx.topic],
        ).fetchall()
        envelope_rows = con.execute(
            "SELECT origin_topic, origin_partition, origin_offset, exception_class, "
            "error_message, consumer_group, worker, error_category, "
            "json_extract_string(decode(value), '$.original_offset')::BIGINT "
            "FROM records WHERE topic = ? AND parse_error IS NULL",
            [workers.topic],
        ).fetchall()
        formats = dict(con.execute("SELECT DISTINCT topic, dlq_format FROM records").fetchall())
    assert formats == {xact.topic: "xact-download", claimx.topic: "claimx-download",
                       workers.topic: "envelope"}  # fmt: skip
    assert len(claimx_rows) >= 19  # a poison record or so aside
    for media, project, url, category, trace, value_media, value_project in claimx_rows:
        assert (media, project) == (value_media, value_project)
        assert media and project and trace
        assert url.startswith("https://claimx-media") and "X-Amz-Signature=" in url
        assert category in ("transient", "permanent", "auth", "circuit_open")
    assert len(envelope_rows) >= 14
    for topic, partition, offset, exc, message, group, worker, category, raw in envelope_rows:
        assert topic in ENVELOPE_ORIGINS
        assert 0 <= partition < 6 and offset == raw
        assert exc in ("ValidationError", "JSONDecodeError", "TimeoutError")
        assert message and group.endswith("-group") and worker
        assert category in ("transient", "permanent")

    # Run again with --if-empty: every topic holds records, nothing is added.
    again = run_cli([*args, "--if-empty"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already holds") == 3
