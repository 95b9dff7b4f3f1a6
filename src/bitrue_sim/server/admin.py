"""The simulator's own admin API (not Bitrue's): accounts, keys, ledger, rate-limit counters.
Loopback only, and guarded by the ``X-Sim-Admin`` header (the token given to
``sim serve --admin-token``).

Other extensions (streams, faults) guard their admin routes with ``require_admin(request)``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from decimal import Decimal, InvalidOperation

from aiohttp import web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.keys import InvalidKeySpec
from bitrue_sim.server import render
from bitrue_sim.server.common import json_response, state_of

ADMIN_HEADER = "X-Sim-Admin"
_MAX_AMOUNT = Decimal(10) ** 18  # keeps balances far inside the decimal context's range


def require_admin(request: web.Request) -> None:
    """Refuse unless the caller is on loopback and sends the right admin token."""
    state = state_of(request)
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ExchangeError(403, 403, "The admin API answers loopback clients only.")
    token = state.config.admin_token
    given = request.headers.get(ADMIN_HEADER, "")
    if not token:
        raise ExchangeError(403, 403, "The admin API is disabled: start with --admin-token.")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ExchangeError(401, 401, f"Missing or wrong {ADMIN_HEADER} header.")


async def _json_body(request: web.Request) -> dict:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ExchangeError(400, 400, "Admin request body must be JSON.") from exc
    if not isinstance(body, dict):
        raise ExchangeError(400, 400, "Admin request body must be a JSON object.")
    return body


def _decimal(value, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise ExchangeError(400, 400, f"{what} must be a decimal string, got {value!r}.") from exc
    if not d.is_finite() or d < 0 or d > _MAX_AMOUNT:
        raise ExchangeError(
            400, 400, f"{what} must be a decimal in [0, {_MAX_AMOUNT:f}], got {value!r}."
        )
    return d


def _account_id(state, value) -> int:
    try:
        account_id = int(value)
        state.exchange.account(account_id)
    except (TypeError, ValueError, KeyError, ExchangeError) as exc:
        raise ExchangeError(404, 404, f"Unknown account_id {value!r}.") from exc
    return account_id


async def create_account(request: web.Request) -> web.Response:
    require_admin(request)
    state = state_of(request)
    body = await _json_body(request)
    balances = body.get("balances", {})
    if not isinstance(balances, dict):
        raise ExchangeError(400, 400, 'balances must be an object like {"USDT": "100"}.')
    parsed = {str(a).upper(): _decimal(v, f"balance of {a}") for a, v in balances.items()}
    kwargs = {}
    for name in ("maker_commission", "taker_commission"):
        if name in body:
            kwargs[name] = _decimal(body[name], name)
    try:
        account_id = state.exchange.create_account(parsed, **kwargs)
    except ValueError as exc:  # e.g. a commission rate outside [0, 1)
        raise ExchangeError(400, 400, str(exc)) from exc
    return json_response({"account_id": account_id})


async def create_key(request: web.Request) -> web.Response:
    require_admin(request)
    state = state_of(request)
    body = await _json_body(request)
    account_id = _account_id(state, body.get("account_id"))
    perms = body.get("permissions", ["read"])
    allow = body.get("ip_allowlist", [])
    if not isinstance(perms, list) or not isinstance(allow, list):
        raise ExchangeError(400, 400, "permissions and ip_allowlist must be JSON arrays.")
    try:
        api_key, secret = state.keys.create(account_id, str(body.get("label", "")), perms, allow)
    except InvalidKeySpec as exc:
        raise ExchangeError(400, 400, str(exc)) from exc
    return json_response({"api_key": api_key, "secret": secret, "account_id": account_id})


def _key_info(request: web.Request):
    info = state_of(request).keys.get(request.match_info["api_key"])
    if info is None:
        raise ExchangeError(404, 404, "Unknown API key.")
    return info


async def get_key(request: web.Request) -> web.Response:
    require_admin(request)
    return json_response(_key_info(request).as_json())


async def delete_key(request: web.Request) -> web.Response:
    require_admin(request)
    _key_info(request)
    state_of(request).keys.delete(request.match_info["api_key"])
    return json_response({"deleted": True})


async def disable_key(request: web.Request) -> web.Response:
    require_admin(request)
    _key_info(request)
    state_of(request).keys.disable(request.match_info["api_key"])
    return json_response(_key_info(request).as_json())


async def enable_key(request: web.Request) -> web.Response:
    require_admin(request)
    _key_info(request)
    state_of(request).keys.enable(request.match_info["api_key"])
    return json_response(_key_info(request).as_json())


async def ledger(request: web.Request) -> web.Response:
    """Every order (final state) and every fill of one account."""
    require_admin(request)
    state = state_of(request)
    account_id = _account_id(state, request.query.get("account_id"))
    led = state.exchange.ledger(account_id)
    markets = state.exchange.markets
    return json_response(
        {
            "account_id": account_id,
            "orders": [render.ledger_order(o, markets[o.symbol]) for o in led["orders"]],
            "fills": [render.ledger_fill(f, markets[f.symbol]) for f in led["fills"]],
        }
    )


async def balances(request: web.Request) -> web.Response:
    require_admin(request)
    state = state_of(request)
    account_id = _account_id(state, request.query.get("account_id"))
    bals = state.exchange.balances(account_id)
    return json_response(
        {
            "account_id": account_id,
            "balances": {
                a: {"free": render.plain(b.free), "locked": render.plain(b.locked)}
                for a, b in sorted(bals.items())
            },
        }
    )


async def deposit(request: web.Request) -> web.Response:
    require_admin(request)
    state = state_of(request)
    body = await _json_body(request)
    account_id = _account_id(state, body.get("account_id"))
    asset = str(body.get("asset", "")).upper()
    if not asset:
        raise ExchangeError(400, 400, "asset is required.")
    try:
        state.exchange.deposit(account_id, asset, _decimal(body.get("amount"), "amount"))
    except ValueError as exc:  # a zero amount
        raise ExchangeError(400, 400, str(exc)) from exc
    return json_response({"ok": True})


async def market_maker(request: web.Request) -> web.Response:
    """The account that seeded the books at start (None when seeding was off)."""
    require_admin(request)
    return json_response({"account_id": state_of(request).market_maker_account})


async def ratelimit(request: web.Request) -> web.Response:
    """Rate-limit counters since start: bans issued, requests refused during a ban, 429s by
    policy (what a soak checks to prove a client backs off; the simulator's injected 429
    faults are counted by ``GET /sim/admin/faults`` instead)."""
    require_admin(request)
    return json_response(state_of(request).rate_limiter.snapshot())
