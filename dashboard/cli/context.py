"""What every command needs: the settings (from --config and the environment)."""

from __future__ import annotations

import argparse

from dashboard.settings import Settings, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))
