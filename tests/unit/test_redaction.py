"""Secrets never reach the log: canaries pushed through every logging path, both formats.

The assertions read what the real handler wrote to its stream (not caplog's records), so they see
exactly what an operator or a log shipper would see.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.logs import (
    MASK,
    JsonFormatter,
    configure_logging,
    forget_secret,
    redact,
    redact_value,
    register_secret,
)

CANARY = "CanarySecret-9f8e7d6c5b4a"  # registered with register_secret
# The next three are never registered: they must be caught by their shape/position alone.
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
API_KEY = "Zq8vKx2mW9pLr4tYb7nC3dF6gH1jS5aE0uI2oP8"
LISTEN_KEY = "Lk5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1"
UNREGISTERED = (SIGNATURE, API_KEY, LISTEN_KEY)
ALL_CANARIES = (CANARY, *UNREGISTERED)


def assert_clean(text: str) -> None:
    for canary in ALL_CANARIES:
        assert canary not in text, f"{canary!r} leaked into:\n{text}"


@pytest.fixture
def secret() -> Iterator[str]:
    register_secret(CANARY)
    yield CANARY
    forget_secret(CANARY)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, sys.excepthook, threading.excepthook)
    yield
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
    for handler in saved[0]:
        for f in [f for f in handler.filters if type(f).__name__ == "RedactionFilter"]:
            handler.removeFilter(f)
    root.setLevel(saved[1])
    sys.excepthook, threading.excepthook = saved[2], saved[3]
    logging.captureWarnings(False)


def _capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt, "DEBUG", stream=stream)
    stream.fmt = fmt  # type: ignore[attr-defined]
    return stream


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest, secret: str, restore_logging: None) -> io.StringIO:
    """The real handler's output stream, in each format."""
    return _capture(request.param)


@pytest.fixture
def captured_json(secret: str, restore_logging: None) -> io.StringIO:
    return _capture("json")


@pytest.fixture
def captured_text(secret: str, restore_logging: None) -> io.StringIO:
    return _capture("text")


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def output(stream: io.StringIO) -> str:
    """What the handler wrote, as a reader sees it: JSON lines are decoded (each line must be a
    valid object). The raw bytes are checked for canaries here too."""
    raw = stream.getvalue()
    assert_clean(raw)
    if stream.fmt == "text":  # type: ignore[attr-defined]
        return raw
    return "\n".join(" ".join(str(v) for v in doc.values()) for doc in json_lines(stream))


# ----------------------------------------------------------------------------- every log path

log = logging.getLogger("liquidity_bot.test.redaction")


def test_message_args(captured: io.StringIO) -> None:
    log.info("connecting with %s and %r", CANARY, {"k": CANARY})
    log.info("named %(a)s", {"a": CANARY})
    log.info(f"f-string {CANARY}")
    out = output(captured)
    assert_clean(out)
    assert out.count(MASK) == 4
    assert "connecting with ***" in out


def test_exception_message_and_traceback(captured: io.StringIO) -> None:
    try:
        raise ValueError(f"bad key {CANARY}")
    except ValueError as exc:
        log.error("failed: %s", exc)
        log.exception("request failed")
    try:
        # the literal appears in the traceback's source line as well as in the message
        raise RuntimeError("CanarySecret-9f8e7d6c5b4a")
    except RuntimeError:
        log.warning("with traceback", exc_info=True)
    out = output(captured)
    assert_clean(out)
    assert "Traceback (most recent call last)" in out and "ValueError: bad key ***" in out
    assert 'raise RuntimeError("***")' in out


def test_chained_exceptions(captured: io.StringIO) -> None:
    def inner() -> None:
        raise KeyError(CANARY)

    try:
        try:
            inner()
        except KeyError as exc:
            raise ConnectionError(f"while using X-MBX-APIKEY={API_KEY}") from exc
    except ConnectionError:
        log.exception("explicit chain")
    try:
        try:
            inner()
        except KeyError:
            raise OSError(f"listenKey={LISTEN_KEY}")  # noqa: B904 - implicit context on purpose
    except OSError:
        log.exception("implicit chain")
    try:
        raise ExceptionGroup("group", [ValueError(CANARY), TypeError(CANARY)])
    except ExceptionGroup:
        log.exception("exception group")
    out = output(captured)
    assert "The above exception was the direct cause" in out
    assert "During handling of the above exception" in out
    assert_clean(out)


def test_extra_fields(captured: io.StringIO) -> None:
    log.info(
        "context",
        extra={
            "detail": {"nested": [CANARY, 1]},
            "api": CANARY,
            "token": "not-registered-token-1",
            "listenKey": LISTEN_KEY,
            "headers": {"X-MBX-APIKEY": API_KEY, "Accept": "json"},
        },
    )
    out = output(captured)
    assert_clean(out)
    assert "not-registered-token-1" not in out
    assert "Accept" in out and "json" in out


def test_signature_in_url(captured: io.StringIO) -> None:
    log.debug(
        "GET https://openapi.bitrue.com/api/v1/order?symbol=XRPUSDT&timestamp=1499827319559"
        "&signature=%s",
        SIGNATURE,
    )
    log.debug(
        "POST /api/v1/order body=symbol=XRPUSDT&side=BUY&signature=%s&recvWindow=5000", SIGNATURE
    )
    out = output(captured)
    assert_clean(out)
    assert "timestamp=1499827319559" in out and "recvWindow=5000" in out  # not over-masked


def test_header_values(captured: io.StringIO) -> None:
    log.debug("spot headers %s", {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/json"})
    log.debug(
        "futures headers %r",
        {"X-CH-APIKEY": API_KEY, "X-CH-SIGN": SIGNATURE, "X-CH-TS": 1700000000123},
    )
    log.debug("raw headers %r", [(b"X-MBX-APIKEY", API_KEY.encode())])
    log.debug(
        "dump:\nX-MBX-APIKEY: %s\r\nX-CH-SIGN: %s\r\nHost: openapi.bitrue.com", API_KEY, SIGNATURE
    )
    log.debug("kv X-CH-APIKEY=%s X-CH-SIGN=%s", API_KEY, SIGNATURE)
    out = output(captured)
    assert_clean(out)
    assert "1700000000123" not in out
    assert "Content-Type" in out and "openapi.bitrue.com" in out


def test_listen_keys(captured: io.StringIO) -> None:
    log.info("user stream wss://wsapi.bitrue.com/stream?listenKey=%s", LISTEN_KEY)
    log.info("response %s", json.dumps({"code": 200, "data": {"listenKey": LISTEN_KEY}}))
    log.info("keepalive PUT /poseidon/api/v1/listenKey/%s", LISTEN_KEY)
    log.info("raw body %r", {"listenKey": LISTEN_KEY})
    out = output(captured)
    assert_clean(out)
    assert out.count(MASK) == 4


def test_stack_info_and_bad_arguments(
    captured: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    log.info("where am I %s", CANARY, stack_info=True)
    log.info("%d items", CANARY)  # wrong format: must not leak through logging's error report
    out = output(captured)
    assert_clean(out)
    assert "Stack (most recent call last)" in out
    assert "bad log arguments" in out
    assert_clean(capsys.readouterr().err)


def test_json_lines_are_valid_objects(captured_json: io.StringIO) -> None:
    captured = captured_json
    log.info("hello %s", CANARY, extra={"token": 5, "n": 3})
    try:
        raise ValueError(CANARY)
    except ValueError:
        log.exception("boom")
    first, second = json_lines(captured)
    assert set(first) >= {"ts", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == log.name
    assert first["message"] == "hello ***" and first["token"] == MASK and first["n"] == 3
    assert first["ts"].endswith("Z")
    assert "exc" not in first
    assert second["exc"].startswith("Traceback") and "ValueError: ***" in second["exc"]


def test_text_format_is_readable(captured_text: io.StringIO) -> None:
    captured = captured_text
    log.warning("order %s placed", "abc123", extra={"symbol": "XRPUSDT"})
    line = captured.getvalue().strip()
    assert " WARNING " in line and log.name in line
    assert "order abc123 placed" in line and "symbol=XRPUSDT" in line


def test_warnings_and_third_party_loggers(captured: io.StringIO) -> None:
    warnings.warn(f"deprecated use of {CANARY}", UserWarning, stacklevel=1)
    logging.getLogger("aiohttp.client").error(
        "session %s", {"X-MBX-APIKEY": API_KEY, "sig": SIGNATURE}
    )
    out = output(captured)
    assert_clean(out)
    assert "deprecated use of ***" in out and "aiohttp.client" in out


def test_handlers_already_on_the_root_are_covered(secret: str, restore_logging: None) -> None:
    foreign = io.StringIO()
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(foreign))  # e.g. added by a library before us
    ours = io.StringIO()
    configure_logging("text", "INFO", stream=ours)
    try:
        raise RuntimeError(f"signature={SIGNATURE}")
    except RuntimeError:
        log.exception("with %s", CANARY)
    assert "with ***" in foreign.getvalue() and "Traceback" in foreign.getvalue()
    assert_clean(foreign.getvalue())
    assert_clean(ours.getvalue())


def test_configure_is_idempotent(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("text", "INFO", stream=io.StringIO())
    configure_logging("json", "WARNING", stream=stream)
    log.info("dropped")
    log.warning("kept")
    assert len(json_lines(stream)) == 1
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_lb_handler", False)]
    assert len(ours) == 1


def test_default_stream_is_the_current_stderr(
    secret: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO")  # no stream: stderr, looked up when each line is written
    log.info("to stderr %s", CANARY)
    captured = capsys.readouterr()
    assert captured.out == ""
    (doc,) = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert doc["message"] == "to stderr ***"


def test_bad_level_and_format(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("text", "LOUD")
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml", "INFO")


def test_uncaught_exceptions(
    secret: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("text", "INFO", stream=io.StringIO())
    try:
        raise RuntimeError(f"fatal {CANARY} listenKey={LISTEN_KEY}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())

    def worker() -> None:
        raise RuntimeError(f"thread {CANARY}")

    thread = threading.Thread(target=worker, name="leaky")
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "RuntimeError: fatal ***" in err and "RuntimeError: thread ***" in err
    assert_clean(err)


# ----------------------------------------------------------------------------- redact() itself


@pytest.mark.parametrize(
    "text,kept",
    [
        (f"?symbol=XRPUSDT&signature={SIGNATURE}", "symbol=XRPUSDT"),
        (f"{{'X-MBX-APIKEY': '{API_KEY}', 'Content-Type': 'x'}}", "Content-Type"),
        (f'{{"X-CH-APIKEY":"{API_KEY}","X-CH-SIGN":"{SIGNATURE}"}}', "X-CH-SIGN"),
        (f"x-mbx-apikey: {API_KEY}", "x-mbx-apikey"),
        (f"X-CH-SIGN={SIGNATURE}&a=1", "a=1"),
        (f"<CIMultiDict('X-MBX-APIKEY': '{API_KEY}')>", "CIMultiDict"),
        (f"/stream?listenKey={LISTEN_KEY}", "/stream"),
        (f'{{"listenKey": "{LISTEN_KEY}"}}', "listenKey"),
        (f'"{{\\"listenKey\\": \\"{LISTEN_KEY}\\"}}"', "listenKey"),
        (f"DELETE /poseidon/api/v1/listenKey/{LISTEN_KEY} 200", "200"),
        (f"Authorization: Bearer {API_KEY}", "Authorization"),
        (f"sign(api_secret='{API_KEY}', password={SIGNATURE})", "sign("),
    ],
)
def test_redact_shapes(text: str, kept: str) -> None:
    result = redact(text)
    for canary in UNREGISTERED:
        assert canary not in result
    assert kept in result and MASK in result


@pytest.mark.parametrize(
    "text",
    [
        "design=ok timestamp=1499827319559 recvWindow=5000 symbol=XRPUSDT",
        "price 0.5123 qty 100 side BUY",
        "",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_registry_short_values_forget_and_counts() -> None:
    assert register_secret("abc12") is False  # shorter than 6: never masked
    assert redact("abc12") == "abc12"
    value = "Registry-Secret-42"
    assert redact(value) == value
    assert register_secret(value) and register_secret(value.encode())  # registered twice
    assert redact(f"x {value} y") == "x *** y"
    forget_secret(value)
    assert redact(value) == MASK  # one registration left
    forget_secret(value)
    assert redact(value) == value
    forget_secret(value)  # forgetting too often is harmless
    assert redact(value) == value


def test_encoded_forms_of_a_secret_are_masked() -> None:
    value = 'a/b+c=d&e "q" \\z'
    register_secret(value)
    try:
        from urllib.parse import quote

        assert value not in redact(value)
        assert quote(value, safe="") not in redact("?p=" + quote(value, safe=""))
        assert json.dumps(value) not in redact(json.dumps({"v": value}))
        assert repr(value) not in redact(repr(value))
    finally:
        forget_secret(value)


def test_redact_value_is_recursive() -> None:
    value = {"a": [1, {"api_secret": 123456789}], "b": f"signature={SIGNATURE}", "c": None}
    assert redact_value(value) == {"a": [1, {"api_secret": MASK}], "b": "signature=***", "c": None}


def test_registry_is_thread_safe() -> None:
    kept = "Kept-Secret-Value-0001"
    register_secret(kept)
    errors: list[BaseException] = []
    leaks: list[str] = []

    def churn(n: int) -> None:
        try:
            for i in range(200):
                value = f"Churn-{n}-{i:04d}-secret"
                register_secret(value)
                if value in redact(f"<{value}>"):
                    leaks.append(value)
                forget_secret(value)
                if kept in redact(kept):
                    leaks.append(kept)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors and not leaks
        assert redact(kept) == MASK
        assert redact("Churn-3-0007-secret") == "Churn-3-0007-secret"  # all forgotten
    finally:
        forget_secret(kept)


# ----------------------------------------------------------------------------- properties

secret_text = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=6, max_size=40)
noise = st.text(max_size=40)


@settings(max_examples=200, deadline=None)
@given(value=secret_text, before=noise, after=noise)
def test_any_registered_secret_is_masked(value: str, before: str, after: str) -> None:
    register_secret(value)
    try:
        assert value not in redact(before + value + after)
    finally:
        forget_secret(value)


token = st.text("abcdefABCDEF0123456789", min_size=16, max_size=64)
params = st.lists(
    st.tuples(
        st.sampled_from(["symbol", "side", "qty", "timestamp"]),
        st.text("ABCXYZ0123456789.", min_size=1, max_size=12),
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(sig=token, key=token, before=params, after=params)
def test_signatures_and_listen_keys_are_masked_anywhere(
    sig: str, key: str, before: list, after: list
) -> None:
    query = "&".join(
        [*(f"{k}={v}" for k, v in before), f"signature={sig}", *(f"{k}={v}" for k, v in after)]
    )
    assert sig not in redact(f"GET /api/v1/order?{query} HTTP/1.1")
    for form in (
        f"/stream?listenKey={key}",
        f'{{"listenKey":"{key}"}}',
        f"/poseidon/api/v1/listenKey/{key}",
        f"{{'X-MBX-APIKEY': '{key}'}}",
        f"X-CH-SIGN: {key}\r\n",
    ):
        assert key not in redact(form), form


shapes = st.sampled_from(
    [
        '"',
        "'",
        "\\",
        "=",
        ": ",
        " ",
        "token",
        "listenKey",
        "X-MBX-APIKEY",
        "signature",
        "{",
        "}",
        ",",
        "&",
        "/listenKey/",
        "b'",
        CANARY,
        "abc",
        "***",
    ]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(shapes, max_size=14), extra=st.lists(shapes, max_size=6))
def test_json_lines_stay_valid_and_clean_for_any_message(parts: list, extra: list) -> None:
    """Whatever a message looks like, each JSON line parses and holds no registered secret."""
    formatter = JsonFormatter()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "".join(parts), None, None)
    record.detail = "".join(extra)
    register_secret(CANARY)
    try:
        line = formatter.format(record)
    finally:
        forget_secret(CANARY)
    doc = json.loads(line)
    assert CANARY not in line and CANARY not in str(doc)
    assert set(doc) >= {"ts", "level", "logger", "message"}


def test_mask_registered_masks_values_but_keeps_harmless_names() -> None:
    """For exact records (the keys audit log): registered values go, shape patterns stay off."""
    from liquidity_bot.logs import mask_registered

    value = "Audit-Canary-Secret-7"
    line = json.dumps({"api_key_hint": "ABCD…WXYZ", "note": f"saw {value}", "token_count": 3})
    assert mask_registered(line) == line
    register_secret(value)
    try:
        masked = json.loads(mask_registered(line))
        assert masked == {"api_key_hint": "ABCD…WXYZ", "note": "saw ***", "token_count": 3}
        # redact() would also rewrite ordinary words that look like `secret: value`
        detail = "the secret: does not match"
        assert mask_registered(detail) == detail and redact(detail) != detail
    finally:
        forget_secret(value)
    assert mask_registered(line) == line
