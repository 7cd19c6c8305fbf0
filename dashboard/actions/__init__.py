"""Replay and resolve: the one write path for acting on DLQ records, shared by the pages
and the CLI. Callers import from the modules, bottom to top:

- `values`: records named, requests, previews, reports (plain data);
- `selection`: which records (named, by trace id, by filter, ready to resolve);
- `preview`: eligibility, what an action would do, and how its size is confirmed;
- `claims`, `review_offsets`, `audit_entries`: the steps a run is made of;
- `run`: `execute`, which carries a request out;
- `audit`, `identity`, `replay_message`: the audit log, who acts, the message a replay sends.

Guarantees:
- Only an identity allowed to act acts (`identity`); every attempt is audited.
- A record is acted on once: eligibility is checked and the record claimed in one DuckDB
  transaction (DuckDB admits one writing process at a time), so two operators racing over
  the same records each get a disjoint share (`claims`). A replayed record that has not
  failed again, or a resolved one, is refused unless `override` is set.
- A replay counts only once the broker acknowledged it (idempotent producer, acks=all);
  anything not acknowledged within the delivery timeout is recorded as failed, never as done.
- Resolve commits the review group's offset only across a contiguous run of resolved
  records, so no record nobody resolved is ever hidden (`review_offsets`).
- Bulk work runs in chunks at a velocity limit, reports progress, and can be cancelled;
  what was done before the cancel stays done and is recorded.
- Over `actions.confirm_count_above` records, an action is confirmed only by typing how many
  records it acts on (`preview.count_to_confirm`).
"""
