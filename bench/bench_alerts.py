"""Does alerting slow quoting? Tick-to-order with and without a storm of alerts to dead receivers.

The engine and the simulator (a child process) are ``bench_engine``'s stress load: no order or
rate limits, so most books ask for a re-quote and there are many samples a second. Two modes,
in alternating segments so the machine's drift falls on both alike:

- ``no alerts``: the engine alone;
- ``alerts, dead receivers``: the alert monitor on the engine's tick, plus an alert storm (every
  tick emits ``--storm`` new one-shot alerts), sent to three channels (webhook, Slack,
  Telegram) whose receiver on loopback accepts every request and never answers.

Printed: tick-to-order as ``bench_engine`` measures it (depth frame received -> order request
written, and tick -> order handed to the venue), the engine process's CPU, and what the alert
side did meanwhile (alerts made, send attempts, requests left hanging, drops).

    .venv/bin/python bench/bench_alerts.py [--seconds 60] [--segment-seconds 15] [--storm 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import bench_engine as be  # noqa: E402

from liquidity_bot.alerts import AlertDispatcher, AlertMonitor, build_channels  # noqa: E402
from liquidity_bot.alerts.model import Alert, Kind, Severity  # noqa: E402
from liquidity_bot.alerts.receiver import AlertReceiver  # noqa: E402
from liquidity_bot.config import AlertChannelConfig, AlertsConfig  # noqa: E402
from liquidity_bot.engine.runtime import event_loop_name, run  # noqa: E402

TOTALS = {"notices": 0, "attempts": 0, "hanging": 0, "dropped": 0, "ticks": 0}


def with_alerts(storm: int) -> Any:
    """``bench_engine._engine`` whose ``run`` also runs alerts to never-answering receivers."""
    make = be._engine

    def engine_with_alerts(*args: Any, **kwargs: Any) -> Any:
        engine = make(*args, **kwargs)
        plain_run = engine.run

        async def run_with_alerts(*a: Any, **kw: Any) -> None:
            async with AlertReceiver(mode="never") as rx:
                configs = [
                    AlertChannelConfig(name="hook", type="webhook", url_env="HOOK",
                                       timeout_s=2, retries=3, max_per_minute=600),
                    AlertChannelConfig(name="slack", type="slack", url_env="HOOK",
                                       timeout_s=2, retries=3, max_per_minute=600),
                    AlertChannelConfig(name="tg", type="telegram", token_env="TG", chat_id="1",
                                       api_url=rx.url, timeout_s=2, retries=3,
                                       max_per_minute=600),
                ]
                env = {"HOOK": f"{rx.url}/hook/BenchSecret-0123456789", "TG": "1:BenchToken"}
                d = AlertDispatcher(build_channels(configs, env), queue_size=1000,
                                    reminder_s=10, clear_after_s=1)
                monitor = AlertMonitor(d, AlertsConfig(breach_grace_s=1, side_empty_grace_s=1))
                seq = [0]

                def tick(e: Any) -> None:
                    monitor.on_tick(e)
                    TOTALS["ticks"] += 1
                    for _ in range(storm):
                        seq[0] += 1
                        d.emit(Alert(Kind.RATE_LIMITED, Severity.WARNING,
                                     f"storm alert {seq[0]}", "none: a benchmark",
                                     market=f"M{seq[0] % 500}", key_label="bench",
                                     subject=str(seq[0]), one_shot=True))

                engine.on_tick = tick
                await d.start()
                try:
                    await plain_run(*a, **kw)
                finally:
                    TOTALS["notices"] += d.notices
                    TOTALS["attempts"] += sum(s.attempts for s in d.senders)
                    TOTALS["dropped"] += d.dropped + sum(s.dropped for s in d.senders)
                    TOTALS["hanging"] += rx.requests
                    await d.close(timeout_s=0.1)

        engine.run = run_with_alerts
        return engine

    return engine_with_alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per mode, in total")
    parser.add_argument("--segment-seconds", type=float, default=15.0)
    parser.add_argument("--storm", type=int, default=20, help="new alerts per engine tick")
    args = parser.parse_args()
    loop = event_loop_name()
    print(f"event loop: {loop}; stress load (bench_engine); alert storm {args.storm} per tick "
          "(4 ticks a second) to 3 channels whose receiver never answers")
    plain_engine = be._engine
    alerting_engine = with_alerts(args.storm)
    modes = {"no alerts": plain_engine, "alerts, dead receivers": alerting_engine}
    pooled = {label: be.Sample() for label in modes}
    segments = max(1, round(args.seconds / args.segment_seconds))
    for _ in range(segments):
        for label, factory in modes.items():
            be._engine = factory
            pooled[label].add(run(be.tick_to_order(args.seconds / segments, stress=True), loop))
    be._engine = plain_engine
    for label, sample in pooled.items():
        be._report(label, sample)
    (a99, a50), (n99, n50) = (be._p99_p50(pooled[k].written_ms)
                              for k in ("alerts, dead receivers", "no alerts"))
    print(f"tick-to-order, alerts / no alerts: p50 {a50 / n50:.2f}x, p99 {a99 / n99:.2f}x")
    print(f"alert side: {TOTALS['notices']} alert messages made, {TOTALS['attempts']} send "
          f"attempts, {TOTALS['hanging']} requests left unanswered by the receiver, "
          f"{TOTALS['dropped']} dropped from full queues")


if __name__ == "__main__":
    main()
