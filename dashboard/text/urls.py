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

# Every pattern here costs time linear in the text (a record can hold megabytes of text):
# a URL's scheme may only start where a run of scheme characters starts (the lookbehind), and
# the run's leading non-letters and its scheme are read possessively, so no run is rescanned
# from each of its characters; a parameter name cannot hold "?", so no name is rescanned from
# each "?" before it.
_URL_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9+.-])([0-9+.-]*+)([A-Za-z][A-Za-z0-9+.-]*+://[^\s\"'<>\\]+)"
)
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^@/?#]*)@")
_PARAM = re.compile(r"([?&;])([^=&;#?]*)=([^&;#]*)")


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
    masked = _URL_IN_TEXT.sub(lambda m: m.group(1) + mask_url(m.group(2)), text)
    # A URL can also sit URL-encoded inside another one's parameter (a redirect, a proxy),
    # once or twice ("%3D", "%253D"), or appear without a scheme in a query-only fragment or
    # a JSON string that escapes its slashes: mask such pairs wherever they are.
    masked = _ENCODED_PAIR.sub(_mask_pair, masked)
    masked = _SEPARATED_PAIR.sub(_mask_pair, masked)
    return _BARE_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", masked)


def _mask_pair(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{MASK}"


_BARE_SECRET = re.compile(
    r"\b(SharedAccessSignature|X-Amz-Signature|X-Amz-Credential)=[^&\s\"']+", re.IGNORECASE
)
# Percent-encoding applied up to four times: "%3D", "%253D", "%25253D", ...
_ENCODINGS = ["%" + "25" * depth for depth in range(4)]
_NAMES = "|".join(re.escape(n) for n in sorted(SENSITIVE_PARAMETERS, key=len, reverse=True))
_ENCODED_EQUALS = r"%(?:25){0,3}3D"
# A value ends at a separator, plain or encoded; each character is read once.
_VALUE = r"(?:[^%&;#\s\"'<>\\]|%(?!(?:25){0,3}(?:26|3B)))+"
_AFTER_SEPARATOR = "|".join(
    f"(?<={re.escape(prefix + code)})" for prefix in _ENCODINGS for code in ("3F", "26", "3B")
)
# name%3Dvalue, after an encoded or plain separator or at the start of a word.
_ENCODED_PAIR = re.compile(
    rf"(?:{_AFTER_SEPARATOR}|(?<![A-Za-z0-9_-]))({_NAMES})({_ENCODED_EQUALS})({_VALUE})",
    re.IGNORECASE,
)
# name=value after "?", "&", ";" or an encoded separator, outside any URL the first pass saw.
_SEPARATED_PAIR = re.compile(
    rf"(?:{_AFTER_SEPARATOR}|(?<=[?&;]))({_NAMES})(=)({_VALUE})", re.IGNORECASE
)


def shorten(text: str, width: int) -> str:
    """Cut `text` to `width` characters, ending with ... when cut (as the runbook's list)."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."
