"""Fault profiles and the fault injector (no sockets).

FP01 profiles/everything.toml loads and turns every fault kind on
FP02 unknown keys, wrong types and out-of-range values fail naming the key and the file
FP03 the same seed and request sequence give the same faults; another seed differs
FP04 unknown outcomes only hit the configured mutating paths and methods
FP05 latency stays within its bounds for every distribution
FP06 endpoint-down windows follow start/duration/period on the injector's clock
FP07 WebSocket fault chances follow the per-minute rates and the stream filter
FP08 clock skew is applied to a WallClock and counted
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bitrue_sim.core.clock import WallClock
from bitrue_sim.faults import (
    EndpointDown,
    FaultInjector,
    FaultProfile,
    FaultProfileError,
    Latency,
    UnknownOutcome,
    WsDisconnect,
    WsStall,
)

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_fp01_everything_profile():
    profile = FaultProfile.from_toml(PROFILES / "everything.toml")
    assert profile.unknown_outcome.probability > 0
    assert 0 < profile.unknown_outcome.accepted_probability < 1
    assert profile.latency.probability > 0
    assert profile.rate_limit_burst.probability > 0
    assert profile.ws_disconnect.per_minute > 0 and profile.ws_stall.per_minute > 0
    assert profile.listen_key_invalidation.per_minute > 0
    assert profile.clock_skew.skew_ms != 0
    assert profile.endpoint_down and profile.endpoint_down[0].duration_s > 0


@pytest.mark.parametrize("text, needle", [
    ("[latency]\nmean = 3\n", "'mean'"),
    ("[earthquake]\n", "'earthquake'"),
    ("[latency]\nprobability = 1.5\n", "'probability'"),
    ("[latency]\ndistribution = 'pareto'\n", "distribution"),
    ("[rate_limit_burst]\nlength = 2.5\n", "'length'"),
    ("[ws_stall]\nduration_s = 'long'\n", "'duration_s'"),
    ("[ws_stall]\nper_minute = -1\n", "'per_minute'"),
    ("seed = 'x'\n", "'seed'"),
    ("[latency\n", "not valid TOML"),
])
def test_fp02_bad_profiles_name_key_and_file(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FaultProfileError) as info:
        FaultProfile.from_toml(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_fp02_missing_file():
    with pytest.raises(FaultProfileError, match="does not exist"):
        FaultProfile.from_toml(PROFILES / "no-such-profile.toml")


def decisions(seed: int, n: int = 400) -> list:
    profile = FaultProfile.from_toml(PROFILES / "everything.toml")
    clock = FakeTime()
    injector = FaultInjector(profile, seed, clock)
    out = []
    for i in range(n):
        clock.now += 250
        method, path = ("POST", "/api/v1/order") if i % 3 else ("GET", "/api/v1/depth")
        out.append(injector.http(method, path))
        out.append(injector.ws("market", 1.0))
    return out


def test_fp03_deterministic_by_seed():
    assert decisions(7) == decisions(7)
    assert decisions(7) != decisions(8)


def test_fp04_unknown_outcome_scope():
    injector = FaultInjector(FaultProfile(unknown_outcome=UnknownOutcome(probability=1.0)),
                             0, FakeTime())
    assert injector.http("GET", "/api/v1/order").executes
    assert not injector.http("GET", "/api/v1/order").unknown_outcome
    assert not injector.http("POST", "/api/v1/account").unknown_outcome
    results = [injector.http("POST", "/api/v1/order") for _ in range(200)]
    assert all(r.unknown_outcome for r in results)
    executed = sum(r.after_status is not None for r in results)
    assert 60 < executed < 140  # accepted_probability 0.5
    assert injector.counts["unknown_outcome"] == 200
    assert injector.counts["unknown_outcome_accepted"] == executed


@pytest.mark.parametrize("distribution", ["fixed", "uniform", "exponential"])
def test_fp05_latency_bounds(distribution):
    latency = Latency(probability=0.5, distribution=distribution, mean_ms=40, min_ms=10,
                      max_ms=120)
    injector = FaultInjector(FaultProfile(latency=latency), 3, FakeTime())
    delays = [injector.http("GET", "/api/v1/time").delay_ms for _ in range(500)]
    drawn = [d for d in delays if d]
    assert 150 < len(drawn) < 350 and injector.counts["latency"] == len(drawn)
    assert all(10 <= d <= 120 for d in drawn)
    if distribution == "fixed":
        assert set(drawn) == {40}


def test_fp06_endpoint_down_windows():
    clock = FakeTime()
    down = EndpointDown(path="/api/v1/order", methods=("POST",), start_s=10, duration_s=5,
                        period_s=60)
    injector = FaultInjector(FaultProfile(endpoint_down=(down,)), 0, clock)
    timeline = {}
    for second in range(0, 130):
        clock.now = 1_000_000 + second * 1000
        timeline[second] = injector.http("POST", "/api/v1/order").reject_status
    down_seconds = [s for s, status in timeline.items() if status == 503]
    assert down_seconds == [10, 11, 12, 13, 14, 70, 71, 72, 73, 74]
    clock.now = 1_000_000 + 11_000
    assert injector.http("DELETE", "/api/v1/order").executes
    assert injector.http("POST", "/api/v1/openOrders").executes


def test_fp07_ws_fault_rates():
    profile = FaultProfile(ws_disconnect=WsDisconnect(per_minute=6.0, streams=("user",)),
                           ws_stall=WsStall(per_minute=60.0, duration_s=2.0))
    injector = FaultInjector(profile, 1, FakeTime())
    market = [injector.ws("market", 1.0) for _ in range(600)]
    assert {a for a in market if a} == {("stall", 2.0)}
    stalls = sum(a is not None for a in market)
    assert 300 < stalls < 460  # 1 - exp(-1) of 600 checks
    user = [injector.ws("user", 1.0) for _ in range(600)]
    drops = sum(1 for a in user if a and a[0] == "disconnect")
    assert 30 < drops < 90  # 1 - exp(-0.1) of 600 checks
    assert injector.counts["ws_disconnect"] == drops


def test_fp08_clock_skew():
    clock = WallClock()
    profile = FaultProfile.from_mapping({"clock_skew": {"skew_ms": -2500}})
    injector = FaultInjector(profile, 0, clock.now_ms)
    injector.apply_clock_skew(clock)
    assert clock.skew_ms == -2500 and injector.counts["clock_skew"] == 1
    injector.apply(FaultProfile())
    injector.apply_clock_skew(clock)
    assert clock.skew_ms == 0 and injector.counts["clock_skew"] == 1
