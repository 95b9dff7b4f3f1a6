"""Who is calling: API key header, HMAC signature over the raw request, timestamp window, source
IP allow list and the key's permissions, answered with the documented errors.

HTTP statuses chosen (the docs only list 401 -1022 for "invalid signature, invalid timestamp or
unauthorized for API"):

* USER_STREAM (listenKey) and MARKET_DATA (historicalTrades) need only a valid, enabled key
  used from an allowed IP (no signature, any permission).
* spot SIGNED / USER_STREAM / MARKET_DATA: every authentication failure is HTTP 401 code -1022
  with a message that says which check failed (missing key, unknown/disabled/deleted key, bad
  signature, timestamp outside recvWindow, source IP not on the allow list, missing
  permission). A missing ``signature`` or ``timestamp`` parameter is 412 -1102.
* WITHDRAW_DATA endpoints: a key without the withdraw permission gets HTTP 401 code 966001
  ``No privileges``; a source IP outside the allow list, or a key with no IP restriction at all
  (the docs: withdraw "MUST set limit IP"), gets HTTP 401 code 966000 ``Ip limit``.
* futures (``/fapi``): missing/unknown key, IP not allowed and no futures permission are all
  HTTP 401 code -2015 ``Invalid API-key, IP, or permissions for action.``; a bad ``X-CH-SIGN``
  is 401 -1022; a missing or stale ``X-CH-TS`` is 401 -1022 too.

The signature is checked over the RAW query string (minus the ``signature`` parameter)
concatenated with the RAW body, exactly as sent: no re-encoding, no re-sorting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.server.params import Params, parse_form
from bitrue_sim.server.state import SimState

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000

SECURITY_PERMISSION = {"USER_DATA": "read", "TRADE": "trade", "WITHDRAW_DATA": "withdraw"}


@dataclass(frozen=True)
class RawRequest:
    """The request as it came in: raw query, raw body, parsed parameters and the body's shape
    ('none', 'form' or 'json'), which decides where the signature may be."""

    raw_query: str
    raw_body: bytes
    params: Params
    body_kind: str = "none"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    account_id: int
    api_key: str
    params: Params


def _auth_error(msg: str) -> ExchangeError:
    return ExchangeError(401, -1022, msg)


FUTURES_REFUSED = "Invalid API-key, IP, or permissions for action."


def _futures_refused() -> ExchangeError:
    return ExchangeError(401, -2015, FUTURES_REFUSED)


async def read_request(request: web.Request, *, json_body: bool = False) -> RawRequest:
    """Read query and body once; body parameters only for POST/PUT/DELETE (GET: query only).

    The body is read by its shape, not its Content-Type label: Bitrue documents form bodies and
    live clients (Hummingbot) send them labelled ``application/json``. ``json_body`` says whether
    the endpoint takes a JSON object (the docs' signed-request example); any other body is 412.
    """
    raw_query = request.rel_url.raw_query_string
    query = parse_form(raw_query)
    raw_body = await request.read() if request.can_read_body else b""
    body: dict[str, str] = {}
    kind = "none"
    if raw_body and request.method in ("POST", "PUT", "DELETE"):
        try:
            text = raw_body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExchangeError(412, -1102, "Request body is not valid UTF-8.") from exc
        kind = body_shape(text)
        if kind == "json":
            if not json_body:
                raise ExchangeError(
                    412,
                    -1102,
                    "A JSON body is accepted on signed endpoints only: send these parameters "
                    "in the query string or as a form-encoded body.",
                )
            body = _json_params(text)
        elif kind == "form":
            body = parse_form(text)
        elif kind == "neither":
            raise ExchangeError(
                412,
                -1102,
                "Request body is neither form-encoded parameters (name=value&...) nor a JSON "
                "object: send parameters in the query string, as a form body or as JSON.",
            )
    return RawRequest(raw_query, raw_body, Params(query, body), kind)


_FORM_PAIR = re.compile(r"[^\s&=]+=[^\s&]*")


def body_shape(text: str) -> str:
    """'json' (starts with '{' or '['), 'form' (name=value pairs joined by '&'), 'none' (blank)
    or 'neither'; whatever the Content-Type says."""
    stripped = text.strip()
    if not stripped:
        return "none"
    if stripped[0] in "{[":
        return "json"
    pairs = [part for part in text.split("&") if part]
    if pairs and all(_FORM_PAIR.fullmatch(part) for part in pairs):
        return "form"
    return "neither"


def _json_params(text: str) -> dict[str, str]:
    try:
        obj = json.loads(text, parse_float=str, parse_int=str)
    except ValueError as exc:
        raise ExchangeError(412, -1102, "Malformed JSON body.") from exc
    if not isinstance(obj, dict):
        raise ExchangeError(412, -1102, "JSON body must be an object of parameters.")
    out: dict[str, str] = {}
    for k, v in obj.items():
        if isinstance(v, bool):
            out[str(k)] = "true" if v else "false"
        elif v is None:
            continue
        elif isinstance(v, str):
            out[str(k)] = v
        else:
            raise ExchangeError(412, -1102, f"Parameter '{k}' must be a string or number.")
    return out


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """Remove ``signature=...`` from a raw ``a=b&c=d`` string; return (rest, signature)."""
    if "signature=" not in raw:
        return raw, None
    kept = []
    sig = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            if sig is None:
                sig = part[len("signature=") :]
            continue
        kept.append(part)
    return "&".join(kept), sig


def _api_key_header(request: web.Request) -> str:
    key = request.headers.get("X-MBX-APIKEY", "").strip()
    if not key:
        raise _auth_error("API-key is missing: send it in the X-MBX-APIKEY header.")
    return key


def _known_key(state: SimState, api_key: str):
    info = state.keys.active(api_key)
    if info is None:
        raise _auth_error("API key does not exist")
    return info


def authenticate_key_only(request: web.Request, state: SimState, raw: RawRequest) -> Caller:
    """USER_STREAM / MARKET_DATA: a valid, enabled API key from an allowed IP; no signature."""
    api_key = _api_key_header(request)
    info = _known_key(state, api_key)
    if not state.keys.ip_allowed(api_key, request.remote):
        raise _auth_error("Unauthorized for API: source IP is not on this key's IP allow list.")
    state.keys.record_use(api_key)
    return Caller(info.account_id, api_key, raw.params)


def authenticate_signed(
    request: web.Request, state: SimState, raw: RawRequest, security: str
) -> Caller:
    """SIGNED endpoints (TRADE, USER_DATA, WITHDRAW_DATA)."""
    api_key = _api_key_header(request)
    info = _known_key(state, api_key)

    query_rest, sig_q = _strip_signature(raw.raw_query)
    body_text = raw.raw_body.decode("utf-8", errors="replace")
    if raw.body_kind == "json":  # the signature goes in the query (the docs' JSON example)
        body_rest, sig_b = body_text, None
    else:
        body_rest, sig_b = _strip_signature(body_text)
    signature = sig_q or sig_b
    if not signature:
        raise ExchangeError(
            412,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        )
    message = (query_rest + body_rest).encode("utf-8")
    if not state.keys.signature_ok(api_key, message, signature):
        raise _auth_error("Signature for this request is not valid.")

    params = raw.params
    timestamp = params.int("timestamp", required=True)
    recv_window = params.int("recvWindow", default=DEFAULT_RECV_WINDOW, min_value=1)
    if recv_window > MAX_RECV_WINDOW:
        raise ExchangeError(412, -1102, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    server_time = state.exchange.clock.now_ms()
    if not (timestamp < server_time + 1000 and server_time - timestamp <= recv_window):
        raise _auth_error(
            "Timestamp for this request is outside of the recvWindow "
            f"(server time {server_time}); sync your clock with GET /api/v1/time."
        )

    withdraw = security == "WITHDRAW_DATA"
    if withdraw:
        if not state.keys.is_ip_restricted(api_key) or not state.keys.ip_allowed(
            api_key, request.remote
        ):
            raise ExchangeError(401, 966000, "Ip limit")
    elif not state.keys.ip_allowed(api_key, request.remote):
        raise _auth_error("Unauthorized for API: source IP is not on this key's IP allow list.")

    needed = SECURITY_PERMISSION[security]
    if needed not in info.permissions:
        if withdraw:
            raise ExchangeError(401, 966001, "No privileges")
        raise _auth_error(
            f"You are not authorized to execute this request: the key lacks the '{needed}' "
            "permission."
        )
    state.keys.record_use(api_key)
    return Caller(info.account_id, api_key, params)


def authenticate_futures(request: web.Request, state: SimState, raw: RawRequest) -> Caller:
    """``/fapi``: X-CH-APIKEY, X-CH-TS, X-CH-SIGN = hex HMAC(ts + METHOD + path[?query] + body)."""
    api_key = request.headers.get("X-CH-APIKEY", "").strip()
    if not api_key or state.keys.active(api_key) is None:
        raise _futures_refused()
    info = state.keys.active(api_key)
    ts = request.headers.get("X-CH-TS", "").strip()
    sign = request.headers.get("X-CH-SIGN", "").strip()
    if not ts.isdigit() or not sign:
        raise _auth_error("X-CH-TS and X-CH-SIGN headers are required.")
    message = ts + request.method + request.rel_url.raw_path
    if request.method == "GET" and raw.raw_query:
        message += "?" + raw.raw_query
    message_bytes = message.encode("utf-8") + raw.raw_body
    if not state.keys.signature_ok(api_key, message_bytes, sign):
        raise _auth_error("Signature for this request is not valid.")
    server_time = state.exchange.clock.now_ms()
    ts_ms = int(ts)
    if not (ts_ms < server_time + 1000 and server_time - ts_ms <= DEFAULT_RECV_WINDOW):
        raise _auth_error("Timestamp for this request is outside of the recvWindow.")
    if not state.keys.ip_allowed(api_key, request.remote):
        raise _futures_refused()
    if "futures" not in info.permissions:
        raise _futures_refused()
    state.keys.record_use(api_key)
    return Caller(info.account_id, api_key, raw.params)
