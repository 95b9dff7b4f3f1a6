"""Does alerting slow quoting? Tick-to-order with and without a storm of alerts to dead receivers.

The engine and the simulator (a child process) are ``bench_engine``'s stress load: no order or
rate limits, so most books ask for a re-quote and there are many samples a second. Two modes,
in alternating segments so the machine's drift falls on both alike:

- ``no alerts``: the engine alone;
- ``dead receivers``: the alert monitor on the engine's tick and one new alert a second, sent to
  three channels (webhook, Slack, Telegram) whose receiver on loopback accepts every request
  and never answers;
- ``storm, dead receivers``: the same with ``--storm`` new alerts every tick (4 ticks a second),
  far more than the queues hold: most are dropped, as designed.

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


def with_alerts(storm: float) -> Any:
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
                owed = [0.0]

                def tick(e: Any) -> None:
                    monitor.on_tick(e)
                    TOTALS["ticks"] += 1
                    owed[0] += storm
                    while owed[0] >= 1:
                        owed[0] -= 1
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
    parser.add_argument("--storm", type=int, default=20,
                        help="new alerts per engine tick in the storm mode")
    args = parser.parse_args()
    loop = event_loop_name()
    print(f"event loop: {loop}; stress load (bench_engine); alerts go to 3 channels whose "
          "receiver never answers")
    plain_engine = be._engine
    modes = {"no alerts": plain_engine,
             "dead receivers, 1 alert a second": with_alerts(0.25),
             f"storm, dead receivers, {args.storm * 4} alerts a second": with_alerts(args.storm)}
    pooled = {label: be.Sample() for label in modes}
    segments = max(1, round(args.seconds / args.segment_seconds))
    for _ in range(segments):
        for label, factory in modes.items():
            be._engine = factory
            pooled[label].add(run(be.tick_to_order(args.seconds / segments, stress=True), loop))
    be._engine = plain_engine
    for label, sample in pooled.items():
        be._report(label, sample)
    base = pooled["no alerts"].written_ms
    for label, sample in pooled.items():
        w = sample.written_ms
        if label == "no alerts" or not w or not base:
            continue
        ratios = ", ".join(f"p{p} {be._pct(w, p) / be._pct(base, p):.2f}x" for p in (50, 90, 99))
        print(f"tick-to-order, {label} / no alerts: {ratios} (p90 {be._pct(w, 90):.2f} ms vs "
              f"{be._pct(base, 90):.2f} ms)")
    print(f"alert side: {TOTALS['notices']} alert messages made, {TOTALS['attempts']} send "
          f"attempts, {TOTALS['hanging']} requests left unanswered by the receiver, "
          f"{TOTALS['dropped']} dropped from full queues")


if __name__ == "__main__":
    main()
