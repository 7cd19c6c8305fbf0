"""Who is looking, and whether they may act.

In order: the OIDC login (`st.user`, when `.streamlit/secrets.toml` configures one); a
header set by a trusted proxy (`actions.proxy_user_header`, when configured); the local
operator name from the settings (`DLQ_OPERATOR`). Without an identity everything is
read-only, and `actions.enabled = false` turns every action off for everyone.
`actions.operators`, when set, lists who may act; the rest may only look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.settings import Settings


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
) -> Identity:
    name, source = None, "none"
    header = settings.actions.proxy_user_header
    if oidc_user:
        name, source = oidc_user, "oidc"
    elif header and headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(header.lower(), "").strip()
        if value:
            name, source = value, "proxy-header"
    if name is None and settings.operator:
        name, source = settings.operator, "settings"
    return Identity(name, source, *_permission(settings, name))


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
