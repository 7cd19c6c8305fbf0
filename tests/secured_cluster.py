"""A secured test cluster (SASL_SSL, PLAIN users, ACLs) and the ACLs the tool needs on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from dashboard.devtools.broker.secured import SecuredListener
from dashboard.settings import Settings

# Recognisable passwords: a test greps every output for them.
TOOL_USER, TOOL_PASSWORD = "dlq-tool", "Tool-Pw-5ec7e7-NEVER-SHOWN"
NO_WRITE_USER, NO_WRITE_PASSWORD = "dlq-no-pending-write", "NoWrite-Pw-9b1d4a-NEVER-SHOWN"
WRONG_PASSWORD = "Wrong-Pw-3fa9c0-NEVER-SHOWN"
USERS = {TOOL_USER: TOOL_PASSWORD, NO_WRITE_USER: NO_WRITE_PASSWORD}

# The groups the Kafka adapter names itself: the reader's (assign() only, but librdkafka wants
# a group id and looks up its coordinator).
TOOL_GROUPS = ("dlq-dashboard-reader",)


@dataclass(frozen=True)
class SecuredCluster:
    bootstrap: str
    listener: SecuredListener

    def kafka(self, user: str, password: str | None = None) -> dict[str, Any]:
        """The `[kafka]` settings of `user` (with `password`, else the right one)."""
        return self.listener.client_config(user, password)

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, **self.listener.admin_config()})


def tool_acls(settings: Settings, user: str, *, write_pending: bool) -> list[AclBinding]:
    """Exactly what the tool needs for `settings`: read (and describe) the DLQ, read and
    commit the review group and its own reader group, write the pending topic and the audit
    topic (a prefix `<dlq topic>.` covers both when they are named after the DLQ). Without
    `write_pending`, the pending topic may only be described, so a replay is refused by Kafka
    rather than the topic looking absent."""

    def allow(
        kind: ResourceType, name: str, op: AclOperation, prefixed: bool = False
    ) -> AclBinding:
        return allowed(user, kind, name, op, prefixed)

    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    bindings = [
        allow(topic, settings.dlq_topic, AclOperation.READ),
        allow(topic, settings.dlq_topic, AclOperation.DESCRIBE),
        allow(group, settings.review_group, AclOperation.READ),
        *(allow(group, name, AclOperation.READ) for name in TOOL_GROUPS),
    ]
    if write_pending:
        bindings += [
            allow(topic, settings.pending_topic, AclOperation.WRITE),
            allow(topic, f"{settings.dlq_topic}.", AclOperation.WRITE, prefixed=True),
        ]
    else:
        # No WRITE anywhere (a test grants the audit topic itself where it needs one).
        bindings.append(allow(topic, settings.pending_topic, AclOperation.DESCRIBE))
    return bindings


def allowed(
    user: str, kind: ResourceType, name: str, op: AclOperation, prefixed: bool = False
) -> AclBinding:
    """An ACL allowing `user` the operation `op` on the resource (or resource prefix)."""
    pattern = ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL
    return AclBinding(kind, name, pattern, f"User:{user}", "*", op, AclPermissionType.ALLOW)


def grant(cluster: SecuredCluster, bindings: list[AclBinding]) -> None:
    admin = cluster.admin()  # kept alive until every answer is in
    for future in admin.create_acls(bindings, request_timeout=10).values():
        future.result(timeout=10)
