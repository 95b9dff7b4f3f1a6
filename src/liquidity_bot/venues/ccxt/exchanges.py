"""What differs per exchange and ccxt does not say: client-order-id rules, post-only support,
the documented order-rate limit. Anything missing falls back to conservative defaults.

Sources: each exchange's API docs (binance-spot-api-docs ``rest-api.md`` for
``newClientOrderId`` ``^[a-zA-Z0-9-_]{1,36}$`` and ORDERS 100 / 10 s; Bitrue's spot docs for
64-character client ids and 100 orders / 60 s; OKX ``clOrdId`` 1-32 alphanumerics; Bybit
``orderLinkId`` up to 36; KuCoin ``clientOid`` up to 40; Gate ``text`` starting ``t-``, 28
bytes after it; MEXC ``newClientOrderId`` up to 32).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientIdRule:
    """How the exchange wants a client order id; ``prefix`` is added on the way out and
    removed on the way back (Gate's ``t-``), so the engine always sees its own id."""

    max_len: int = 32
    pattern: str = r"[A-Za-z0-9]+"
    prefix: str = ""

    def to_exchange(self, cid: str) -> str:
        wire = self.prefix + cid
        if len(wire) > self.max_len or not re.fullmatch(self.pattern, cid):
            raise ValueError(
                f"client order id {cid!r} does not fit this exchange's rule (at most "
                f"{self.max_len - len(self.prefix)} characters of {self.pattern}); use a "
                "shorter client id prefix in the config"
            )
        return wire

    def from_exchange(self, wire: str | None) -> str | None:
        if wire and self.prefix and wire.startswith(self.prefix):
            return wire[len(self.prefix):]
        return wire


@dataclass(frozen=True)
class OrderRate:
    """At most ``limit`` new orders (and cancels, where the exchange counts them) per
    ``window_s`` seconds per key: the budget the engine plans with."""

    limit: int
    window_s: float
    counts_cancels: bool = True
    source: str = "documented"


@dataclass(frozen=True)
class ExchangeFacts:
    client_ids: ClientIdRule = ClientIdRule()
    post_only: bool = False
    order_rate: OrderRate | None = None


FACTS: dict[str, ExchangeFacts] = {
    "binance": ExchangeFacts(ClientIdRule(36, r"[A-Za-z0-9_-]+"), post_only=True,
                             order_rate=OrderRate(100, 10.0, counts_cancels=False)),
    "bitrue": ExchangeFacts(ClientIdRule(64, r"[A-Za-z0-9._:/-]+"), post_only=False,
                            order_rate=OrderRate(100, 60.0)),
    "okx": ExchangeFacts(ClientIdRule(32, r"[A-Za-z0-9]+"), post_only=True,
                         order_rate=OrderRate(60, 2.0)),
    "bybit": ExchangeFacts(ClientIdRule(36, r"[A-Za-z0-9_-]+"), post_only=True),
    "kucoin": ExchangeFacts(ClientIdRule(40, r"[A-Za-z0-9_-]+"), post_only=True),
    "gate": ExchangeFacts(ClientIdRule(30, r"[A-Za-z0-9_.-]+", prefix="t-"), post_only=True),
    "mexc": ExchangeFacts(ClientIdRule(32, r"[A-Za-z0-9_-]+"), post_only=True),
    "bitmart": ExchangeFacts(ClientIdRule(32, r"[A-Za-z0-9]+"), post_only=True),
    "coinbase": ExchangeFacts(ClientIdRule(36, r"[A-Za-z0-9-]+"), post_only=True),
}


def facts_for(exchange_id: str, rate_limit_ms: float | None = None) -> ExchangeFacts:
    """The facts for ``exchange_id``; an exchange without a documented order rate gets one
    derived from ccxt's request spacing (``rateLimit`` ms between requests), halved, so the
    budget never plans more than ccxt would send."""
    facts = FACTS.get(exchange_id, ExchangeFacts())
    if facts.order_rate is None:
        per_s = 1000.0 / max(float(rate_limit_ms or 1000.0), 1.0)
        facts = ExchangeFacts(facts.client_ids, facts.post_only,
                              OrderRate(max(1, int(per_s * 10 / 2)), 10.0,
                                        source="derived from ccxt rateLimit"))
    return facts
