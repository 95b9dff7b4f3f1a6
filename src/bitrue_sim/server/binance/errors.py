"""Binance's error answers: one table from the shared core's errors to Binance's codes.

The core and the shared pieces (parameters, rate limiter) raise ``ExchangeError`` in the
Bitrue dialect's terms; ``translate`` maps each onto Binance's status, code and message.
Errors the Binance layer raises itself are ``BinanceError`` and pass through unchanged. The
body is always Binance's ``{"code": <int>, "msg": <str>}``.
"""

from __future__ import annotations

from bitrue_sim.errors import ExchangeError


class BinanceError(ExchangeError):
    """An error already in Binance's terms (status, code, message)."""


def bad_request(code: int, msg: str) -> BinanceError:
    return BinanceError(400, code, msg)


REJECTED_MBX_KEY = "Invalid API-key, IP, or permissions for action."


def rejected_key() -> BinanceError:
    return BinanceError(401, -2015, REJECTED_MBX_KEY)


def unknown_order_on_cancel() -> BinanceError:
    return bad_request(-2011, "Unknown order sent.")


# Bitrue-dialect code -> (Binance status, Binance code); the message is kept unless a rule
# below rewrites it into Binance's documented wording.
_BY_CODE: dict[int, tuple[int, int]] = {
    -1102: (400, -1102),
    -1121: (400, -1121),
    -2013: (400, -2013),
    -2010: (400, -2010),
    -1150: (400, -1125),
    -1016: (500, -1001),
    -1020: (405, -1020),
    -1015: (429, -1015),
}


def translate(exc: ExchangeError) -> ExchangeError:
    """The Binance answer for an error raised by the shared core or pieces."""
    if isinstance(exc, BinanceError):
        return exc
    code, msg = exc.code, exc.msg
    if exc.http_status in (418, 429):  # the limiter: same codes as Binance, headers kept
        return BinanceError(exc.http_status, code, msg, exc.headers)
    if code == -1111:
        if msg.startswith("Filter failure") or "Filter failure" in msg:
            filter_msg = msg[msg.index("Filter failure"):]
            if "below minVal" in filter_msg:
                filter_msg = filter_msg.replace("LOT_SIZE", "NOTIONAL", 1)
            return bad_request(-1013, filter_msg)
        return bad_request(-1100, msg)
    if code == -2010:
        if msg.startswith("Insufficient"):
            return bad_request(-2010, "Account has insufficient balance for requested action.")
        if msg.startswith("Duplicate"):
            return bad_request(-2010, "Duplicate order sent.")
        return bad_request(-2010, msg)
    if code == -2013:
        return bad_request(-2013, "Order does not exist.")
    if exc.http_status >= 500:
        return BinanceError(
            exc.http_status if exc.http_status != 200 else 500,
            -1001,
            "Internal error; unable to process your request. Please try again.",
        )
    mapped = _BY_CODE.get(code)
    if mapped is not None:
        return BinanceError(mapped[0], mapped[1], msg, exc.headers)
    if exc.http_status == 404:
        return BinanceError(404, -1000, msg)
    return BinanceError(exc.http_status if exc.http_status >= 400 else 400, -1000, msg)
