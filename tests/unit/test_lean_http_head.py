"""The response head parser's short path (the usual HTTP/1.1 200 with a Content-Length) agrees
with its general path on any head: same status, framing, reuse and errors."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.venues.lean_http import _Connection, _Watchdog

_STATUS_LINES = [
    b"HTTP/1.1 200 OK", b"HTTP/1.1 200 ", b"HTTP/1.1 200", b"HTTP/1.0 200 OK",
    b"HTTP/1.1 201 Created", b"HTTP/1.1 204 No Content", b"HTTP/1.1 2000 OK",
    b"HTTP/1.1 100 Continue", b"HTTP/2 200 OK", b"HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK",
]
_NAMES = ["Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Date", "Server",
          "Content-Type", "X-Note"]
_VALUES = ["12", " 12 ", "0", "-3", "x", "12, 12", "close", "keep-alive", "Keep-Alive, close",
           "timeout=5, max=100", "timeout=x", "chunked", "gzip, chunked", "gzip",
           "content-length: 3", "application/json", ""]


def _cased(name: str, flips: list[bool]) -> str:
    flips = flips + [False] * (len(name) - len(flips))
    return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=False))


_header = st.builds(
    lambda name, flips, value, space: f"{_cased(name, flips)}:{' ' if space else ''}{value}",
    st.sampled_from(_NAMES), st.lists(st.booleans(), max_size=20), st.sampled_from(_VALUES),
    st.booleans(),
)


def _state(parse_name: str, data: bytes) -> tuple:
    loop = asyncio.new_event_loop()
    try:
        conn = _Connection(_Watchdog(loop, 0.1))
        conn.buf += data
        try:
            done: object = getattr(conn, parse_name)()
        except ValueError as exc:
            done = ("ValueError", str(exc))
        return (done, conn.head, conn.status, conn.body_start, conn.length, conn.chunked,
                conn.until_close, conn.must_close, conn.keep_alive_s, bytes(conn.buf))
    finally:
        loop.close()


@settings(max_examples=400)
@given(st.sampled_from(_STATUS_LINES), st.lists(_header, max_size=6), st.booleans(),
       st.binary(max_size=8))
def test_short_path_agrees_with_the_general_one(status_line, headers, complete, body):
    head = b"\r\n".join([status_line, *(h.encode() for h in headers)])
    data = head + (b"\r\n\r\n" + body if complete else b"\r\n")
    assert _state("_parse_head", data) == _state("_parse_any_head", data)


def test_the_usual_answer_takes_the_short_path():
    data = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            b"Date: Mon, 07 Dec 2026 17:39:28 GMT\r\n\r\n{\"a\":1}")
    got = _state("_parse_head", data)
    assert got[:8] == (True, data[: data.index(b"\r\n\r\n")], 200, len(data) - 7, 7, False,
                       False, False)
    assert got == _state("_parse_any_head", data)
