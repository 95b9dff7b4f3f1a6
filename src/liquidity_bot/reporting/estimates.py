"""The strategy's model inputs over a report's period, from what the store holds.

The live estimates (`strategies.estimators`) move with every book; the report states what the
period as a whole says, with the same estimators: the volatility of mid from the KPI samples
(percent per sqrt(second), equally weighted over the period), and per side the arrival rate A
(per second) and its decay kappa (per percent of distance from mid) fitted to our own fills
(trades only: a fill of our bid is a market sell reaching that far). A side with fewer than
`MIN_FILLS` fills has no fit (None): too little evidence to say anything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from liquidity_bot.strategies.estimators import EwmaVolatility, IntensityEstimator

MIN_FILLS = 10
_FOREVER_S = 1e12  # a window far longer than any report: every sample weighs the same


class PeriodEstimates:
    """Fed in time order with the samples' mids and our fills; `to_json` at the end."""

    def __init__(self) -> None:
        self.volatility = EwmaVolatility(_FOREVER_S, default_sigma_pct=0.0, min_samples=2)
        self.sides = {side: IntensityEstimator(_FOREVER_S, kappa_default=0.0, a_default=0.0,
                                               min_hits=MIN_FILLS)
                      for side in ("BUY", "SELL")}
        self._mid: Decimal | None = None
        self._first_ms: int | None = None
        self._last_ms: int | None = None

    def on_mid(self, ts_ms: int, mid: Decimal | None) -> None:
        if self._first_ms is None:
            self._first_ms = ts_ms
            for est in self.sides.values():
                est.start(ts_ms)
        self._last_ms = ts_ms
        if mid is not None and mid > 0:
            self._mid = mid
            self.volatility.update(ts_ms, mid)

    def on_fill(self, side: object, price: Decimal, ts_ms: int) -> None:
        """A fill of ours, at its distance from the last mid seen before it."""
        name = str(getattr(side, "value", side)).upper()
        if self._mid is not None and name in self.sides:
            self.sides[name].record_hit(ts_ms, float(abs(price - self._mid) / self._mid * 100))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sigma_pct": round(self.volatility.sigma_pct, 6) if self.volatility.warm else None,
        }
        for name, key in (("BUY", "bid"), ("SELL", "ask")):
            est = self.sides[name]
            a, kappa, fitted = est.fit(self._last_ms or 0)
            out[key] = {"fills": est.hits, "a": round(a, 6) if fitted else None,
                        "kappa": round(kappa, 4) if fitted else None}
        return out
