"""C28-C40: the lean HTTP/1.1 transport against a tiny misbehaving loopback server.

Every case runs on real sockets (127.0.0.0/8). The server reads one request at a time and
answers as the case scripts it: well, chunked, closing, silently, resetting, with garbage...

C28 keep-alive: many requests, one connection; Content-Length and chunked bodies
C29 ``Connection: close`` and extra bytes after an answer: the next request opens a new one
C30 body without a length (read until the server closes); 100 Continue skipped
C31 a server's ``Keep-Alive: timeout=`` is obeyed
C32 an idle connection the server closed is never used (detected before sending)
C33 server closes a reused connection before answering: a read is re-sent once on a fresh
    connection, a write is not (UnknownOutcome); a write that failed on the socket (nothing
    delivered) is re-sent on a fresh connection
C34 a write never goes out on a connection idle longer than ``max_idle_s``
C35 timeouts, resets, half answers and garbage: NoResponse / UnknownOutcome / ExchangeUnavailable
C36 connection refused: ConnectFailed, "nothing was sent" even for a write
C37 source address: connections leave from the bound loopback address
C38 TLS: verification on by default (a self-signed server is refused before anything is sent);
    with its CA trusted, requests go through with the host name checked
C39 request bytes: exact request line, Host, constant headers; CR/LF in headers refused
C40 concurrency above the per-host cap waits for a slot instead of failing
C41 answers larger than the connection's read buffer (many reads), and the framing and TLS
    cases on uvloop (the loop ``liquidity-bot run`` uses) as well as the default loop
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from liquidity_bot.venues.bitrue.errors import ExchangeUnavailable, UnknownOutcome
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.lean_http import (
    ConnectFailed,
    HttpClient,
    NoResponse,
    encode_headers,
)


def ok(body: bytes = b'{"ok":1}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class ScriptedServer:
    """Loopback HTTP server that answers each request with the next scripted action.

    An action is bytes (written as is), or one of: "drop" (close without answering), "reset"
    (RST without answering), "silent" (never answer), ("then_close", bytes) (answer, close).
    Default when the script is empty: a 200 with a small JSON body.
    """

    def __init__(self) -> None:
        self.script: list[object] = []
        self.requests: list[bytes] = []
        self.peers: list[str] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.ssl: ssl.SSLContext | None = None

    async def start(self, host: str = "127.0.0.1") -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, host, 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def base(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        return len(self.peers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peername")[0])
        self.writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                action = self.script.pop(0) if self.script else ok()
                if action == "drop":
                    writer.close()
                    return
                if action == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if action == "silent":
                    await asyncio.sleep(3600)
                if isinstance(action, tuple) and action[0] == "then_close":
                    writer.write(action[1])
                    await writer.drain()
                    writer.close()
                    return
                if isinstance(action, list):  # pieces written one by one
                    for piece in action:
                        writer.write(piece)
                        await writer.drain()
                        await asyncio.sleep(0)
                    continue
                assert isinstance(action, bytes)
                writer.write(action)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await self.server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    srv = await ScriptedServer().start()
    yield srv
    await srv.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(connect_timeout_s=2, read_timeout_s=2)
    yield client
    await client.close()


async def wait_until(predicate, what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def rest_client(base: str, **kw) -> BitrueRestClient:
    client = BitrueRestClient(BitrueUrls.single(base), "K" * 64, "S" * 64, **kw)
    client.clock.synced_at = 0.0  # treat as synced: these cases are not about the clock
    client.clock_refresh_s = 1e9
    return client


# ---------------------------------------------------------------------- C28-C31 framing


async def test_c28_keep_alive_content_length_and_chunked(server, http):
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;ext=1\r\n{"a"\r\n6\r\n:12345\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    split = [chunked[:30], chunked[30:47], chunked[47:]]  # arrives in pieces
    server.script = [ok(b'{"n":1}'), chunked, split, ok(b"")]
    origin = http.origin(server.base)
    assert (await origin.request("GET", "/a")).body == b'{"n":1}'
    assert (await origin.request("GET", "/b")).body == b'{"a":12345}'
    assert (await origin.request("GET", "/c")).body == b'{"a":12345}'
    resp = await origin.request("GET", "/d")
    assert resp.status == 200 and resp.body == b""
    assert server.connections == 1 and len(server.requests) == 4


async def test_c28_headers_are_case_insensitive(server, http):
    server.script = [
        b"HTTP/1.1 429 Too Many\r\nrate_limit_p: ORDER_10S\r\nRetry-After: 3\r\n"
        b"X-Dup: a\r\nx-dup: b\r\nContent-Length: 2\r\n\r\n{}"
    ]
    resp = await http.origin(server.base).request("GET", "/x")
    assert resp.status == 429 and resp.body == b"{}"
    assert resp.headers.get("Rate_Limit_P") == "ORDER_10S"
    assert resp.headers["retry-after"] == "3" and "RETRY-AFTER" in resp.headers
    assert resp.headers.get("x-dup") == "a, b" and resp.headers.get("missing") is None


async def test_c29_connection_close_and_trailing_bytes_force_a_new_connection(server, http):
    server.script = [
        ok(extra=b"Connection: close\r\n"),
        ok(),
        ok() + b"HTTP/1.1 200 OK\r\n",  # bytes past the answer: the stream is out of step
        ok(),
    ]
    origin = http.origin(server.base)
    for _ in range(4):
        assert (await origin.request("GET", "/x")).status == 200
    assert server.connections == 3


async def test_c41_answers_larger_than_the_read_buffer(server, http):
    big = b'{"x":"' + b"0123456789abcdef" * 20_000 + b'"}'  # ~320 KiB: several socket reads
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:100_000], big[100_000:])
    ) + b"0\r\n\r\n"
    server.script = [ok(big), chunked, [ok(big)[:70_000], ok(big)[70_000:]], ok()]
    origin = http.origin(server.base)
    for _ in range(3):
        assert (await origin.request("GET", "/big")).body == big
    assert (await origin.request("GET", "/small")).body == b'{"ok":1}'
    assert server.connections == 1


def test_c41_tls_and_large_answers_on_uvloop(tmp_path):
    """The production loop and transport together: verified TLS, an answer over many reads."""
    uvloop = pytest.importorskip("uvloop")
    cert_pem, key_pem = _self_signed()
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")

    async def case() -> None:
        srv = ScriptedServer()
        srv.ssl = server_ctx
        await srv.start()
        trusting = ssl.create_default_context(cadata=cert_pem.decode())
        client = HttpClient(connect_timeout_s=2, read_timeout_s=2, ssl_context=trusting)
        try:
            await test_c41_answers_larger_than_the_read_buffer(srv, client)
            default = HttpClient(connect_timeout_s=2, read_timeout_s=2)
            try:
                with pytest.raises(ConnectFailed):
                    await default.origin(srv.base).request("POST", "/api/v1/order")
            finally:
                await default.close()
            assert len(srv.requests) == 4  # the refused client sent nothing
        finally:
            await client.close()
            await srv.close()

    uvloop.run(case())


def test_c41_framing_on_uvloop():
    uvloop = pytest.importorskip("uvloop")

    async def case() -> None:
        srv = await ScriptedServer().start()
        client = HttpClient(connect_timeout_s=2, read_timeout_s=2)
        try:
            await test_c28_keep_alive_content_length_and_chunked(srv, client)
            await test_c41_answers_larger_than_the_read_buffer(srv, client)
            srv.script = ["reset"]
            with pytest.raises(NoResponse):
                await client.origin(srv.base).request("POST", "/order")
        finally:
            await client.close()
            await srv.close()

    uvloop.run(case())


async def test_c30_body_until_close_and_interim_answers(server, http):
    server.script = [
        ("then_close", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after continue"),
    ]
    origin = http.origin(server.base)
    assert (await origin.request("GET", "/x")).body == b"until the end"
    assert (await origin.request("GET", "/y")).body == b"after continue"
    assert server.connections == 2


async def test_c31_server_keep_alive_timeout_is_obeyed(server, http):
    # "timeout=1" leaves no safe reuse window once our 1 s margin is taken off.
    server.script = [ok(extra=b"Keep-Alive: timeout=1, max=100\r\n"), ok()]
    origin = http.origin(server.base)
    await origin.request("GET", "/x")
    await origin.request("GET", "/y")
    assert server.connections == 2
    resp = await origin.request("GET", "/z")  # the last answer said nothing: reused
    assert resp.status == 200 and server.connections == 2


# ---------------------------------------------------------------------- C32-C34 stale connections


async def test_c32_idle_connection_closed_by_server_is_not_used(server, http):
    server.script = [("then_close", ok())]
    origin = http.origin(server.base)
    await origin.request("GET", "/x")
    await wait_until(lambda: all(c.closed for c in origin._idle), "client saw the close")
    resp = await origin.request("POST", "/api/v1/order", max_idle_s=60)
    assert resp.status == 200
    assert server.connections == 2 and len(server.requests) == 2


async def test_c33_close_before_answer_on_reused_connection(server, http):
    origin = http.origin(server.base)
    await origin.request("GET", "/warm")
    # A read: the server drops the reused connection without a byte of answer -> re-sent once.
    server.script = ["drop"]
    resp = await origin.request("GET", "/read", idempotent=True)
    assert resp.status == 200
    assert [r.split(b" ")[1] for r in server.requests] == [b"/warm", b"/read", b"/read"]
    # A write in the same situation is never re-sent: the outcome is unknown.
    server.script = ["drop"]
    with pytest.raises(NoResponse) as exc:
        await origin.request("POST", "/write", idempotent=False, max_idle_s=60)
    assert exc.value.got_bytes is False
    assert [r.split(b" ")[1] for r in server.requests].count(b"/write") == 1


async def test_c33_failed_write_is_resent_even_for_a_write(server, http):
    origin = http.origin(server.base)
    await origin.request("GET", "/warm")
    (conn,) = origin._idle
    # Our side of the pooled socket can no longer send: the write fails at once (EPIPE), so
    # nothing was delivered and even a write may go out on a fresh connection.
    conn.transport.get_extra_info("socket").shutdown(socket.SHUT_WR)
    resp = await origin.request("POST", "/write", idempotent=False, max_idle_s=60)
    assert resp.status == 200
    assert [r.split(b" ")[1] for r in server.requests] == [b"/warm", b"/write"]
    assert server.connections == 2


async def test_c33_write_through_rest_client_is_unknown_outcome(server):
    async with rest_client(server.base) as c:
        await c.ping()
        server.script = ["drop"]
        with pytest.raises(UnknownOutcome, match="client order id"):
            await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")
        await c.ping()  # a fresh connection, now pooled
        server.script = ["drop"]
        await c.ping()  # a read: re-sent on a fresh connection, the caller sees success
    assert sum(b"/api/v1/order" in r for r in server.requests) == 1
    assert sum(b"/api/v1/ping" in r for r in server.requests) == 4


async def test_c34_write_uses_fresh_connection_after_idle_threshold(server, http):
    origin = http.origin(server.base)
    await origin.request("GET", "/warm")
    await origin.request("POST", "/w1", max_idle_s=3600)  # recently used: reused
    assert server.connections == 1
    await origin.request("POST", "/w2", max_idle_s=0)  # idle "too long": fresh connection
    assert server.connections == 2
    await origin.request("GET", "/r", max_idle_s=None)
    assert server.connections == 2


async def test_c34_rest_client_orders_skip_idle_connections(server):
    async with rest_client(server.base, order_conn_max_idle_s=0) as c:
        await c.ping()
        await c.ping()
        assert server.connections == 1
        server.script = [ok(b'{"symbol":"XRPUSDT","orderId":1,"clientOrderId":"x"}')]
        ack = await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")
        assert ack.orderId == 1
        assert server.connections == 2


# ---------------------------------------------------------------------- C35-C36 no answer


@pytest.mark.parametrize(
    ("action", "cause"),
    [
        ("silent", "timeout"),
        ("reset", None),
        ("drop", "closed by server"),
        (("then_close", b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"half'), None),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed"),
    ],
)
async def test_c35_no_usable_answer(server, action, cause):
    client = HttpClient(connect_timeout_s=2, read_timeout_s=0.2)
    try:
        server.script = [action]
        with pytest.raises(NoResponse) as exc:
            await client.origin(server.base).request("POST", "/api/v1/order")
        if cause:
            assert exc.value.cause == cause
    finally:
        await client.close()


@pytest.mark.parametrize("action", ["silent", "reset", ("then_close", b"HTTP/1.1 200 OK\r\n")])
async def test_c35_rest_client_write_unknown_read_unavailable(server, action):
    async with rest_client(server.base, timeout_s=0.2) as c:
        server.script = [action]
        with pytest.raises(UnknownOutcome):
            await c.cancel_order("XRPUSDT", order_id=7)
        server.script = [action, action]  # a first-connection read is not re-sent
        with pytest.raises(ExchangeUnavailable):
            await c.open_orders("XRPUSDT")


async def test_c36_refused_means_nothing_sent(unused_tcp_port):
    client = HttpClient(connect_timeout_s=1, read_timeout_s=1)
    try:
        with pytest.raises(ConnectFailed):
            await client.origin(f"http://127.0.0.1:{unused_tcp_port}").request("POST", "/x")
    finally:
        await client.close()
    async with rest_client(f"http://127.0.0.1:{unused_tcp_port}") as c:
        with pytest.raises(ExchangeUnavailable, match="nothing was sent"):
            await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")


# ---------------------------------------------------------------------- C37-C40


async def test_c37_source_address_is_bound(server):
    client = HttpClient(local_address="127.0.0.2")
    try:
        await client.origin(server.base).request("GET", "/x")
    finally:
        await client.close()
    assert server.peers == ["127.0.0.2"]


def _self_signed() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_c38_tls_verified_by_default(tmp_path):
    cert_pem, key_pem = _self_signed()
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    srv = ScriptedServer()
    srv.ssl = server_ctx
    await srv.start()
    try:
        default = HttpClient(connect_timeout_s=2, read_timeout_s=2)
        try:
            with pytest.raises(ConnectFailed) as exc:
                await default.origin(srv.base).request("POST", "/api/v1/order")
            assert exc.value.cause == "TLS verification failed"
        finally:
            await default.close()
        assert srv.requests == []  # nothing reached the application

        trusting = ssl.create_default_context(cadata=cert_pem.decode())
        assert trusting.check_hostname and trusting.verify_mode == ssl.CERT_REQUIRED
        async with rest_client(srv.base, ssl_context=trusting) as c:
            await c.ping()
            await c.ping()
        assert len(srv.requests) == 2 and srv.connections == 1
        assert srv.requests[0].startswith(b"GET /api/v1/ping HTTP/1.1\r\n")
    finally:
        await srv.close()


async def test_c39_request_bytes(server):
    async with rest_client(server.base) as c:
        await c.ping()
        await c.keepalive_listen_key("lk7f3a9c2e51d4b8")
    port = server.port
    assert (
        server.requests[0]
        == (
            f"GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: liquidity-bot\r\n\r\n"
        ).encode()
    )
    assert (
        server.requests[1]
        == (
            f"PUT /poseidon/api/v1/listenKey/lk7f3a9c2e51d4b8 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"User-Agent: liquidity-bot\r\nX-MBX-APIKEY: {'K' * 64}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
    )
    with pytest.raises(ValueError):
        encode_headers({"X-A": "v\r\nX-Injected: 1"})
    with pytest.raises(ValueError):
        await HttpClient().origin(server.base).request("GET", "/a b HTTP/1.1\r\nX: 1")
    with pytest.raises(ValueError):
        BitrueRestClient(BitrueUrls.single(server.base), "key\r\nX: 1", "S" * 64)


async def test_c40_concurrency_above_cap_waits(server):
    client = HttpClient(max_per_host=2, read_timeout_s=5)
    try:
        origin = client.origin(server.base)
        answers = await asyncio.gather(*(origin.request("GET", f"/{i}") for i in range(7)))
    finally:
        await client.close()
    assert [a.status for a in answers] == [200] * 7
    assert server.connections == 2


async def test_c39_order_request_bytes_on_every_path(server, caplog):
    """Place and cancel write the same bytes whichever way they go out: at once on a warm
    connection (the order path), on a new connection after the rate limits were paid, or
    through the general request path (taken while debug logging is on); and those bytes are
    the generic encoding of the parameters, stamped and signed (HMAC-SHA256 of the query)."""
    import hashlib
    import hmac
    import logging

    from liquidity_bot.venues.bitrue.clock import ServerClock
    from liquidity_bot.venues.bitrue.signing import encode_params

    place_ok = ok(b'{"symbol":"XRPUSDT","orderId":7,"clientOrderId":"c-1"}')
    cancel_ok = ok(b'{"symbol":"XRPUSDT","orderId":7,"origClientOrderId":"c-1"}')

    async def both(c: BitrueRestClient) -> None:
        server.script = [place_ok, cancel_ok]
        await c.place_order("xrpUSDT".upper(), "buy", Decimal("12.50"), Decimal("0.51230"),
                            client_order_id="c-1")
        await c.cancel_order("XRPUSDT", order_id=7, client_order_id="c-1")

    def client(**kw) -> BitrueRestClient:
        c = rest_client(server.base, **kw)
        c.clock = ServerClock(local_ms=lambda: 1_765_000_000_123.9)
        c.clock.synced_at = 0.0
        c.clock.offset_ms = -42
        return c

    async with client() as c:  # warm: the order path writes at once
        await c.ping()
        connects = c._http.origin(server.base).connects
        await both(c)
        assert c._http.origin(server.base).connects == connects
    async with client(order_conn_max_idle_s=0) as c:  # paid, then a new connection
        await c.ping()
        connects = c._http.origin(server.base).connects
        await both(c)
        assert c._http.origin(server.base).connects == connects + 2
    with caplog.at_level(logging.DEBUG, logger="liquidity_bot.venues.bitrue.rest"):
        async with client() as c:  # the general path
            await c.ping()
            await both(c)
    assert any("place BUY LIMIT XRPUSDT -> 200" in r.getMessage() for r in caplog.records)
    orders = [r for r in server.requests if b"/api/v1/order" in r]
    assert len(orders) == 6

    def signed(method: str, pairs: list) -> bytes:
        query = encode_params([*pairs, ("recvWindow", 5000), ("timestamp", 1_765_000_000_081)])
        sig = hmac.new(b"S" * 64, query.encode(), hashlib.sha256).hexdigest()
        return (
            f"{method} /api/v1/order?{query}&signature={sig} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUser-Agent: liquidity-bot\r\n"
            f"X-MBX-APIKEY: {'K' * 64}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    place = signed("POST", [("symbol", "XRPUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                            ("timeInForce", "GTC"), ("quantity", Decimal("12.50")),
                            ("price", Decimal("0.51230")), ("newClientOrderId", "c-1")])
    cancel = signed("DELETE", [("symbol", "XRPUSDT"), ("orderId", 7),
                               ("origClientOrderId", "c-1")])
    assert orders == [place, cancel] * 3


async def test_c33_order_path_on_a_warm_connection(server):
    """The order path (written at once on a warm connection) keeps the transport's rules: a
    write that failed on the socket goes out once on a new connection; an answer that never
    comes on a reused connection is an unknown outcome, not re-sent, the connection dropped."""
    async with rest_client(server.base, timeout_s=0.3) as c:
        await c.ping()
        origin = c._http.origin(server.base)
        (conn,) = origin._idle
        conn.transport.get_extra_info("socket").shutdown(socket.SHUT_WR)
        server.script = [ok(b'{"symbol":"XRPUSDT","orderId":1,"clientOrderId":"a"}')]
        ack = await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="a")
        assert ack.orderId == 1 and server.connections == 2
        for action in ("reset", "silent", "drop"):
            server.script = [action]
            with pytest.raises(UnknownOutcome, match="UNKNOWN"):
                await c.cancel_order("XRPUSDT", order_id=1)
            assert not origin._idle and origin._active == 0
            await c.ping()  # a new connection, pooled for the next order
        assert sum(b"DELETE /api/v1/order" in r for r in server.requests) == 3
