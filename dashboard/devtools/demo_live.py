"""`dlq demo --live`: keep the demo alive. A trickle of new records and, every N minutes, a
systematic burst, so the alerts move through pending, firing and ok while someone explores.

The loop's clock, sleep and parent check are parameters, so tests run hours of schedule in
no time; records go out through the Kafka adapter's one send loop (`KafkaGateway.sender()`).
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dashboard.adapters.kafka import Delivery, KafkaGateway
from dashboard.devtools.demo_shapes import PATTERNS, DemoRecord, new_trace_id
from dashboard.settings import Settings

LOG = logging.getLogger("dlq.demo.live")

# The trickle: the everyday failures, none of them systematic.
TRICKLE_WEIGHTS = {
    "expired_url": 0.35,
    "file_type": 0.1,
    "timeout": 0.35,
    "onelake": 0.15,
    "other_category": 0.05,
}


@dataclass(frozen=True)
class LivePlan:
    """Defaults: a trickle under the runbook's Warning rate (5/min), and every 20 minutes a
    5-minute burst of 300 records (60/min), enough for KafkaDLQGrowthRapid (> 10/min for
    5 min) to go pending, fire, and return to ok before the next one."""

    per_minute: float = 2.0
    burst_every_minutes: float = 20.0
    burst_size: int = 300
    burst_minutes: float = 5.0
    tick_seconds: float = 5.0

    def due(self, started: float, since: float, until: float) -> tuple[int, int]:
        """Trickle and burst records due in (since, until], seconds since the epoch; the
        first burst starts one minute after `started`."""
        trickle = math.floor((until - started) * self.per_minute / 60) - math.floor(
            (since - started) * self.per_minute / 60
        )
        return trickle, self._burst_sent(started, until) - self._burst_sent(started, since)

    def _burst_sent(self, started: float, moment: float) -> int:
        """Burst records due from `started` to `moment`: each burst spreads evenly over
        its minutes."""
        elapsed = moment - started - 60
        if elapsed <= 0 or self.burst_size <= 0:
            return 0
        every, length = self.burst_every_minutes * 60, max(self.burst_minutes * 60, 1)
        done, into = divmod(elapsed, every)
        return int(done) * self.burst_size + math.floor(self.burst_size * min(into / length, 1))


@dataclass
class LiveSummary:
    ticks: int = 0
    trickle: int = 0
    burst: int = 0
    failed: int = 0
    stopped_because: str = ""


def records(rng: random.Random, trickle: int, burst: int, at_ms: int) -> list[DemoRecord]:
    kinds = rng.choices(list(TRICKLE_WEIGHTS), weights=list(TRICKLE_WEIGHTS.values()), k=trickle)
    kinds += ["systematic"] * burst
    return [PATTERNS[kind](rng, new_trace_id(rng), at_ms) for kind in kinds]


def parent_alive(parent: int) -> Callable[[], bool]:
    """True while the process that started us is still our parent (an orphan is adopted)."""
    return lambda: os.getppid() == parent


def run(
    plan: LivePlan,
    send: Callable[[Sequence[DemoRecord]], int],
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] = time.sleep,
    alive: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    seed: int | None = None,
) -> LiveSummary:
    """Send what is due every tick until `stop` is set, `alive()` turns False, or Ctrl-C.
    `send` returns how many records failed."""
    rng = random.Random(seed)
    summary = LiveSummary()
    started = last = clock()
    try:
        while True:
            if stop is not None and stop.is_set():
                summary.stopped_because = "stopped"
                break
            if not alive():
                summary.stopped_because = "the demo that started it is gone"
                break
            sleep(plan.tick_seconds)
            now = clock()
            trickle, burst = plan.due(started, last, now)
            last = now
            summary.ticks += 1
            if trickle or burst:
                summary.failed += send(records(rng, trickle, burst, int(now * 1000)))
                summary.trickle += trickle
                summary.burst += burst
    except KeyboardInterrupt:
        summary.stopped_because = "interrupted"
    return summary


def kafka_sender(
    settings: Settings, gateway: KafkaGateway | None = None
) -> Callable[[Sequence[DemoRecord]], int]:
    """`send` for `run`: the adapter's send-and-acknowledge loop, one producer for the run.
    A failed send is logged and counted, not fatal: the broker may be restarting."""
    sender = (gateway or KafkaGateway(settings)).sender()

    def send(batch: Sequence[DemoRecord]) -> int:
        failed: list[str] = []

        def delivered(_key: int, delivery: Delivery) -> None:
            if delivery.status != "delivered":
                failed.append(delivery.error or delivery.status)

        sender.send(
            settings.dlq_topic,
            enumerate((r.key, r.value, r.headers, r.timestamp_ms) for r in batch),
            delivered,
        )
        if failed:
            LOG.warning(
                "%d of %d demo records not delivered: %s", len(failed), len(batch), failed[0]
            )
        return len(failed)

    return send
