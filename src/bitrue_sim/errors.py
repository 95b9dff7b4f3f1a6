"""The exchange's documented error answers, as one exception type the server turns into JSON."""

from __future__ import annotations


class ExchangeError(Exception):
    """An error the simulated exchange answers with: HTTP status, Bitrue code, message.

    Raised by the core (filters, balances, unknown orders) and by the server (auth, permissions,
    rate limits); the server renders it as ``{"code": code, "msg": msg}`` with ``http_status``.
    """

    def __init__(self, http_status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(f"{http_status} {code} {msg}")
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.headers = headers or {}
