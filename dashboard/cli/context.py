"""What every command needs: the settings (from --config and the environment), and how
time options are read."""

from __future__ import annotations

import argparse
import contextlib
from typing import Final

from dashboard.adapters.db import Database, SnapshotMissing
from dashboard.adapters.kafka.properties import check_properties
from dashboard.settings import Settings, load_settings
from dashboard.text.moments import EXAMPLES
from dashboard.triage.dlq_summary import with_snapshot_dlqs


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, narrowed to the DLQ `--dlq` names (the first configured by default);
    `[kafka]` properties librdkafka does not know are refused here, naming them."""
    return all_dlqs_settings(args).for_dlq(getattr(args, "dlq", None))


def all_dlqs_settings(args: argparse.Namespace) -> Settings:
    """The settings as loaded, for what covers every DLQ (metrics, alert rules): narrowed
    ones carry the chosen DLQ's thresholds at the top level, where the others read theirs."""
    settings = load_settings(getattr(args, "config", None))
    check_properties(settings.kafka)
    if settings.discover:  # the DLQs `discover` found, as the snapshot holds them
        with contextlib.suppress(SnapshotMissing), Database.of(settings).read() as con:
            settings = with_snapshot_dlqs(con, settings)
    return settings


MOMENT_HELP: Final = f"ISO date or time (UTC unless it says), or a time ago: {EXAMPLES}"
