"""`dlq audit resend`: copy to the audit topic the entries it lacks after Kafka was down.

An entry is written to the table, then the log file, then the topic; with Kafka down the
topic misses it (reported at once), and `dlq audit verify` would fail from then on. Only
entries the two other copies hold alike are resent: the table and the log file must agree
entry for entry (each chain intact), so an entry present in one copy alone (an insertion, a
cut) is never made official by a resend; it stays for `verify` to name.

Someone able to rewrite both the table and the log file could still append an entry to both
and have it resent; so a resend is itself an audited act, by an operator with a reason, whose
entry (`audit-resend`, naming the ids) reaches all three copies, and `verify` names, for
every entry the topic holds by a resend, who resent it and why.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from dashboard.actions import audit
from dashboard.actions.audit import stored_entries
from dashboard.actions.audit_copies import AuditCopies, file_entries, topic_entries
from dashboard.actions.audit_entries import audit_only
from dashboard.actions.audit_verify import Copy, in_id_order, verify_copies
from dashboard.actions.identity import Identity
from dashboard.actions.values import Refused
from dashboard.adapters.db import Database
from dashboard.settings import Settings


@dataclass(frozen=True)
class Resent:
    ids: list[int]  # the entries copied to the topic, in id order
    missing: list[str]  # in words: those the topic still did not acknowledge


def resend_missing(settings: Settings, identity: Identity, reason: str) -> Resent:
    """Copy to the audit topic every entry from its first one on that it lacks, and audit
    that (`audit-resend`, the ids in its details). Raises Refused when the operator may not
    act, gives no reason, the topic is off, a copy holds something that is no entry, or the
    table and the log file disagree; BrokerUnreachable when the topic cannot be read."""
    if not identity.can_act:
        raise Refused(identity.why_not or "this identity may not act")
    if not reason.strip():
        raise Refused("a reason is required (a ticket or a note)")
    topic = settings.audit_topic_name
    if topic is None:
        raise Refused("the audit topic is off (the audit_topic setting): nothing to resend")
    path = settings.audit_log
    try:
        in_topic, _ = in_id_order(topic_entries(settings, topic))
        with Database.of(settings).read() as con:
            table = list(stored_entries(con))
        both = verify_copies(
            [Copy(f"database {settings.db}", table), Copy(f"log file {path}", file_entries(path))]
        )
    except ValueError as exc:  # a line or a message that is not an audit entry
        raise Refused(f"nothing is resent: {exc}") from None
    if not both.ok:
        raise Refused(
            "the table and the log file do not agree, so nothing is resent: "
            + "; ".join(both.lines)
        )
    # Entries before the topic's first one were removed from its head or predate it.
    first = in_topic[0].audit_id if in_topic else 1
    held = {e.audit_id for e in in_topic}
    lacking = [e for e in table if e.audit_id >= first and e.audit_id not in held]
    if not lacking:
        return Resent([], [])
    ids = [e.audit_id for e in lacking]
    with closing(AuditCopies(settings)) as copies:
        missing = copies.to_topic_only(lacking)
        if not missing:
            entry = audit.NewEntry(
                "audit-resend",
                identity.label,
                "success",
                reason=reason,
                details={"ids": ids, "topic": topic},
            )
            missing = audit_only(Database.of(settings).write(), copies, [entry])
    return Resent(ids, missing)
