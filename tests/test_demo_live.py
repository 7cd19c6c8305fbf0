"""`dlq demo --live`: its schedule (a trickle, a burst every N minutes), how it stops, and,
against the real broker, that what it sends lands in the DLQ topic. The clock and the sleep
are injected: an hour of schedule runs in no time."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from dashboard.adapters.kafka import KafkaGateway
from dashboard.devtools import demo_live
from dashboard.devtools.demo_shapes import BURST_DOMAIN, DemoRecord
from dashboard.settings import Settings
from tests.integration.actions_support import read_topic

START = 1_800_000_000.0


class FakeClock:
    def __init__(self, start: float = START) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_for(
    plan: demo_live.LivePlan, minutes: float
) -> tuple[list[list[DemoRecord]], demo_live.LiveSummary]:
    clock = FakeClock()
    sent: list[list[DemoRecord]] = []

    def send(batch: Sequence[DemoRecord]) -> int:
        sent.append(list(batch))
        return 0

    def alive() -> bool:
        return clock.now < START + minutes * 60

    summary = demo_live.run(plan, send, clock=clock.time, sleep=clock.sleep, alive=alive, seed=1)
    return sent, summary


def per_minute(sent: list[list[DemoRecord]], burst: bool) -> dict[int, int]:
    counts: dict[int, int] = {}
    for batch in sent:
        for r in batch:
            if (r.pattern == "systematic") == burst:
                minute = int((r.timestamp_ms / 1000 - START) // 60)
                counts[minute] = counts.get(minute, 0) + 1
    return counts


def test_an_hour_brings_a_steady_trickle_and_three_bursts() -> None:
    plan = demo_live.LivePlan(per_minute=2, burst_every_minutes=20, burst_size=300, burst_minutes=5)
    sent, summary = run_for(plan, 60)
    assert summary.stopped_because == "the demo that started it is gone"
    assert summary.ticks == 60 * 60 / plan.tick_seconds
    assert summary.trickle == 120  # 2 a minute, exactly
    # Bursts start a minute in, then every 20 minutes, five minutes each (records carry the
    # time of the tick that sends them, so a burst's last ones are stamped on its end).
    bursts = per_minute(sent, burst=True)
    assert summary.burst == sum(bursts.values()) == 900
    assert set(bursts) <= {*range(1, 7), *range(21, 27), *range(41, 47)}
    for first in (1, 21, 41):
        assert sum(bursts.get(m, 0) for m in range(first, first + 6)) == 300
    # 300 over 5 minutes: far into the Critical band (> 10/min), never more than planned.
    assert min(bursts[m] for m in (2, 3, 4, 22, 43)) >= 50 and max(bursts.values()) <= 61
    trickle = per_minute(sent, burst=False)
    assert max(trickle.values()) <= 3  # under the Warning rate between bursts
    burst_record = next(r for b in sent for r in b if r.pattern == "systematic")
    assert burst_record.value is not None and BURST_DOMAIN.encode() in burst_record.value


def test_it_stops_on_its_stop_event_and_on_ctrl_c() -> None:
    stop = threading.Event()
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= START + 30:
            stop.set()  # what the SIGTERM handler does

    summary = demo_live.run(
        demo_live.LivePlan(), lambda b: 0, clock=clock.time, sleep=sleep, stop=stop
    )
    assert (summary.stopped_because, summary.ticks) == ("stopped", 6)

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    summary = demo_live.run(demo_live.LivePlan(), lambda b: 0, clock=clock.time, sleep=interrupted)
    assert (summary.stopped_because, summary.ticks) == ("interrupted", 0)


def test_no_bursts_when_the_burst_size_is_zero() -> None:
    _, summary = run_for(demo_live.LivePlan(per_minute=6, burst_size=0), 30)
    assert (summary.trickle, summary.burst) == (180, 0)


@pytest.mark.kafka
def test_live_records_land_in_the_dlq_topic(
    kafka_settings: Settings, gateway: KafkaGateway
) -> None:
    gateway.create_topic(kafka_settings.dlq_topic, 2)
    plan = demo_live.LivePlan(per_minute=30, burst_every_minutes=60, burst_size=20, burst_minutes=1)
    start = time.time() - 300  # the broker refuses timestamps far from its own clock
    clock = FakeClock(start)
    summary = demo_live.run(
        plan,
        demo_live.kafka_sender(kafka_settings, gateway),
        clock=clock.time,
        sleep=clock.sleep,
        alive=lambda: clock.now < start + 150,
        seed=2,
    )
    assert summary.failed == 0 and summary.burst == 20 and summary.trickle == 75
    landed = read_topic(kafka_settings, kafka_settings.dlq_topic, 95)
    assert len(landed) == 95
