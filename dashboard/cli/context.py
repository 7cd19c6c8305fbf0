"""What every command needs: the settings (from --config and the environment), and how
time options are read."""

from __future__ import annotations

import argparse
from typing import Final

from dashboard.adapters.kafka.properties import check_properties
from dashboard.settings import Settings, load_settings
from dashboard.text.moments import EXAMPLES


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, narrowed to the DLQ `--dlq` names (the first configured by default);
    `[kafka]` properties librdkafka does not know are refused here, naming them."""
    return all_dlqs_settings(args).for_dlq(getattr(args, "dlq", None))


def all_dlqs_settings(args: argparse.Namespace) -> Settings:
    """The settings as loaded, for what covers every DLQ (metrics, alert rules): narrowed
    ones carry the chosen DLQ's thresholds at the top level, where the others read theirs."""
    settings = load_settings(getattr(args, "config", None))
    check_properties(settings.kafka)
    return settings


MOMENT_HELP: Final = f"ISO date or time (UTC unless it says), or a time ago: {EXAMPLES}"
