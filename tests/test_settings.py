"""Settings: defaults from the runbook, a TOML file, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.settings import SettingsError, load_settings
from tests.conftest import REPO, run_cli


def test_defaults_are_the_runbook_values(tmp_path: Path) -> None:
    s = load_settings(environ={}, cwd=tmp_path)
    assert s.dlq_topic == "xact.downloads.dlq"
    assert s.pending_topic == "xact.downloads.pending"
    assert s.review_group == "xact-dlq-review"
    assert s.results_topic is None
    assert (s.severity.warning_from_per_10min, s.severity.warning_to_per_10min) == (5, 10)
    assert s.severity.critical_above_per_min == 10
    assert s.severity.size_review_above == 1000
    rules = {a.name: (a.kind, a.threshold, a.for_minutes) for a in s.alerts}
    assert rules == {
        "KafkaDLQGrowthRapid": ("rate_per_min", 10, 5),
        "KafkaDLQGrowthWarning": ("rate_per_min", 5, 10),
        "KafkaDLQSizeHigh": ("size", 1000, 30),
    }
    assert s.escalation.growth_above_per_min == 50
    assert s.escalation.same_error_above == 100


def test_toml_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "dlq.toml"
    config.write_text(
        'bootstrap_servers = "broker-1:9093"\n'
        'dlq_topic = "from.file"\n'
        '[kafka]\n"security.protocol" = "SASL_SSL"\n"sasl.mechanism" = "PLAIN"\n'
        "[severity]\ncritical_above_per_min = 20\n"
    )
    s = load_settings(
        environ={
            "DLQ_TOPIC": "from.env",
            "DLQ_KAFKA_SASL_PASSWORD": "pw",
            "DLQ_RESULTS_TOPIC": "xact.downloads.results",
        },
        cwd=tmp_path,
    )
    assert s.bootstrap_servers == "broker-1:9093"
    assert s.dlq_topic == "from.env"  # the environment wins over the file
    assert s.results_topic == "xact.downloads.results"
    assert s.severity.critical_above_per_min == 20
    assert s.severity.warning_from_per_10min == 5  # untouched defaults stay
    assert s.kafka == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.password": "pw",
    }


def test_explicit_config_path(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('db = "/data/snap.duckdb"\naudit_log = "/data/audit.jsonl"\n')
    s = load_settings(config, environ={}, cwd=tmp_path)
    assert s.db == Path("/data/snap.duckdb")
    assert s.audit_log == Path("/data/audit.jsonl")


def test_dlq_config_names_the_file_when_no_path_is_given(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text('db = "from-cwd.duckdb"\n')
    named = tmp_path / "demo.toml"
    named.write_text('db = "from-env.duckdb"\n')
    env = {"DLQ_CONFIG": str(named)}
    assert load_settings(environ=env, cwd=tmp_path).db == Path("from-env.duckdb")
    # --config still wins, and a DLQ_CONFIG naming nothing is an error, not the default.
    assert load_settings(tmp_path / "dlq.toml", environ=env, cwd=tmp_path).db == Path(
        "from-cwd.duckdb"
    )
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={"DLQ_CONFIG": str(tmp_path / "none.toml")}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            "[severity]\ncritical_above_per_min = -1\n",
            {},
            "setting severity.critical_above_per_min (from",
        ),
        ("dlq_topc = 'typo'\n", {}, "setting dlq_topc (from"),
        (
            "",
            {"DLQ_DB_LOCK_TIMEOUT": "soon"},
            "setting db_lock_timeout_seconds (from $DLQ_DB_LOCK_TIMEOUT)",
        ),
        ("", {"DLQ_TOPIC": ""}, "setting dlq_topic (from $DLQ_TOPIC)"),
        ("[ingest]\nbatch_records = 0\n", {}, "setting ingest.batch_records"),
        # DuckDB's row groups are whole vectors of 2,048 rows.
        (
            "[ingest]\ntransaction_records = 3000\n",
            {},
            "setting ingest.transaction_records (from",
        ),
    ],
)
def test_a_bad_setting_is_named_with_its_source(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "dlq.toml").write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=env, cwd=tmp_path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text("[severity]\ncritical_per_min = 3\n")
    with pytest.raises(SettingsError, match=r"severity\.critical_per_min .*unknown setting"):
        load_settings(environ={}, cwd=tmp_path)


def test_every_bad_setting_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text(
        "[severity]\nsize_review_above = 'lots'\ncritical_per_min = 3\n"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    text = str(caught.value)
    assert text.startswith("2 problems: setting severity.")
    assert "severity.size_review_above (from " in text
    assert "severity.critical_per_min (from " in text and "unknown setting" in text
    assert "\n" not in text


def test_a_value_no_member_of_a_union_takes_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text('[kafka]\n"socket.timeout.ms" = [1, 2]\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    text = str(caught.value)
    assert text.startswith("setting kafka.socket.timeout.ms (from ")
    assert text.endswith(": [1, 2] is not a string, a whole number, a number or a boolean")


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(SettingsError, match="is a folder, not a file"):
        load_settings(tmp_path, environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("dlq_topic = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_the_cli_stops_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "dlq.toml").write_text("[severity]\nsize_review_above = 'lots'\n")
    done = run_cli(["list", "--no-refresh"], env={"PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dlq: bad setting: setting severity.size_review_above (from ")


@pytest.mark.parametrize("name", ["all", "ALL"])
def test_a_dlq_cannot_be_called_all_the_selectors_every_dlq(tmp_path: Path, name: str) -> None:
    (tmp_path / "dlq.toml").write_text(
        f'[[dlqs]]\nname = "xact"\ntopic = "xact.downloads.dlq"\nreview_group = "g1"\n\n'
        f'[[dlqs]]\nname = "{name}"\ntopic = "workers.dlq"\nformat = "envelope"\n'
        f'review_group = "g2"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith("setting dlqs.1.name (from ")
    assert f"a DLQ cannot be called '{name}'" in message
    assert "?dlq=all" in message
