"""`dlq audit resend`: copy to the audit topic the entries it lacks after Kafka was down.

An entry is written to the table, then the log file, then the topic; with Kafka down the
topic misses it (reported at once), and `dlq audit verify` would fail from then on. Only
entries the two other copies hold alike are resent: the table and the log file must agree
entry for entry (each chain intact), so an entry present in one copy alone (an insertion, a
cut) is never made official by a resend; it stays for `verify` to name.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from dashboard.actions.audit import stored_entries
from dashboard.actions.audit_copies import AuditCopies, file_entries, topic_entries
from dashboard.actions.audit_verify import Copy, in_id_order, verify_copies
from dashboard.actions.values import Refused
from dashboard.adapters.db import Database
from dashboard.settings import Settings


@dataclass(frozen=True)
class Resent:
    ids: list[int]  # the entries copied to the topic, in id order
    missing: list[str]  # in words: those the topic still did not acknowledge


def resend_missing(settings: Settings) -> Resent:
    """Copy to the audit topic every entry from its first one on that it lacks. Raises
    Refused when the topic is off or the table and the log file disagree, BrokerUnreachable
    when the topic cannot be read."""
    topic = settings.audit_topic_name
    if topic is None:
        raise Refused("the audit topic is off (the audit_topic setting): nothing to resend")
    in_topic, _ = in_id_order(topic_entries(settings, topic))
    with Database.of(settings).read() as con:
        table = list(stored_entries(con))
    path = settings.audit_log
    both = verify_copies(
        [Copy(f"database {settings.db}", table), Copy(f"log file {path}", file_entries(path))]
    )
    if not both.ok:
        raise Refused(
            "the table and the log file do not agree, so nothing is resent: "
            + "; ".join(both.lines)
        )
    # Entries before the topic's first one were removed from its head or predate it.
    first = in_topic[0].audit_id if in_topic else 1
    held = {e.audit_id for e in in_topic}
    lacking = [e for e in table if e.audit_id >= first and e.audit_id not in held]
    with closing(AuditCopies(settings)) as copies:
        missing = copies.to_topic_only(lacking)
    return Resent([e.audit_id for e in lacking], missing)
