"""Credential masking for URLs and for text that contains URLs.

Presigned download URLs carry their credentials in the query string (S3's X-Amz-Signature,
Azure's sig, ...). Anything shown or exported masks them unless the viewer asks otherwise.
The masking works on the raw text, without a URL parser, so a URL that does not parse is
still masked.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# Query parameter names (compared case-insensitively) whose value is a credential or part of
# a signature; the format spec names the first ones.
SENSITIVE_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "sig",
        "se",
        "sv",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
        "SharedAccessSignature",
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "signature",
        "Signature",
        "X-Goog-Signature",
        "X-Goog-Credential",
        "GoogleAccessId",
        "Policy",
        "Key-Pair-Id",
        "AWSAccessKeyId",
        "code",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "auth",
        "jwt",
    )
)

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^@/?#]*)@")
_PARAM = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")


def is_sensitive(name: str) -> bool:
    lowered = unquote(name).strip().lower()
    return lowered in SENSITIVE_PARAMETERS or lowered.startswith("x-amz-security")


def mask_url(url: str) -> str:
    """`url` with credential values replaced by ***; names and other values kept."""
    masked = _USERINFO.sub(_mask_userinfo, url)
    return _PARAM.sub(_mask_param, masked)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, _, password = match.group(2).partition(":")
    return f"{match.group(1)}{user}:{MASK}@" if password else match.group(0)


def _mask_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if value and is_sensitive(name):
        return f"{separator}{name}={MASK}"
    return match.group(0)


def mask_text(text: str) -> str:
    """Mask every URL inside free text (error messages, raw values, previews)."""
    masked = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    # JSON spells "&" inside strings as-is but a URL can also appear without a scheme in a
    # query-only fragment; mask bare "SharedAccessSignature=..." style pairs as well.
    return _BARE_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", masked)


_BARE_SECRET = re.compile(
    r"\b(SharedAccessSignature|X-Amz-Signature|X-Amz-Credential)=[^&\s\"']+", re.IGNORECASE
)


def shorten(text: str, width: int) -> str:
    """Cut `text` to `width` characters, ending with ... when cut (as the runbook's list)."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."
