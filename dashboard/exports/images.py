"""Plotly figures as PNG images, rendered by plotly's image export (kaleido) on the machine's
Chromium, for the exports (self-contained HTML, Markdown with images beside it).

One headless Chromium is started on first use and kept for the process: the first image
takes a couple of seconds, the next ones a fraction of one.
"""

from __future__ import annotations

import os
import shutil
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import plotly.graph_objects as go

CHROMIUM_CANDIDATES: Final = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)
_lock = threading.Lock()
_started = False


class ImagesUnavailable(Exception):
    """No Chromium to render charts with; the message says what to install."""


def chromium_path() -> str | None:
    configured = os.environ.get("BROWSER_PATH")
    if configured and Path(configured).exists():
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def png(figures: Sequence[go.Figure], width: int, height: int, scale: float = 1.0) -> list[bytes]:
    """Each figure as a PNG of `width` x `height` CSS pixels times `scale`."""
    global _started
    browser = chromium_path()
    if browser is None:
        raise ImagesUnavailable(
            "charts need Chromium to be drawn as images "
            "(apt-get install chromium, or set BROWSER_PATH)"
        )
    os.environ.setdefault("BROWSER_PATH", browser)
    try:
        import kaleido
    except ImportError as exc:  # an install without the dependency: say so, keep the export
        raise ImagesUnavailable("charts need the kaleido package (pip install kaleido)") from exc

    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plotly warns that a running server ignores kopts
        if not _started:
            kaleido.start_sync_server(silence_warnings=True)
            _started = True
        return [
            fig.to_image(format="png", width=width, height=height, scale=scale) for fig in figures
        ]


def named_pngs(
    figures: Mapping[str, go.Figure], width: int, height: int, scale: float = 2.0
) -> dict[str, bytes]:
    """Each named figure as a PNG under the same name (the exports refer to them by name)."""
    return dict(zip(figures, png(list(figures.values()), width, height, scale), strict=True))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
