"""Against a secured cluster (SASL_SSL, PLAIN users, StandardAuthorizer ACLs), as in
production: the tool works as a user granted exactly what it needs; a user who may not write
the pending topic is refused in words and audited; wrong credentials fail at once in one
line; and no password shows anywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AclOperation, ResourceType

from dashboard.adapters.db import Database
from dashboard.adapters.kafka import KafkaGateway
from dashboard.settings import Settings
from tests.conftest import REPO, SettingsFactory, run_cli, settings_env
from tests.integration.actions_support import read_topic
from tests.kafka_helpers import produce_pipeline
from tests.secured_cluster import (
    NO_WRITE_PASSWORD,
    NO_WRITE_USER,
    TOOL_PASSWORD,
    TOOL_USER,
    WRONG_PASSWORD,
    SecuredCluster,
    allowed,
    grant,
    tool_acls,
)

pytestmark = pytest.mark.kafka

TOPIC = ResourceType.TOPIC

# A client key password is a secret too, even where the listener needs no client key.
KEY_PASSWORD = "KeyPw-0c4e2b-NEVER-SHOWN"
SECRETS = (TOOL_PASSWORD, NO_WRITE_PASSWORD, WRONG_PASSWORD, KEY_PASSWORD)


def _cli(settings: Settings, args: list[str], cwd: Path) -> tuple[int, str, str, float]:
    env = {**settings_env(settings), "DLQ_OPERATOR": "ana", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    done = run_cli(args, env, cwd)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def _dlq(
    cluster: SecuredCluster, make_settings: SettingsFactory, records: int, *, write_pending: bool
) -> tuple[Settings, KafkaGateway]:
    """A DLQ with `records` records and an empty pending topic, made by the admin; ACLs for
    the tool's user (`write_pending` or not). Returns the admin's settings and gateway."""
    admin = make_settings(
        bootstrap_servers=cluster.bootstrap, kafka=cluster.listener.admin_config()
    )
    gateway = KafkaGateway(admin)
    produce_pipeline(gateway, admin.dlq_topic, records, partitions=1)
    gateway.create_topic(admin.pending_topic, 1)
    user = TOOL_USER if write_pending else NO_WRITE_USER
    grant(cluster, tool_acls(admin, user, write_pending=write_pending))
    return admin, gateway


def test_a_user_with_only_the_tools_acls_ingests_lists_replays_and_resolves(
    secured_cluster: SecuredCluster, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    admin, gateway = _dlq(secured_cluster, make_settings, 4, write_pending=True)
    tool = make_settings(
        bootstrap_servers=secured_cluster.bootstrap, kafka=secured_cluster.kafka(TOOL_USER)
    )
    topic = tool.dlq_topic

    code, out, err, _ = _cli(tool, ["ingest"], tmp_path)
    assert code == 0, err
    code, out, err, _ = _cli(tool, ["list", "--format", "json"], tmp_path)
    assert code == 0, err
    assert "could not" not in err  # the refresh read Kafka as this user
    assert json.loads(out)["counts"]["open"] == 4

    code, out, err, _ = _cli(
        tool, ["replay", f"{topic}:0:0", f"{topic}:0:1", "--reason", "INC-7", "--yes"], tmp_path
    )
    assert code == 0, out + err
    replayed = read_topic(admin, admin.pending_topic, expect=2)
    assert sorted(json.loads(m.value())["trace_id"] for m in replayed) == ["evt-0", "evt-1"]

    code, out, err, _ = _cli(
        tool, ["resolve", f"{topic}:0:0", f"{topic}:0:1", "--reason", "done", "--yes"], tmp_path
    )
    assert code == 0, out + err
    assert gateway.committed_offsets(admin.review_group, topic, [0]) == {0: 2}


@pytest.mark.parametrize(
    ("writes_elsewhere", "refusal"),
    [
        # No WRITE anywhere: the idempotent producer gets no producer id (a fatal error).
        (False, "(Failed to acquire idempotence PID from broker"),
        # WRITE on another topic (the audit topic): the pending topic's write is refused.
        (True, "(Broker: Topic authorization failed)"),
    ],
)
def test_a_user_who_may_not_write_the_pending_topic_is_refused_and_audited(
    secured_cluster: SecuredCluster,
    make_settings: SettingsFactory,
    tmp_path: Path,
    writes_elsewhere: bool,
    refusal: str,
) -> None:
    admin, _ = _dlq(secured_cluster, make_settings, 2, write_pending=False)
    if writes_elsewhere:
        grant(
            secured_cluster,
            [allowed(NO_WRITE_USER, TOPIC, f"{admin.dlq_topic}.audit", AclOperation.WRITE)],
        )
    user = make_settings(
        bootstrap_servers=secured_cluster.bootstrap, kafka=secured_cluster.kafka(NO_WRITE_USER)
    )
    code, _, err, _ = _cli(user, ["ingest"], tmp_path)  # reading is allowed
    assert code == 0, err

    ref = f"{user.dlq_topic}:0:0"
    code, out, err, took = _cli(user, ["replay", ref, "--reason", "INC-8", "--yes"], tmp_path)
    assert code == 1
    assert "the Kafka user is not authorized " + refusal in out + err
    assert "Traceback" not in err and "KafkaError{" not in err
    assert took < 20  # refused by the broker, not timed out
    assert read_topic(admin, admin.pending_topic, expect=0, timeout=3) == []

    with Database(user.db).read() as con:
        rows = con.execute(
            "SELECT action, result, error FROM audit_log WHERE action = 'replay'"
        ).fetchall()
    assert len(rows) == 1
    action, result, error = rows[0]
    assert (action, result) == ("replay", "failure")
    assert "not authorized" in error
    logged = [json.loads(line) for line in user.audit_log.read_text().splitlines()]
    assert [(e["action"], e["result"]) for e in logged if e["action"] == "replay"] == [
        ("replay", "failure")
    ]


def test_wrong_credentials_fail_at_once_in_one_line_and_no_secret_shows_anywhere(
    secured_cluster: SecuredCluster, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    # A snapshot made by a user with read access, so list/report/replay have records to show.
    _dlq(secured_cluster, make_settings, 2, write_pending=False)
    allowed = make_settings(
        bootstrap_servers=secured_cluster.bootstrap,
        kafka={**secured_cluster.kafka(NO_WRITE_USER), "ssl.key.password": KEY_PASSWORD},
    )
    wrong = make_settings(
        bootstrap_servers=secured_cluster.bootstrap,
        kafka={
            **secured_cluster.kafka(TOOL_USER, WRONG_PASSWORD),
            "ssl.key.password": KEY_PASSWORD,
        },
    )
    outputs: list[str] = []

    def cli(settings: Settings, *args: str) -> tuple[int, str, float]:
        """Exit code, stderr only for ingest (stdout then stderr otherwise), seconds."""
        code, out, err, took = _cli(settings, list(args), tmp_path)
        outputs.extend([out, err])
        return code, err if args[0] == "ingest" else out + err, took

    assert cli(allowed, "ingest")[0] == 0
    ref = f"{allowed.dlq_topic}:0:0"
    cli(allowed, "replay", ref, "--reason", "INC-9", "--yes")  # refused by the ACLs

    code, err, took = cli(wrong, "ingest")
    assert code == 1
    assert err.strip().splitlines() == [
        f"dlq: Kafka at {secured_cluster.bootstrap} refused the credentials: "
        "authentication failed (SASL authentication error: Authentication failed: "
        "Invalid username or password)"
    ]
    assert took < 8  # not the metadata timeout, nor a stall
    code, said, took = cli(wrong, "replay", ref, "--reason", "INC-9", "--yes", "--no-refresh")
    assert code == 1
    assert "refused the credentials: authentication failed" in said
    assert took < 8
    cli(wrong, "-v", "list")  # with the Kafka client's own log lines
    cli(wrong, "view", ref)
    cli(wrong, "audit", "list", "--format", "json")
    for form in ("md", "json", "csv", "html"):
        report = tmp_path / f"report.{form}"
        args = ["report", "--format", form, "--output", str(report)]
        code, err, _ = cli(wrong, *args, *(["--no-charts"] if form == "html" else []))
        assert code == 0, err
        outputs.append(report.read_text())

    outputs.append(allowed.audit_log.read_text())
    with Database(allowed.db).read() as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            outputs.append(repr(con.execute(f'SELECT * FROM "{table}"').fetchall()))
    everything = "\n".join(outputs)
    assert "refused the credentials" in everything  # the failing paths did run
    assert "not authorized" in everything
    for secret in SECRETS:
        assert secret not in everything
