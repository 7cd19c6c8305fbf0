"""Who is looking, and whether they may act.

In order: the OIDC login (`st.user`, when `.streamlit/secrets.toml` configures one); a
header set by a trusted proxy (`actions.proxy_user_header`, believed only on a request that
comes from one of `actions.trusted_proxies`: any browser can send the header); the local
operator name from the settings (`DLQ_OPERATOR`). Without an identity everything is
read-only, and `actions.enabled = false` turns every action off for everyone.
`actions.operators`, when set, lists who may act; the rest may only look.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.settings import Settings, operator_name


@dataclass(frozen=True)
class Identity:
    name: str | None
    source: str  # oidc, proxy-header, settings, none
    can_act: bool
    why_not: str | None = None  # shown to a viewer who cannot act

    @property
    def label(self) -> str:
        return self.name or "anonymous"


def resolve(
    settings: Settings,
    oidc_user: str | None = None,
    headers: Mapping[str, str] | None = None,
    client_address: str | None = None,
) -> Identity:
    """Who is looking. `client_address` is the address the request came from (the proxy's,
    when there is one)."""
    name, source, refused = None, "none", None
    header = settings.actions.proxy_user_header
    if oidc_user:
        name, source, refused = _named(oidc_user, "oidc")
    elif header and headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(header.lower(), "")
        if value and not from_trusted_proxy(settings, client_address):
            refused = (
                f"Read-only: the {header} header is ignored, as the request did not come "
                f"from a trusted proxy (actions.trusted_proxies)."
            )
        elif value:
            name, source, refused = _named(value, "proxy-header")
    if name is None and refused is None and settings.operator:
        name, source = settings.operator, "settings"
    if refused is not None:
        return Identity(None, "none", False, refused)
    return Identity(name, source, *_permission(settings, name))


def _named(value: str, source: str) -> tuple[str | None, str, str | None]:
    try:
        return operator_name(value), source, None
    except ValueError as exc:
        return None, "none", f"Read-only: the {source} name is refused ({exc})."


def from_trusted_proxy(settings: Settings, client_address: str | None) -> bool:
    if client_address is None:
        return False
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False)
        for net in settings.actions.trusted_proxies
    )


def _permission(settings: Settings, name: str | None) -> tuple[bool, str | None]:
    if not settings.actions.enabled:
        return False, "Actions are turned off (actions.enabled = false)."
    if name is None:
        return False, (
            "Read-only: no operator identity. Log in (OIDC), come through the "
            "trusted proxy, or set DLQ_OPERATOR."
        )
    allowed = settings.actions.operators
    if allowed and name not in allowed:
        return False, f"Read-only: {name} is not one of the operators (actions.operators)."
    return True, None
