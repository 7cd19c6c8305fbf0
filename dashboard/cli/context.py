"""What every command needs: the settings (from --config and the environment), and how
time options are read."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from dashboard.settings import Settings, load_settings
from dashboard.text.moments import EXAMPLES, NotAMoment, parse_moment


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def moment(*, as_upper_bound: bool = False) -> Callable[[str], datetime]:
    """An argparse type for a time option: ISO dates and times or a time ago (`2h`, `7d`);
    anything else is a usage error that says what would be read."""

    def parse(text: str) -> datetime:
        try:
            return parse_moment(text, datetime.now(UTC), as_upper_bound=as_upper_bound)
        except NotAMoment as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


MOMENT_HELP: Final = f"ISO date or time (UTC unless it says), or a time ago: {EXAMPLES}"
