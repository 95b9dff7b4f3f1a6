"""Binance request authentication: ``X-MBX-APIKEY``, HMAC-SHA256 over query + body,
``timestamp``/``recvWindow``, the key's IP allow list and permissions.

The docs (``rest-api.md`` "SIGNED Endpoint security"): the signature is the hex HMAC-SHA256 of
``totalParams``, the query string concatenated with the request body as sent (no ``&`` between
them); the request is valid when ``timestamp < serverTime + 1000`` and
``serverTime - timestamp <= recvWindow`` (default 5000, at most 60000). Every key problem a
client could probe (unknown, deleted or disabled key, IP not allowed, missing permission)
answers the same 401 ``-2015``, as Binance does, so the answer leaks nothing about which.
"""

from __future__ import annotations

import re

from aiohttp import web

from bitrue_sim.server.auth import Caller, RawRequest, _strip_signature
from bitrue_sim.server.binance.errors import BinanceError, bad_request, rejected_key
from bitrue_sim.server.state import SimState

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")

# Binance's security types -> the sim key permission they need ("Enable Reading" is implied by
# every key; spot trading is "Enable Spot & Margin Trading").
SECURITY_PERMISSION = {"USER_DATA": "read", "TRADE": "trade"}


def api_key_of(request: web.Request) -> str:
    key = request.headers.get("X-MBX-APIKEY", "").strip()
    if not key or not _KEY_FORMAT.match(key):
        raise BinanceError(401, -2014, "API-key format invalid.")
    return key


def authenticate_key_only(request: web.Request, state: SimState, raw: RawRequest) -> Caller:
    """USER_STREAM and MARKET_DATA: a valid key used from an allowed IP; no signature."""
    api_key = api_key_of(request)
    info = state.keys.active(api_key)
    if info is None or not state.keys.ip_allowed(api_key, request.remote):
        raise rejected_key()
    state.keys.record_use(api_key)
    return Caller(info.account_id, api_key, raw.params)


def check_signature(state: SimState, api_key: str, payload: str, signature: str | None) -> None:
    if not signature:
        raise bad_request(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    if not state.keys.signature_ok(api_key, payload.encode("utf-8"), signature):
        raise bad_request(-1022, "Signature for this request is not valid.")


def check_timestamp(state: SimState, timestamp: int, recv_window: int) -> None:
    if recv_window > MAX_RECV_WINDOW:
        raise bad_request(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    server_time = state.exchange.clock.now_ms()
    if timestamp >= server_time + 1000:
        raise bad_request(-1021, "Timestamp for this request was 1000ms ahead of the server's "
                                 "time.")
    if server_time - timestamp > recv_window:
        raise bad_request(-1021, "Timestamp for this request is outside of the recvWindow.")


def authorize(state: SimState, api_key: str, remote: str | None, security: str) -> int:
    """The account id of an active key allowed from ``remote`` with ``security``'s permission."""
    info = state.keys.active(api_key)
    if info is None or not state.keys.ip_allowed(api_key, remote):
        raise rejected_key()
    needed = SECURITY_PERMISSION.get(security)
    if needed is not None and needed not in info.permissions:
        raise rejected_key()
    state.keys.record_use(api_key)
    return info.account_id


def authenticate_signed(
    request: web.Request, state: SimState, raw: RawRequest, security: str
) -> Caller:
    """SIGNED endpoints (TRADE, USER_DATA): signature, time window, key, IP, permission."""
    api_key = api_key_of(request)
    query_rest, sig_q = _strip_signature(raw.raw_query)
    body_rest, sig_b = _strip_signature(raw.raw_body.decode("utf-8", errors="replace"))
    if state.keys.get(api_key) is None or not state.keys.active(api_key):
        raise rejected_key()
    check_signature(state, api_key, query_rest + body_rest, sig_q or sig_b)
    params = raw.params
    timestamp = params.int("timestamp", required=True)
    recv_window = params.int("recvWindow", default=DEFAULT_RECV_WINDOW, min_value=1)
    check_timestamp(state, timestamp, recv_window)
    account_id = authorize(state, api_key, request.remote, security)
    return Caller(account_id, api_key, params)
