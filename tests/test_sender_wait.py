"""Sender.wait's `on_slow`: called once when acknowledgements are slow to come (an action
holding the DuckDB file lets go of it there), never when they are quick, and the time it
takes never turns an acknowledgement that came meanwhile into "unacknowledged"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from confluent_kafka import Producer

from dashboard.adapters.kafka import delivery
from dashboard.adapters.kafka.delivery import Delivery, Sender


class _Message:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class _SlowBroker:
    """A producer whose acknowledgements come `after` seconds after each send."""

    def __init__(self, after: float) -> None:
        self.after = after
        self._pending: list[tuple[float, Callable[[Any, Any], None]]] = []
        self._offset = 0

    def produce(
        self, *_args: object, on_delivery: Callable[[Any, Any], None], **_kw: object
    ) -> None:
        self._pending.append((time.monotonic() + self.after, on_delivery))

    def poll(self, timeout: float) -> int:
        due = [cb for at, cb in self._pending if at <= time.monotonic()]
        self._pending = [(at, cb) for at, cb in self._pending if at > time.monotonic()]
        for callback in due:
            callback(None, _Message(self._offset))
            self._offset += 1
        if not due:
            time.sleep(min(timeout, 0.02))
        return len(due)


def _send(
    broker: _SlowBroker, timeout: float, on_slow: Callable[[], None], slow_after: float
) -> list[Delivery]:
    sender = Sender(cast(Producer, broker), delivery_timeout=timeout, bootstrap="broker:9092")
    reports: list[Delivery] = []
    sender.enqueue(
        "t", [(i, (b"k", b"v", (), 0)) for i in range(3)], lambda _k, d: reports.append(d)
    )
    sender.wait(on_slow, slow_after)
    return reports


def test_quick_acknowledgements_never_call_on_slow() -> None:
    calls: list[float] = []
    reports = _send(_SlowBroker(0.0), 5.0, lambda: calls.append(1), slow_after=1.0)
    assert calls == [] and [r.status for r in reports] == ["delivered"] * 3


def test_slow_acknowledgements_call_on_slow_once_and_are_all_served() -> None:
    calls: list[float] = []
    reports = _send(_SlowBroker(0.5), 5.0, lambda: calls.append(1), slow_after=0.1)
    assert calls == [1] and [r.status for r in reports] == ["delivered"] * 3


def test_acknowledgements_that_come_while_on_slow_runs_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # on_slow outlasts the whole wait (an audit flush waiting on its own timeout): the
    # acknowledgements that came meanwhile are served, not reported unacknowledged.
    monkeypatch.setattr(delivery, "_REPORT_GRACE_SECONDS", 0.0)
    reports = _send(_SlowBroker(0.4), 0.5, lambda: time.sleep(1.0), slow_after=0.1)
    assert [r.status for r in reports] == ["delivered"] * 3
