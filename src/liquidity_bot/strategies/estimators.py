"""Online estimates for Avellaneda-Stoikov / GLFT: volatility and order-arrival intensity.

These are model parameters, not money, so the maths is in floats; strategies convert what they
derive from them to Decimal with explicit rounding before any price is formed. All distances are
in percent of mid, all rates per second, all times come from the caller (no clock is read).

Volatility (`EwmaVolatility`)
    sigma^2 per second = EWMA of squared log returns of mid divided by the elapsed time:
    with decay w = exp(-dt / window_s) at each new mid,
        S_r2 <- w * S_r2 + r^2        (r = 100 * ln(mid / previous mid), percent)
        S_dt <- w * S_dt + dt         (seconds)
        sigma_pct = sqrt(S_r2 / S_dt)
    Dividing the decayed sum of squared returns by the decayed elapsed time keeps the estimate
    unbiased when snapshots arrive at irregular intervals (Bitrue pushes when the book changes).

Order-arrival intensity (`IntensityEstimator`, one per side)
    The model: market orders that reach at least delta percent from mid arrive as a Poisson
    process of rate lambda(delta) = A * exp(-kappa * delta), separately for each side: market
    sells reach our bids, market buys our asks (pooling them mixes two different flows, and a
    trending market has very different ones).
    Only trades count as arrivals, from two sources:
    1. Our own fills (from the user stream), each one arrival at its distance from mid, on the
       side of our order.
    2. Trades seen in the book (Bitrue has no public trade channel for spot). Between two
       snapshots a side that lost quantity from its best price inward and gained none anywhere
       in the compared levels was traded against: the deepest consumed price p is one arrival at
       (p - mid) / mid of the previous mid (bids mirrored). A side that also gained quantity is a
       maker's cancel-and-replace (or a mix) and is not counted; our own resting quantity (if
       the caller passes it) is removed from both books first, so our cancels are not counted
       either. Accepted and written down: a trade in the same interval as a requote on that side
       is missed (A understated, kappa unaffected), a pure cancel at the best price with nothing
       replaced looks like a trade, one interval can hide several trades (the deepest counts),
       and a trade that fills our order and others' counts twice.
    Over the rolling window (length T seconds of observation) the number of arrivals reaching at
    least depth d_j is counted for depth grid points d_j (quantiles of the observed depths) and
    ln(N_j / T) = ln A - kappa * d_j is fitted by least squares. Until `min_hits` trades are in
    a side's window, or when its fit is not decreasing in depth, that side uses the configured
    defaults (`warm` is False).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal

from liquidity_bot.strategies.base import MarketEstimates, Side

Level = tuple[Decimal, Decimal]  # (price, qty)
ZERO = Decimal(0)


class EwmaVolatility:
    """EWMA of squared log returns of mid, scaled to per second (percent / sqrt(s))."""

    def __init__(self, window_s: float, default_sigma_pct: float, min_samples: int = 30) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = float(window_s)
        self.default_sigma_pct = float(default_sigma_pct)
        self.min_samples = min_samples
        self.samples = 0
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self._last_ms: int | None = None
        self._last_mid: float | None = None

    def update(self, ts_ms: int, mid: Decimal) -> None:
        m = float(mid)
        if not m > 0 or not math.isfinite(m):
            return
        if self._last_ms is None or self._last_mid is None:
            self._last_ms, self._last_mid = ts_ms, m
            return
        dt = (ts_ms - self._last_ms) / 1000.0
        if dt <= 0:  # same instant (or out of order): keep the first, it is what we last saw
            return
        r = 100.0 * math.log(m / self._last_mid)
        w = math.exp(-dt / self.window_s)
        self._sum_r2 = w * self._sum_r2 + r * r
        self._sum_dt = w * self._sum_dt + dt
        self._last_ms, self._last_mid = ts_ms, m
        self.samples += 1

    @property
    def warm(self) -> bool:
        return self.samples >= self.min_samples and self._sum_dt > 0

    @property
    def sigma_pct(self) -> float:
        """Volatility of mid in percent per sqrt(second); the default until warm."""
        if not self.warm:
            return self.default_sigma_pct
        return math.sqrt(self._sum_r2 / self._sum_dt)


def _without_own(
    levels: Sequence[Level], own: Mapping[Decimal, Decimal] | None, depth: int
) -> list[Level]:
    if not own:
        return list(levels[:depth])
    out = []
    for price, qty in levels[:depth]:
        rest = qty - own.get(price, Decimal(0))
        if rest > 0:
            out.append((price, rest))
    return out


class IntensityEstimator:
    """Fits lambda(delta) = A exp(-kappa delta) to one side's trades (see module doc)."""

    def __init__(
        self,
        window_s: float,
        kappa_default: float,
        a_default: float,
        min_hits: int = 30,
        grid_points: int = 10,
    ) -> None:
        self.window_ms = int(window_s * 1000)
        self.kappa_default = float(kappa_default)
        self.a_default = float(a_default)
        self.min_hits = min_hits
        self.grid_points = grid_points
        self._hits: deque[tuple[int, float]] = deque()
        self._first_ms: int | None = None
        # Every pass asks for a fit, but the window changes only when a trade comes in or
        # leaves: the last fit is reused while the hits and the observed time are the same.
        self._changes = 0
        self._fitted: tuple[int, float, tuple[float, float, bool]] | None = None

    # -- feeding ---------------------------------------------------------------------------

    def start(self, ts_ms: int) -> None:
        """Observation starts (the first book): a quiet market is evidence too."""
        if self._first_ms is None:
            self._first_ms = ts_ms

    def record_hit(self, ts_ms: int, depth_pct: float) -> None:
        """One market order that reached `depth_pct` percent from mid."""
        if self._first_ms is None:
            self._first_ms = ts_ms
        if depth_pct >= 0 and math.isfinite(depth_pct):
            self._hits.append((ts_ms, depth_pct))
            self._changes += 1
            # bounded by the window whether or not ``fit`` is called: what goes here is a
            # prefix that any later ``fit(now >= ts_ms)`` would drop too
            self._prune(ts_ms)

    # -- estimate --------------------------------------------------------------------------

    def _prune(self, now_ms: int) -> None:
        edge = now_ms - self.window_ms
        while self._hits and self._hits[0][0] < edge:
            self._hits.popleft()
            self._changes += 1

    def fit(self, now_ms: int) -> tuple[float, float, bool]:
        """(A, kappa, warm); the defaults when there is not enough evidence."""
        self._prune(now_ms)
        defaults = (self.a_default, self.kappa_default, False)
        n = len(self._hits)
        if n < self.min_hits or self._first_ms is None:
            return defaults
        observed_s = min(self.window_ms, now_ms - self._first_ms) / 1000.0
        if observed_s <= 0:
            return defaults
        fitted = self._fitted
        if fitted is not None and fitted[0] == self._changes and fitted[1] == observed_s:
            return fitted[2]
        result = self._fit(n, observed_s)
        self._fitted = (self._changes, observed_s, result)
        return result

    def _fit(self, n: int, observed_s: float) -> tuple[float, float, bool]:
        defaults = (self.a_default, self.kappa_default, False)
        depths = sorted(d for _, d in self._hits)
        xs: list[float] = []
        ys: list[float] = []
        for j in range(self.grid_points):
            # quantile grid up to the 90th percentile: the far tail is too sparse to fit
            d = depths[int(j * 0.9 * (n - 1) / max(1, self.grid_points - 1))]
            if xs and d <= xs[-1]:
                continue
            count = n - bisect_left(depths, d)
            xs.append(d)
            ys.append(math.log(count / observed_s))
        if len(xs) < 3:
            return defaults
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx <= 0:
            return defaults
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        kappa = -slope
        a = math.exp(my - slope * mx)
        if not (kappa > 0 and math.isfinite(kappa) and a > 0 and math.isfinite(a)):
            return defaults
        return a, kappa, True

    @property
    def hits(self) -> int:
        return len(self._hits)


def traded_price(prev: Sequence[Level], now: Sequence[Level], *, is_ask: bool) -> Decimal | None:
    """The deepest price traded on one side between two snapshots (best first), or None when the
    change is not a trade's: nothing consumed, or quantity added somewhere (see module doc)."""
    if not prev or not now:
        return None
    best = now[0][0]
    deepest: Decimal | None = None
    before: dict[Decimal, Decimal] = {}
    for price, qty in prev:
        before[price] = qty
        beyond = price < best if is_ask else price > best
        if beyond:  # the level vanished
            deepest = price
        elif price == best and now[0][1] < qty:  # the new best level shrank
            deepest = price
    if deepest is None:
        return None
    last = prev[-1][0]
    for price, qty in now:
        if (price > last) if is_ask else (price < last):
            break  # beyond what the previous snapshot showed: cannot tell
        if qty > before.get(price, ZERO):
            return None  # liquidity added: a requote, not (only) a trade
    return deepest


class MarketEstimator:
    """Volatility + per-side intensity for one market, fed by the runner with books and our
    fills; hands out `MarketEstimates`."""

    def __init__(
        self,
        *,
        vol_window_s: float,
        kappa_default: float,
        a_default: float = 1.0,
        sigma_default_pct: float = 0.01,
        intensity_window_s: float | None = None,
        min_vol_samples: int = 30,
        min_hits: int = 30,
        levels: int = 50,
        arrivals: bool = True,
    ) -> None:
        self.arrivals = arrivals  # False: volatility only (the ladder), no book comparison
        self.volatility = EwmaVolatility(vol_window_s, sigma_default_pct, min_vol_samples)
        window = intensity_window_s or max(vol_window_s, 600.0)
        self.bid = IntensityEstimator(window, kappa_default, a_default, min_hits)
        self.ask = IntensityEstimator(window, kappa_default, a_default, min_hits)
        self.levels = levels  # only the best `levels` of each side are compared (bounded cost)
        self._prev: tuple[list[Level], list[Level], float] | None = None
        self._last_estimates: tuple[tuple[object, ...], MarketEstimates] | None = None
        self._last_volatility: tuple[tuple[float, bool], MarketEstimates] | None = None

    def on_book(
        self,
        ts_ms: int,
        book: object,
        own_bids: Mapping[Decimal, Decimal] | None = None,
        own_asks: Mapping[Decimal, Decimal] | None = None,
    ) -> None:
        """Feed a `domain.book.OrderBook` (or anything with best-first `bids`/`asks` levels)
        with our own resting quantity per price, if known."""
        # an OrderBook's lazy sides convert only the levels read (``levels`` of 100)
        raw_bids: Sequence[Level] = getattr(book, "bid_side", None) or book.bids  # type: ignore
        raw_asks: Sequence[Level] = getattr(book, "ask_side", None) or book.asks  # type: ignore
        if raw_bids and raw_asks:
            self.volatility.update(ts_ms, (raw_bids[0][0] + raw_asks[0][0]) / 2)
        if not self.arrivals:
            return
        self.bid.start(ts_ms)
        self.ask.start(ts_ms)
        bids = _without_own(raw_bids, own_bids, self.levels)
        asks = _without_own(raw_asks, own_asks, self.levels)
        if not bids or not asks:
            self._prev = None
            return
        if self._prev is not None:
            prev_bids, prev_asks, prev_mid = self._prev
            lifted = traded_price(prev_asks, asks, is_ask=True)
            if lifted is not None:
                self.ask.record_hit(ts_ms, (float(lifted) - prev_mid) / prev_mid * 100)
            hit = traded_price(prev_bids, bids, is_ask=False)
            if hit is not None:
                self.bid.record_hit(ts_ms, (prev_mid - float(hit)) / prev_mid * 100)
        self._prev = (bids, asks, float((bids[0][0] + asks[0][0]) / 2))

    def on_mid(self, ts_ms: int, mid: Decimal) -> None:
        """A volatility-only estimator's feed: what ``on_book`` does with a two-sided book
        whose mid is ``mid`` when ``arrivals`` is False (a book without a mid feeds nothing)."""
        self.volatility.update(ts_ms, mid)

    def on_own_fill(self, ts_ms: int, price: Decimal, mid: Decimal, side: Side) -> None:
        """One of our fills: an arrival on the side of our order (our bid: a market sell)."""
        if mid > 0:
            est = self.bid if side == Side.BUY else self.ask
            est.record_hit(ts_ms, float(abs(price - mid) / mid * 100))

    def volatility_estimates(self) -> MarketEstimates:
        """What a volatility-only strategy reads (the ladder: sigma alone): sigma and the
        arrival defaults, without the intensity fits of ``estimates``; the same object while
        sigma has not moved."""
        vol = self.volatility
        key = (vol.sigma_pct, vol.warm)
        last = self._last_volatility
        if last is not None and last[0] == key:
            return last[1]
        out = MarketEstimates(sigma_pct=key[0], a=self.bid.a_default,
                              kappa=self.bid.kappa_default, sigma_warm=key[1])
        self._last_volatility = (key, out)
        return out

    def estimates(self, now_ms: int) -> MarketEstimates:
        bid, ask = self.bid.fit(now_ms), self.ask.fit(now_ms)
        vol = self.volatility
        key = (vol.sigma_pct, vol.warm, bid, ask, self.bid.hits, self.ask.hits)
        last = self._last_estimates
        if last is not None and last[0] == key:
            return last[1]  # nothing moved: the same object (the strategy's cache sees it)
        a_b, k_b, warm_b = bid
        a_a, k_a, warm_a = ask
        out = MarketEstimates(
            sigma_pct=key[0],
            a=(a_b + a_a) / 2,
            kappa=(k_b + k_a) / 2,
            sigma_warm=key[1],
            intensity_warm=warm_b and warm_a,
            a_bid=a_b,
            kappa_bid=k_b,
            a_ask=a_a,
            kappa_ask=k_a,
            bid_trades=self.bid.hits,
            ask_trades=self.ask.hits,
        )
        self._last_estimates = (key, out)
        return out
