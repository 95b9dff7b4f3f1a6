"""Alerts over real HTTP on loopback: each channel's format, one alert and one "resolved" per
breach, storms grouped, a dead receiver that costs quoting nothing, secrets never in the logs.

The receiver is ``liquidity_bot.alerts.receiver.AlertReceiver`` (an aiohttp server on 127.0.0.1);
the monitor reads a hand-built engine whose KPI sampler is the real one, fed real books.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from dataclasses import dataclass
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from liquidity_bot.alerts import AlertDispatcher, AlertMonitor, build_channels
from liquidity_bot.alerts.model import Alert, Kind, Severity
from liquidity_bot.alerts.receiver import AlertReceiver
from liquidity_bot.config import AlertChannelConfig, AlertsConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.order import Side
from liquidity_bot.logs import configure_logging, forget_secret
from liquidity_bot.reporting.kpi import KpiSampler, OurQuote

TOKEN = "123456:CanaryTelegramToken-7f3e9a"
CHANNEL_TYPES = ("webhook", "slack", "telegram")


def channel(kind: str, base_url: str, *, name: str | None = None, **extra: object) -> tuple:
    """(config, environ) for one channel pointing at a loopback receiver."""
    name = name or f"test-{kind}"
    if kind == "telegram":
        cfg = AlertChannelConfig(name=name, type="telegram", token_env="TG_TOKEN",
                                 chat_id="-100200300", api_url=base_url, **extra)
        return cfg, {"TG_TOKEN": TOKEN}
    cfg = AlertChannelConfig(name=name, type=kind, url_env="HOOK_URL", **extra)
    return cfg, {"HOOK_URL": f"{base_url}/services/T0/B0/CanaryHookSecret-{kind}"}


def dispatcher_for(kind: str, rx: AlertReceiver, **kw: object) -> AlertDispatcher:
    cfg, env = channel(kind, rx.url, **{k: v for k, v in kw.items()
                                         if k in ("max_per_minute", "timeout_s", "retries")})
    opts = {k: v for k, v in kw.items() if k not in ("max_per_minute", "timeout_s", "retries")}
    return AlertDispatcher(build_channels([cfg], env), tick_s=0.02, **opts)


# --- a hand-built engine: one market whose obligations are met or not ------------------------


@dataclass(frozen=True)
class Obl:
    max_spread_pct: D = D("1")
    min_depth_2pct_quote: D = D("100")
    min_rest_s: float | None = None


def book() -> OrderBook:
    b = OrderBook("XRPUSDT")
    b.apply_snapshot([(D("99"), D("1000"))], [(D("101"), D("1000"))], 0)
    return b


GOOD = [OurQuote("BUY", D("99.6"), D("2"), 0), OurQuote("SELL", D("100.4"), D("2"), 0)]


class FakeOm:
    def __init__(self) -> None:
        self.sides = {Side.BUY: [1], Side.SELL: [1]}

    def resting(self, side: Side | None = None) -> list:
        return self.sides[side] if side is not None else self.sides[Side.BUY] + self.sides[
            Side.SELL]


def engine(sampler: KpiSampler) -> SimpleNamespace:
    risk = SimpleNamespace(killed=False, kill_reason=None, counts=dict)
    runner = SimpleNamespace(
        symbol="XRPUSDT", config=SimpleNamespace(obligations=sampler.obligations),
        status="quoting", om=FakeOm(), risk=risk, stale=False, last_book_mono=None, book=book())
    session = SimpleNamespace(label="Liquidity Bot", refused=None, failed={},
                              venue=SimpleNamespace(), runners={"XRPUSDT": runner})
    return SimpleNamespace(sessions=[session], left_open={})


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return int(self.t * 1000)


async def drain(d: AlertDispatcher) -> None:
    """Let the grouper and the senders run until nothing is pending."""
    for _ in range(400):
        d.process()
        await asyncio.sleep(0.01)
        if not d.pending():
            return
    raise AssertionError("alerts still pending")


@pytest.mark.parametrize("kind", CHANNEL_TYPES)
async def test_a_breach_longer_than_the_grace_is_one_alert_and_one_resolved(kind: str) -> None:
    clock = Clock()
    async with AlertReceiver() as rx:
        cfg, env = channel(kind, rx.url)
        d = AlertDispatcher(build_channels([cfg], env), clock=clock, wall_ms=clock.ms,
                            clear_after_s=5, reminder_s=3600, tick_s=0.02)
        sampler = KpiSampler("XRPUSDT", Obl(), interval_s=1.0)
        monitor = AlertMonitor(d, AlertsConfig(breach_grace_s=30), samplers={"XRPUSDT": sampler},
                               clock=clock, wall_ms=clock.ms)
        eng = engine(sampler)
        await d.start()
        try:
            for step in range(120):  # 60 s of breach (no quotes of ours), sampled every 0.5 s
                sampler.maybe_sample(book(), [], clock.ms())
                monitor.on_tick(eng)
                clock.t += 0.5
                if step % 10 == 0:
                    await drain(d)
            await drain(d)
            assert len(rx.received) == 1, rx.texts()
            for _ in range(40):  # met again: 20 s of good quotes
                sampler.maybe_sample(book(), GOOD, clock.ms())
                monitor.on_tick(eng)
                clock.t += 0.5
                d.process()
            await drain(d)
        finally:
            await d.close()
    assert len(rx.received) == 2, rx.texts()
    first, resolved = rx.received
    text = rx.texts()
    assert "XRPUSDT" in text[0] and "Liquidity Bot" in text[0]
    assert "not quoting both sides" in text[0] and "What to do" in text[0]
    assert text[1].startswith("[RESOLVED]") or "RESOLVED" in text[1]
    if kind == "webhook":
        a = first.body["alerts"][0]
        assert first.body["source"] == "liquidity-bot"
        assert (a["status"], a["kind"], a["severity"]) == ("firing", "obligation_breach",
                                                           "warning")
        assert (a["market"], a["key_label"]) == ("XRPUSDT", "Liquidity Bot")
        assert "two_sided" in a["detail"] and a["action"]
        assert resolved.body["alerts"][0]["status"] == "resolved"
        assert first.path == "/services/T0/B0/CanaryHookSecret-webhook"
    elif kind == "slack":
        assert set(first.body) == {"text", "blocks"}
        assert first.body["blocks"][0]["type"] == "section"
        assert first.body["blocks"][0]["text"]["type"] == "mrkdwn"
        assert ":white_check_mark:" in resolved.body["blocks"][0]["text"]["text"]
    else:
        assert first.path == f"/bot{TOKEN}/sendMessage"
        assert first.body["chat_id"] == "-100200300"
        assert first.body["parse_mode"] == "HTML"
        assert first.body["text"].startswith("<b>[WARNING] XRPUSDT")


async def test_a_storm_of_breaches_is_grouped() -> None:
    async with AlertReceiver() as rx:
        d = dispatcher_for("webhook", rx, clear_after_s=0.3, reminder_s=3600)
        await d.start()
        try:
            # one market flapping: 200 breaches open and close faster than clear_after_s
            for i in range(200):
                d.emit(Alert(Kind.BREACH, Severity.WARNING, f"breach {i}", "act",
                             market="XRPUSDT", key_label="k"))
                d.clear(("obligation_breach", "XRPUSDT", "k", None))
            await rx.wait_for(2)
            await asyncio.sleep(0.5)
        finally:
            await d.close(timeout_s=0.1)
    alerts = [a for r in rx.received for a in r.body["alerts"]]
    assert [(a["status"], a["repeats"]) for a in alerts] == [("firing", 0), ("resolved", 199)]
    assert alerts[0]["summary"] == "breach 0"


async def test_a_storm_beyond_the_rate_limit_goes_out_as_a_digest() -> None:
    async with AlertReceiver() as rx:
        d = dispatcher_for("webhook", rx, max_per_minute=2)
        await d.start()
        try:
            for i in range(40):  # forty markets at once, on a channel allowed 2 messages a minute
                d.emit(Alert(Kind.BREACH, Severity.WARNING, "breach", "act",
                             market=f"M{i:02d}USDT", key_label="k"))
            await rx.wait_for(2)
            await asyncio.sleep(0.3)  # the rest waits for the next minute, queued
            assert len(rx.received) == 2
            first, second = (r.body["alerts"] for r in rx.received)
            assert len(second) == 25  # a digest: as many as one message carries
            assert len(first) + len(second) + len(d.senders[0].queue) == 40
        finally:
            await d.close(timeout_s=0.1)
    markets = [a["market"] for r in rx.received for a in r.body["alerts"]]
    assert len(set(markets)) == len(markets)


async def test_repeats_are_reminded_with_their_count_and_one_shots_never_resolve() -> None:
    clock = Clock()
    async with AlertReceiver() as rx:
        d = dispatcher_for("webhook", rx, clear_after_s=0, reminder_s=60, clock=clock,
                           wall_ms=clock.ms)
        await d.start()
        try:
            for _ in range(5):
                d.emit(Alert(Kind.RATE_LIMITED, Severity.WARNING, "429", "slow down",
                             key_label="k", one_shot=True))
            await drain(d)
            clock.t += 61
            await drain(d)
            clock.t += 61  # a quiet interval: the group is forgotten, no "resolved"
            await drain(d)
            d.emit(Alert(Kind.RATE_LIMITED, Severity.WARNING, "429", "slow down",
                         key_label="k", one_shot=True))
            await drain(d)
        finally:
            await d.close()
    statuses = [(r.body["alerts"][0]["status"], r.body["alerts"][0]["repeats"])
                for r in rx.received]
    assert statuses == [("firing", 0), ("reminder", 4), ("firing", 0)]
    assert "4 more since the last message" in rx.texts()[1]


async def test_failures_are_retried_with_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import liquidity_bot.alerts.dispatcher as dispatcher_module

    monkeypatch.setattr(dispatcher_module, "BACKOFF_START_S", 0.01)
    async with AlertReceiver(fail_first=2) as rx:
        d = dispatcher_for("slack", rx, retries=3)
        await d.start()
        try:
            d.emit(Alert(Kind.KILL_SWITCH, Severity.CRITICAL, "kill switch", "look",
                         market="XRPUSDT"))
            await rx.wait_for(1)
        finally:
            await d.close()
        assert rx.requests == 3 and len(rx.received) == 1
        assert d.senders[0].attempts == 3 and d.senders[0].sent == 1


async def test_a_dead_receiver_does_not_hold_up_the_caller_or_the_loop() -> None:
    # No timing asserts: the enqueue path is plain synchronous code that does no I/O, the
    # queue stays bounded, and a "quoting" task keeps running while every send hangs.
    async with AlertReceiver(mode="never") as rx:
        d = dispatcher_for("webhook", rx, queue_size=100, timeout_s=30, retries=5)
        assert not inspect.iscoroutinefunction(d.emit)
        assert not inspect.iscoroutinefunction(d.clear)
        await d.start()
        passes = 0
        stop = asyncio.Event()

        async def quoting() -> None:
            nonlocal passes
            while not stop.is_set():
                passes += 1
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(quoting())
        try:
            d.emit(Alert(Kind.BREACH, Severity.WARNING, "first", "act", market="M0"))
            while rx.requests == 0:  # the first send is on the wire and will never be answered
                await asyncio.sleep(0.01)
            assert d.senders[0].busy
            before = passes
            for i in range(5000):  # an alert storm while the channel is stuck
                d.emit(Alert(Kind.BREACH, Severity.WARNING, "storm", "act", market=f"M{i}"))
            assert len(d.inbox) == 100 and d.dropped == 4900  # bounded: oldest dropped, counted
            for _ in range(20):
                d.process()
                await asyncio.sleep(0.005)
            assert passes > before + 20  # the loop went on while the send hung
            assert len(d.senders[0].queue) <= 100
            assert rx.requests == 1 and d.senders[0].busy
        finally:
            stop.set()
            await task
            await d.close(timeout_s=0.1)  # shutdown does not wait for the dead receiver either
    assert not d._tasks


async def test_channel_severity_filter() -> None:
    async with AlertReceiver() as rx:
        d = dispatcher_for("webhook", rx)
        d.senders[0].channel.min_severity = Severity.CRITICAL
        await d.start()
        try:
            d.emit(Alert(Kind.KEY_UNUSED, Severity.INFO, "unused", "remove it", key_label="a"))
            d.emit(Alert(Kind.KILL_SWITCH, Severity.CRITICAL, "kill", "look", market="X"))
            await rx.wait_for(1)
            await drain(d)
        finally:
            await d.close()
    kinds = [a["kind"] for r in rx.received for a in r.body["alerts"]]
    assert kinds == ["kill_switch"]


# --- secrets ---------------------------------------------------------------------------------


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("text", "DEBUG", stream=stream)
    yield stream
    configure_logging("text", "WARNING")


async def test_the_webhook_and_telegram_secrets_never_reach_the_logs(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import liquidity_bot.alerts.dispatcher as dispatcher_module

    monkeypatch.setattr(dispatcher_module, "BACKOFF_START_S", 0.01)
    canary = "CanaryHookSecret-d41d8cd98f00"
    async with AlertReceiver(fail_first=1000) as failing, AlertReceiver(mode="never") as dead:
        env = {"A_URL": f"{failing.url}/hooks/{canary}", "B_URL": f"{dead.url}/x/{canary}",
               "C_URL": f"http://127.0.0.1:9/{canary}", "TG_TOKEN": TOKEN}
        configs = [
            AlertChannelConfig(name="failing", type="webhook", url_env="A_URL", retries=2),
            AlertChannelConfig(name="dead", type="slack", url_env="B_URL", retries=1,
                               timeout_s=0.2),
            AlertChannelConfig(name="closed", type="webhook", url_env="C_URL", retries=1),
            AlertChannelConfig(name="tg", type="telegram", token_env="TG_TOKEN",
                               chat_id="1", api_url="http://127.0.0.1:9", retries=1),
        ]
        channels = build_channels(configs, env)
        d = AlertDispatcher(channels, tick_s=0.02)
        logging.getLogger("test").warning("configured %r and %s", channels, configs)
        await d.start()
        try:
            d.emit(Alert(Kind.IP_BANNED, Severity.CRITICAL, "banned", "wait", key_label="k"))
            for _ in range(300):
                await asyncio.sleep(0.01)
                if all(s.failed for s in d.senders):
                    break
            assert all(s.failed == 1 for s in d.senders)
            logging.getLogger("test").error("url %s token %s", env["A_URL"], TOKEN)
        finally:
            await d.close(timeout_s=0.1)
    text = log_stream.getvalue()
    assert "not delivered" in text  # the failures were logged ...
    assert canary not in text and "CanaryTelegramToken" not in text  # ... without the secrets
    for value in env.values():
        forget_secret(value)


def test_alerts_test_command_sends_one_message_per_channel(tmp_path, monkeypatch) -> None:
    from liquidity_bot.cli import app

    async def serve_and_run() -> tuple[list, list, object]:
        async with AlertReceiver() as hook, AlertReceiver() as tg:
            monkeypatch.setenv("LB_TEST_HOOK", f"{hook.url}/hook/CanaryCliSecret-55aa")
            monkeypatch.setenv("LB_TEST_TG", TOKEN)
            config = tmp_path / "bot.toml"
            config.write_text(f"""
[[alerts.channels]]
name = "hook"
type = "webhook"
url_env = "LB_TEST_HOOK"
[[alerts.channels]]
name = "chat"
type = "slack"
url_env = "LB_TEST_HOOK"
[[alerts.channels]]
name = "tg"
type = "telegram"
token_env = "LB_TEST_TG"
chat_id = "42"
api_url = "{tg.url}"
""")
            result = await asyncio.to_thread(
                CliRunner().invoke, app, ["--home", str(tmp_path), "alerts", "test",
                                          "--config", str(config)])
            return hook.received, tg.received, result

    hook_msgs, tg_msgs, result = asyncio.run(serve_and_run())
    assert result.exit_code == 0, result.output
    assert "hook (webhook): sent" in result.output and "tg (telegram): sent" in result.output
    assert "CanaryCliSecret" not in result.output
    assert len(hook_msgs) == 2 and len(tg_msgs) == 1
    assert hook_msgs[0].body["alerts"][0]["status"] == "test"
    assert tg_msgs[0].body["chat_id"] == "42"


def test_alerts_test_command_fails_for_a_missing_variable_without_sending(tmp_path) -> None:
    from liquidity_bot.cli import app

    config = tmp_path / "bot.toml"
    config.write_text('[[alerts.channels]]\nname = "hook"\ntype = "webhook"\n'
                      'url_env = "LB_TEST_UNSET_VARIABLE"\n')
    result = CliRunner().invoke(app, ["alerts", "test", "--config", str(config)])
    assert result.exit_code == 3
    assert "LB_TEST_UNSET_VARIABLE is not set" in " ".join(result.output.split())


async def test_close_right_after_an_alert_never_hangs() -> None:
    # The bot's last alert is emitted just before close: the grouper is woken and cancelled at
    # once (asyncio.wait_for on 3.11 could lose that cancellation and hang the shutdown).
    for _ in range(50):
        d = AlertDispatcher(tick_s=0.05)
        await d.start()
        await asyncio.sleep(0)
        d.emit(Alert(Kind.BOT_STOPPING, Severity.WARNING, "stopping", "none", one_shot=True))
        await asyncio.wait_for(d.close(timeout_s=1), 5)
        assert [n.alert.kind for n in d.history] == [Kind.BOT_STOPPING]
