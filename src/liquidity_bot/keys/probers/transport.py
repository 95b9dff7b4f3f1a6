"""The network side of the key probers that are not Bitrue's: a small interface, and ccxt behind it.

A prober asks its exchange through a ``KeyTransport``: ``call(name, *args, **kwargs)`` runs one
request, by ccxt's name for it (a unified method such as ``fetch_balance`` or an exchange's own
endpoint such as ``sapiGetAccountApiRestrictions``), and answers the exchange's JSON, or raises
``Refusal`` with a ``kind`` the probers judge by. ``CcxtTransport`` is the real one (ccxt signs
each exchange's requests, passphrases included); tests may give any object with the same two
methods, and the simulator is reached by pointing ``base_url`` at it (loopback).

A transport factory is ``(exchange_id, credentials, base_url, source_address=None) ->
KeyTransport``; ``source_address`` sends from that local address (the canary). A prober given
a ``KeyAddress`` instead of a factory uses ccxt's transports from that address (the key's own,
where its allow list holds it), the canary still from its own.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from liquidity_bot.keys.verify import Credentials

# Refusal kinds, from the most to the least telling
AUTH = "auth"  # the key or its signature was refused (wrong, deleted, disabled, bad secret)
PERMISSION = "permission"  # the key is known but lacks the permission for this request
IP = "ip"  # the key refuses this source address
NOT_FOUND = "not_found"  # the order (or object) does not exist
TIMESTAMP = "timestamp"  # the request's timestamp was refused (clock)
LIMITED = "limited"  # rate limit or ban: stop sending
UNAVAILABLE = "unavailable"  # network error, timeout, 5xx, maintenance: stop sending
OTHER = "other"  # anything else: proves nothing


class Refusal(Exception):
    """The exchange (or the network) refused a request; ``kind`` is one of the kinds above,
    ``code`` the exchange's own code when it gave one. The text never holds the secret."""

    def __init__(self, kind: str, message: str, code: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.code = code


class KeyTransport(Protocol):
    """What a prober needs from the network (an async context manager)."""

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any: ...

    async def __aenter__(self) -> KeyTransport: ...

    async def __aexit__(self, *exc: Any) -> None: ...


_CODE = re.compile(r'"(?:code|retCode|ret_code|error_code)"\s*:\s*"?(-?[0-9A-Za-z_]+)')


def code_in(text: str) -> str | None:
    """The exchange's error code quoted in ccxt's message (the response body), if any."""
    m = _CODE.search(text)
    return m.group(1) if m else None


@dataclass(frozen=True)
class IpRefusal:
    """How an exchange says "this address is not on the key's allow list" (ccxt folds it into
    authentication errors): by its own codes, or by words in the message (Binance's -2015
    names the request's IP only when the address was the reason)."""

    codes: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()

    def matches(self, code: str | None, text: str) -> bool:
        lowered = text.lower()
        return (code is not None and code in self.codes) or any(w in lowered for w in self.words)


def refusal_from_ccxt(exc: BaseException, ip: IpRefusal | None = None) -> Refusal:
    """Map a ccxt exception onto a refusal kind."""
    import ccxt

    text = str(exc)
    code = code_in(text)
    if ip is not None and ip.matches(code, text):
        kind = IP
    elif isinstance(exc, ccxt.OrderNotFound):
        kind = NOT_FOUND
    elif isinstance(exc, ccxt.PermissionDenied | ccxt.AccountNotEnabled):
        kind = PERMISSION
    elif isinstance(exc, ccxt.AuthenticationError):
        kind = AUTH
    elif isinstance(exc, ccxt.InvalidNonce):
        kind = TIMESTAMP
    elif isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        kind = LIMITED
    elif isinstance(exc, ccxt.NetworkError):
        kind = UNAVAILABLE
    else:
        kind = OTHER
    return Refusal(kind, f"{type(exc).__name__}: {text[:300]}", code)


def _rebase(url: str, base: str) -> str:
    """``url`` with its scheme and host replaced by ``base``'s (the path kept)."""
    b = urlsplit(base)
    u = urlsplit(url)
    return urlunsplit((b.scheme, b.netloc, b.path.rstrip("/") + u.path, u.query, u.fragment))


def point_at(urls: Any, base: str) -> Any:
    """Every REST URL of a ccxt ``urls['api']`` table pointed at ``base`` (e.g. the simulator)."""
    if isinstance(urls, str):
        return _rebase(urls, base)
    if isinstance(urls, dict):
        return {k: point_at(v, base) for k, v in urls.items()}
    return urls


class CcxtTransport:
    """ccxt's async client for one exchange, used for single signed or public requests.

    ``base_url`` points every REST URL of the exchange at one address (the simulator);
    ``source_address`` binds the connection to that local address (the canary source)."""

    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials,
        base_url: str | None = None,
        source_address: str | None = None,
        ip: IpRefusal | None = None,
    ):
        self.exchange_id = exchange_id
        self.credentials = credentials
        self.base_url = base_url
        self.source_address = source_address
        self.ip = ip
        self._client: Any = None

    async def __aenter__(self) -> CcxtTransport:
        try:
            import ccxt.async_support as ccxt_async
        except ImportError:  # pragma: no cover - ccxt is an optional dependency
            raise Refusal(
                UNAVAILABLE,
                "ccxt is not installed: pip install 'liquidity-bot[exchanges]' to verify keys of "
                f"{self.exchange_id}",
            ) from None
        config: dict[str, Any] = {
            "apiKey": self.credentials.api_key,
            "secret": self.credentials.secret,
            "enableRateLimit": True,
            "timeout": 10_000,
        }
        extras = self.credentials.extras
        if "passphrase" in extras:
            config["password"] = extras["passphrase"]
        if "memo" in extras:
            config["uid"] = extras["memo"]
        client = getattr(ccxt_async, self.exchange_id)(config)
        if self.base_url:
            client.urls["api"] = point_at(client.urls["api"], self.base_url)
        if self.source_address:
            import aiohttp

            connector = aiohttp.TCPConnector(local_addr=(self.source_address, 0))
            client.session = aiohttp.ClientSession(connector=connector)
            client.own_session = True  # ccxt closes it
        self._client = client
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, name)(*args, **kwargs)
        except Refusal:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a refusal kind
            raise refusal_from_ccxt(exc, self.ip) from None


@dataclass(frozen=True)
class KeyAddress:
    """The local address a key sends from (``[exchanges.NAME] key_source_addresses``): given to
    a prober as its client factory, its probes go from there."""

    address: str


def default_transport_factory(ip: IpRefusal | None = None, source: str | None = None) -> Any:
    """ccxt's transports, from ``source`` unless a call names another address (the canary)."""
    def make(
        exchange_id: str,
        credentials: Credentials,
        base_url: str | None,
        source_address: str | None = None,
    ) -> CcxtTransport:
        return CcxtTransport(exchange_id, credentials, base_url, source_address or source, ip)

    return make


def transports(given: Any, ip: IpRefusal | None) -> Any:
    """A prober's transport factory: the one it was ``given`` (tests), ccxt's from a
    ``KeyAddress``, or ccxt's from the system's address (None)."""
    if given is None or isinstance(given, KeyAddress):
        return default_transport_factory(ip, None if given is None else given.address)
    return given


def local_ms() -> int:
    return int(time.time() * 1000)
