"""Fault injection: the failures a Bitrue client must survive, on demand and deterministic.

A ``FaultProfile`` (from a TOML file, ``--faults FILE``, or JSON via ``POST /sim/admin/faults``)
says which faults happen and how often; a ``FaultInjector`` draws them from random sources
seeded per fault kind, so the same seed and the same sequence of requests give the same faults.
Every injected fault is counted (``GET /sim/admin/faults``).

Kinds (TOML tables):
- ``[unknown_outcome]``: a mutating call answers HTTP 5xx; with ``accepted_probability`` the
  call WAS executed first (the client must reconcile), else it never reached the engine;
- ``[latency]``: added delay before the answer (fixed, uniform or exponential);
- ``[rate_limit_burst]``: a run of ``length`` requests answered 429 with ``rate_limit_p``;
- ``[ws_disconnect]``: WebSocket connections dropped (close frame or abrupt TCP reset);
- ``[ws_stall]``: a WebSocket stays open but sends nothing for ``duration_s``;
- ``[listen_key_invalidation]``: a listen key in use dies early (its stream closes);
- ``[clock_skew]``: the server clock (``WallClock.skew_ms``) shifted by ``skew_ms``;
- ``[[endpoint_down]]``: an endpoint answers 503 for ``duration_s`` starting ``start_s`` after
  the profile is applied, repeating every ``period_s`` when that is set.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MUTATING_PATHS = ("/api/v1/order",)


class FaultProfileError(ValueError):
    """A fault profile that cannot be used; the message names the key and the file."""


@dataclass(frozen=True)
class UnknownOutcome:
    probability: float = 0.0
    accepted_probability: float = 0.5
    statuses: tuple[int, ...] = (500, 503)
    paths: tuple[str, ...] = DEFAULT_MUTATING_PATHS
    methods: tuple[str, ...] = ("POST", "DELETE")


@dataclass(frozen=True)
class Latency:
    probability: float = 0.0
    distribution: str = "exponential"  # fixed | uniform | exponential
    mean_ms: float = 50.0
    min_ms: float = 0.0
    max_ms: float = 1000.0


@dataclass(frozen=True)
class RateLimitBurst:
    probability: float = 0.0
    length: int = 5
    policy: str = "general"


@dataclass(frozen=True)
class WsDisconnect:
    per_minute: float = 0.0  # expected drops per connection per minute
    abrupt_probability: float = 0.5  # TCP reset instead of a close frame
    streams: tuple[str, ...] = ("market", "user")


@dataclass(frozen=True)
class WsStall:
    per_minute: float = 0.0
    duration_s: float = 20.0
    streams: tuple[str, ...] = ("market", "user")


@dataclass(frozen=True)
class ListenKeyInvalidation:
    per_minute: float = 0.0  # per key in use by a stream


@dataclass(frozen=True)
class ClockSkew:
    skew_ms: int = 0


@dataclass(frozen=True)
class EndpointDown:
    path: str = "/api/v1/order"
    methods: tuple[str, ...] = ()  # empty: every method
    start_s: float = 0.0
    duration_s: float = 0.0
    period_s: float = 0.0  # 0: once
    status: int = 503


_SECTIONS: dict[str, type] = {
    "unknown_outcome": UnknownOutcome,
    "latency": Latency,
    "rate_limit_burst": RateLimitBurst,
    "ws_disconnect": WsDisconnect,
    "ws_stall": WsStall,
    "listen_key_invalidation": ListenKeyInvalidation,
    "clock_skew": ClockSkew,
}
KINDS = (*_SECTIONS, "endpoint_down")


@dataclass(frozen=True)
class FaultProfile:
    """Which faults happen and how often; all off by default."""

    seed: int | None = None
    unknown_outcome: UnknownOutcome = field(default_factory=UnknownOutcome)
    latency: Latency = field(default_factory=Latency)
    rate_limit_burst: RateLimitBurst = field(default_factory=RateLimitBurst)
    ws_disconnect: WsDisconnect = field(default_factory=WsDisconnect)
    ws_stall: WsStall = field(default_factory=WsStall)
    listen_key_invalidation: ListenKeyInvalidation = field(default_factory=ListenKeyInvalidation)
    clock_skew: ClockSkew = field(default_factory=ClockSkew)
    endpoint_down: tuple[EndpointDown, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "fault profile") -> FaultProfile:
        """Build from parsed TOML/JSON; unknown keys and bad values raise FaultProfileError."""
        if not isinstance(data, Mapping):
            raise FaultProfileError(f"{source}: expected a table/object at the top level")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "seed":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise FaultProfileError(f"{source}: 'seed' must be an integer")
                kwargs["seed"] = value
            elif key in _SECTIONS:
                kwargs[key] = _section(_SECTIONS[key], value, f"{source} [{key}]")
            elif key == "endpoint_down":
                items = value if isinstance(value, list) else [value]
                kwargs[key] = tuple(_section(EndpointDown, item, f"{source} [[endpoint_down]]")
                                    for item in items)
            else:
                raise FaultProfileError(
                    f"{source}: unknown key {key!r}; known: seed, {', '.join(KINDS)}")
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> FaultProfile:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise FaultProfileError(f"fault profile {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise FaultProfileError(f"fault profile {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(data, str(path))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _section(kind: type, value: Any, source: str) -> Any:
    if not isinstance(value, Mapping):
        raise FaultProfileError(f"{source}: expected a table")
    known = {f.name for f in fields(kind)}
    defaults = kind()
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in known:
            raise FaultProfileError(f"{source}: unknown key {key!r}; known: {', '.join(known)}")
        kwargs[key] = _checked(getattr(defaults, key), item, f"{source} {key!r}")
        if key.endswith("probability") and not 0.0 <= float(item) <= 1.0:
            raise FaultProfileError(f"{source}: {key!r} must be between 0 and 1, got {item}")
        if key != "skew_ms" and isinstance(item, int | float) and float(item) < 0:
            raise FaultProfileError(f"{source}: {key!r} must not be negative, got {item}")
    section = kind(**kwargs)
    if isinstance(section, Latency) and section.distribution not in (
            "fixed", "uniform", "exponential"):
        raise FaultProfileError(f"{source}: distribution must be fixed, uniform or "
                                f"exponential, got {section.distribution!r}")
    return section


def _checked(default: Any, item: Any, where: str) -> Any:
    """``item`` converted to the type of ``default``, or FaultProfileError."""
    if isinstance(default, tuple):
        if not isinstance(item, list | tuple):
            raise FaultProfileError(f"{where} must be a list")
        return tuple(item)
    if isinstance(default, str):
        if not isinstance(item, str):
            raise FaultProfileError(f"{where} must be a string, got {item!r}")
        return item
    if isinstance(item, bool) or not isinstance(item, int | float):
        raise FaultProfileError(f"{where} must be a number, got {item!r}")
    if isinstance(default, int) and not isinstance(item, int):
        raise FaultProfileError(f"{where} must be an integer, got {item!r}")
    return item


@dataclass(frozen=True)
class HttpFault:
    """What the fault layer does to one REST request."""

    delay_ms: float = 0.0
    # answer without running the handler
    reject_status: int | None = None
    reject_code: int = 0
    reject_msg: str = ""
    reject_headers: tuple[tuple[str, str], ...] = ()
    # run the handler, then answer 5xx anyway (the unknown-outcome case)
    after_status: int | None = None
    unknown_outcome: bool = False  # a 5xx whose outcome the client cannot know

    @property
    def executes(self) -> bool:
        return self.reject_status is None


NO_FAULT = HttpFault()


def error_body(status: int) -> tuple[int, str]:
    """The documented error code and message for a 5xx answer."""
    if status == 500:
        return -1016, "Service unavailable (simulated fault): the outcome is UNKNOWN, reconcile."
    return 503, "Service unavailable (simulated fault): the outcome is UNKNOWN, reconcile."


class FaultInjector:
    """Draws faults from a profile; counts every injected one.

    ``now_ms`` is the time source for endpoint-down windows (the exchange clock: wall time in
    the server, virtual time in the backtest driver).
    """

    def __init__(self, profile: FaultProfile, seed: int, now_ms: Callable[[], int]) -> None:
        self.counts: Counter[str] = Counter()
        self._now_ms = now_ms
        self._base_seed = seed
        self.apply(profile)

    @property
    def enabled(self) -> bool:
        return self.profile != FaultProfile()

    def apply(self, profile: FaultProfile) -> None:
        """Switch to ``profile`` (random sources restart from the profile's seed; the counts
        keep adding up over the server's life)."""
        self.profile = profile
        seed = profile.seed if profile.seed is not None else self._base_seed
        self.seed = seed
        self._rng = {kind: random.Random(f"faults:{seed}:{kind}") for kind in KINDS}
        self._burst_left = 0
        self._applied_at_ms = self._now_ms()

    def count(self, kind: str) -> None:
        self.counts[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        return {"seed": self.seed, "profile": self.profile.as_dict(),
                "counts": {**{kind: 0 for kind in KINDS}, **self.counts}}

    # ---- REST ----
    def http(self, method: str, path: str) -> HttpFault:
        """Decide the fault for one request (counted here)."""
        p = self.profile
        delay = self._latency_ms()
        down = self._endpoint_down(method, path)
        if down is not None:
            self.count("endpoint_down")
            code, msg = error_body(down.status)
            return HttpFault(delay_ms=delay, reject_status=down.status, reject_code=code,
                             reject_msg=f"Endpoint {path} is down (simulated outage).")
        burst = p.rate_limit_burst
        if self._burst_left == 0 and burst.probability > 0 and burst.length > 0 and \
                self._rng["rate_limit_burst"].random() < burst.probability:
            self._burst_left = burst.length
        if self._burst_left > 0:
            self._burst_left -= 1
            self.count("rate_limit_burst")
            return HttpFault(
                delay_ms=delay, reject_status=429, reject_code=-1003,
                reject_msg="Too many requests (simulated burst); back off and retry later.",
                reject_headers=(("rate_limit_p", burst.policy), ("Retry-After", "1")))
        uo = p.unknown_outcome
        if uo.probability > 0 and method.upper() in uo.methods and path in uo.paths:
            rng = self._rng["unknown_outcome"]
            if rng.random() < uo.probability:
                status = rng.choice(uo.statuses) if uo.statuses else 503
                accepted = rng.random() < uo.accepted_probability
                self.count("unknown_outcome")
                self.count("unknown_outcome_accepted" if accepted
                           else "unknown_outcome_rejected")
                if accepted:
                    return HttpFault(delay_ms=delay, after_status=status, unknown_outcome=True)
                code, msg = error_body(status)
                return HttpFault(delay_ms=delay, reject_status=status, reject_code=code,
                                 reject_msg=msg, unknown_outcome=True)
        return HttpFault(delay_ms=delay) if delay else NO_FAULT

    def _latency_ms(self) -> float:
        lat = self.profile.latency
        if lat.probability <= 0:
            return 0.0
        rng = self._rng["latency"]
        if rng.random() >= lat.probability:
            return 0.0
        if lat.distribution == "fixed":
            value = lat.mean_ms
        elif lat.distribution == "uniform":
            value = rng.uniform(lat.min_ms, lat.max_ms)
        else:
            value = lat.min_ms + rng.expovariate(1.0 / max(lat.mean_ms, 1e-9))
        self.count("latency")
        return min(max(value, lat.min_ms), lat.max_ms)

    def _endpoint_down(self, method: str, path: str) -> EndpointDown | None:
        if not self.profile.endpoint_down:
            return None
        elapsed_s = (self._now_ms() - self._applied_at_ms) / 1000
        for down in self.profile.endpoint_down:
            if down.path != path or (down.methods and method.upper() not in down.methods):
                continue
            t = elapsed_s - down.start_s
            if t < 0:
                continue
            if down.period_s > 0:
                t = math.fmod(t, down.period_s)
            if t < down.duration_s:
                return down
        return None

    # ---- WebSockets ----
    def ws(self, stream: str, interval_s: float) -> tuple[str, float] | None:
        """For one connection and one check interval: ("disconnect", abrupt 0/1),
        ("stall", seconds) or None. Counted here."""
        p = self.profile
        disc, stall = p.ws_disconnect, p.ws_stall
        if disc.per_minute > 0 and stream in disc.streams:
            rng = self._rng["ws_disconnect"]
            if rng.random() < _chance(disc.per_minute, interval_s):
                self.count("ws_disconnect")
                return ("disconnect", 1.0 if rng.random() < disc.abrupt_probability else 0.0)
        if stall.per_minute > 0 and stream in stall.streams:
            rng = self._rng["ws_stall"]
            if rng.random() < _chance(stall.per_minute, interval_s):
                self.count("ws_stall")
                return ("stall", stall.duration_s)
        return None

    def invalidate_listen_key(self, interval_s: float) -> bool:
        """For one listen key in use and one check interval: kill it now? Counted by caller."""
        rate = self.profile.listen_key_invalidation.per_minute
        if rate <= 0:
            return False
        return self._rng["listen_key_invalidation"].random() < _chance(rate, interval_s)

    def apply_clock_skew(self, clock: object) -> None:
        """Set ``clock.skew_ms`` (WallClock) to the profile's skew; counted when non-zero."""
        skew = self.profile.clock_skew.skew_ms
        if hasattr(clock, "skew_ms"):
            clock.skew_ms = skew  # type: ignore[attr-defined]
            if skew:
                self.count("clock_skew")


def _chance(per_minute: float, interval_s: float) -> float:
    """Probability of at least one event of a Poisson process within ``interval_s``."""
    return 1.0 - math.exp(-per_minute * interval_s / 60.0)


def load_profile(path: str | Path | None) -> FaultProfile:
    return FaultProfile() if path is None else FaultProfile.from_toml(path)
