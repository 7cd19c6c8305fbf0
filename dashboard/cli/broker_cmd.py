"""`dlq broker start|stop|status`: the local Apache Kafka broker."""

from __future__ import annotations

import argparse
from pathlib import Path

from dashboard.cli.output import err
from dashboard.devtools.broker import launcher


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = commands.add_parser("broker", help="start or stop a local single-node Kafka")
    actions = broker.add_subparsers(dest="broker_action", required=True)
    start = actions.add_parser("start", help="start Kafka on 127.0.0.1 (fetching it first)")
    start.add_argument("--port", type=int, default=launcher.DEFAULT_PORT)
    start.add_argument("--data-dir", type=Path, default=launcher.DEFAULT_DATA_DIR)
    stop = actions.add_parser("stop", help="stop the broker started from --data-dir")
    stop.add_argument("--data-dir", type=Path, default=launcher.DEFAULT_DATA_DIR)
    status = actions.add_parser("status", help="say whether the broker runs")
    status.add_argument("--data-dir", type=Path, default=launcher.DEFAULT_DATA_DIR)
    broker.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.broker_action == "start":
        result = launcher.start(
            args.data_dir, args.port, progress=lambda step: err(f"broker: {step}")
        )
        state = result.state
        if result.already_running:
            err(
                f"a broker is already running at {state.bootstrap} (pid {state.pid}, "
                f"data in {state.data_dir}); nothing changed"
            )
        else:
            err(
                f"Kafka {state.kafka_version} (KRaft) running at {state.bootstrap} "
                f"(pid {state.pid}, data in {state.data_dir})"
            )
        print(state.bootstrap)
        return 0
    if args.broker_action == "stop":
        stopped = launcher.stop(args.data_dir)
        if stopped is None:
            err(f"no broker is running from {args.data_dir}")
        else:
            err(f"stopped the broker at {stopped.bootstrap} (pid {stopped.pid})")
        return 0
    running = launcher.read_state(args.data_dir.resolve())
    if running is None:
        err(f"no broker is running from {args.data_dir}")
        return 1
    err(f"running at {running.bootstrap} (pid {running.pid}, data in {running.data_dir})")
    print(running.bootstrap)
    return 0
