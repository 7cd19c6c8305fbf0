"""What is checked before anything is claimed: the request itself (who, why, what), and that
Kafka answers for the topic the action writes to."""

from __future__ import annotations

import contextlib

from dashboard.actions.replay_message import check_url
from dashboard.actions.values import Refused, Request
from dashboard.adapters.kafka import KafkaGateway, TopicMissing
from dashboard.settings import Settings


def check_kafka(settings: Settings, request: Request, kafka: KafkaGateway) -> None:
    """Kafka answers before anything is claimed: a replay writes to the pending topic, a
    resolve commits the review group's offsets on the DLQ topic."""
    if request.action == "replay":
        dlq = settings.dlq_by_topic(settings.dlq_topic)
        if dlq is not None and dlq.replays_to_origin:
            return  # each record names its own topic: a missing one fails that record alone
        try:
            kafka.partitions(settings.pending_topic)
        except TopicMissing as exc:
            raise Refused(f"cannot replay: the pending {exc}") from None
        return
    with contextlib.suppress(TopicMissing):  # a deleted DLQ topic leaves nothing to commit
        kafka.partitions(settings.dlq_topic)


def check_request(request: Request) -> None:
    if not request.identity.can_act:
        raise Refused(request.identity.why_not or "this identity may not act")
    if not request.reason.strip():
        raise Refused("a reason is required (a ticket or a note)")
    if not request.refs:
        raise Refused("no records selected")
    if request.new_url is not None:
        if request.action != "replay" or len(request.refs) != 1:
            raise Refused("a new URL applies to the replay of one record")
        try:
            check_url(request.new_url)
        except ValueError as exc:
            raise Refused(str(exc)) from None
    if request.rate is not None and request.rate <= 0:
        raise Refused("the velocity limit must be positive")
