"""Logging setup with a redaction layer that every log line passes through.

Why: API keys, signatures, listen keys and passphrases must never reach a log, whatever the path
(message, %-args, `extra` fields, exception text, chained tracebacks, warnings, uncaught
exceptions). Redaction therefore works on text at the last moment, in two places:

* `RedactionFilter`, put on every root handler, rewrites each record in place (message, args,
  exception and stack text, extra fields), so even foreign formatters see redacted records;
* `TextFormatter` / `JsonFormatter` redact their final output once more, so nothing that a
  formatter adds can slip through.

`redact(text)` is the same function for other code (reports, CLI error messages).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "JsonFormatter",
    "RedactionFilter",
    "TextFormatter",
    "configure_logging",
    "forget_secret",
    "mask_registered",
    "redact",
    "redact_value",
    "register_secret",
]

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not registered: masking every "abc" would make the log unreadable."""

# ---------------------------------------------------------------------------------------------
# Registry of secret values (module level, thread-safe). Readers use an immutable snapshot (a
# compiled pattern swapped atomically), so redact() never takes the lock.

_lock = threading.Lock()
_secrets: Counter[str] = Counter()
_secret_forms: tuple[str, ...] = ()  # every masked form, longest first; replaced atomically


def _variants(value: str) -> set[str]:
    """The forms a secret takes when it is URL-encoded, JSON-escaped or repr()-ed."""
    forms = {value, quote(value, safe=""), json.dumps(value)[1:-1], repr(value)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _rebuild() -> None:
    global _secret_forms
    _secret_forms = tuple(
        sorted({f for s in _secrets for f in _variants(s)}, key=len, reverse=True)
    )


def register_secret(value: str | bytes | None) -> bool:
    """Mask `value` wherever it appears in logs and in `redact()` output.

    Returns False (and registers nothing) for values shorter than MIN_SECRET_LENGTH.
    Registrations are counted: each register_secret needs its own forget_secret.
    """
    if value is None:
        return False
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if len(value) < MIN_SECRET_LENGTH:
        return False
    with _lock:
        _secrets[value] += 1
        if _secrets[value] == 1:
            _rebuild()
    return True


def forget_secret(value: str | bytes | None) -> None:
    """Undo one register_secret(value) (for example when a key is removed from the vault)."""
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    with _lock:
        if value not in _secrets:
            return
        _secrets[value] -= 1
        if _secrets[value] <= 0:
            del _secrets[value]
            _rebuild()


# ---------------------------------------------------------------------------------------------
# Patterns for secrets we recognise by shape rather than by value.

_SENSITIVE_NAMES = (
    r"x-[a-z0-9]+-(?:ts|sign|key)",
    r"signature",
    r"sign",
    r"sig",
    r"listen[_-]?key",
    r"api[_-]?key",
    r"secret[_-]?key",
    r"secret",
    r"password",
    r"passwd",
    r"passphrase",
    r"token",
    r"authorization",
    r"cookie",
)
_WORD = "(?:" + "|".join(_SENSITIVE_NAMES) + ")"
# A full key name may carry prefixes ending in _ or - (X-MBX-APIKEY, api_secret, csrf_token,
# set-cookie) but not a bare word prefix, so "design=" is left alone.
_NAME = "(?:[a-z0-9]+[_-])*" + _WORD
# In unquoted forms only the sensitive word itself is matched, not preceded by a letter or digit
# (a prefix like "X-MBX-" or "api_" may stand before it and stays visible).
_BARE = "(?<![a-z0-9])" + _WORD
# A value never includes these: they end tokens in URLs, dict reprs, JSON and header dumps.
_STOP = r"""\s'"&,;)}\]<>\\"""
_SCHEME = r"(?:(?:bearer|basic|token|hmac)\s+)?"
_Q = r"""(?:b?\\?['"])"""  # a quote, maybe escaped (\") or of a bytes repr (b')
# An unquoted value, or a quoted one whose closing quote is missing (a truncated line); a value
# that is already masked is left alone (so the pass over a JSON line keeps it valid JSON).
_LOOSE_VALUE = rf"(?!{_Q}\*\*\*)(?:{_Q})?[^{_STOP}]+"

# Cheap test first: most log lines contain no sensitive word at all and skip the patterns below.
_TRIGGER = re.compile(_WORD)  # applied to text.lower(): ten times faster than (?i)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON and dict reprs: "listenKey": "abc", 'X-MBX-APIKEY': 'abc', b'X-CH-SIGN': b'ab',
    # escaped quotes inside a JSON string (\"listenKey\": \"abc\"), and header tuples
    # ('X-MBX-APIKEY', 'abc').
    (
        re.compile(rf"""(?i)((\\?['"]){_NAME}\2\s*[:=,]\s*b?(\\?['"])){_SCHEME}(?:(?!\3).)*?\3"""),
        rf"\1{MASK}\3",
    ),
    # the same with an unquoted value ("X-CH-TS": 1700000000) or an unclosed quote
    (re.compile(rf"""(?i)((\\?['"]){_NAME}\2\s*[:=]\s*){_LOOSE_VALUE}"""), rf"\1{MASK}"),
    # key=value (query strings, kwargs reprs), key='value'; header dumps and `key: value`
    # (X-MBX-APIKEY: abc, Authorization: Bearer abc)
    (
        re.compile(
            rf"""(?i)({_BARE}(?:=|:[ \t]*){_SCHEME})(?:b?(\\?['"])(?:(?!\2).)*?\2|{_LOOSE_VALUE})"""
        ),
        rf"\1\2{MASK}\2",
    ),
    # listen keys in paths: /listenKey/<key>
    (re.compile(rf"""(?i)(/listen[_-]?key/)[^/?#{_STOP}]+"""), rf"\1{MASK}"),
)


def mask_registered(text: str) -> str:
    """`text` with only the registered secret values masked (no shape patterns).

    For records that must stay exact apart from secrets (the keys audit log): the shape patterns
    of ``redact`` would also mask harmless names such as ``api_key_hint``.
    """
    if not text:
        return text
    for form in _secret_forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def redact(text: str) -> str:
    """`text` with registered secrets, signatures, auth headers and listen keys masked."""
    if not text:
        return text
    for form in _secret_forms:
        if form in text:
            text = text.replace(form, MASK)
    if _TRIGGER.search(text.lower()):
        for regex, replacement in _PATTERNS:
            text = regex.sub(replacement, text)
    return text


_SENSITIVE_KEY_RE = re.compile(rf"(?i){_NAME}")


def _redact_field(key: str, value: Any) -> Any:
    """A field's value, masked entirely when the field's name says it is a secret."""
    return MASK if _SENSITIVE_KEY_RE.fullmatch(key) else redact_value(value)


def redact_value(value: Any) -> Any:
    """A JSON-friendly, redacted copy of `value` (dict values under sensitive keys are masked)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    return redact(str(value))


# ---------------------------------------------------------------------------------------------
# Records.

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.__dict__.items()
        if k not in _STANDARD_ATTRS and not k.startswith("_lb_")
    }


class RedactionFilter(logging.Filter):
    """Rewrite a record in place so that everything a handler could print is redacted.

    The %-formatting is done here (once), so args can never be printed unredacted later.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_lb_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not leak its args either
            message = f"{record.msg!s} (bad log arguments)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _format_exception(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extras(record).items():
            setattr(record, key, _redact_field(key, value))
        record._lb_redacted = True
        return True


def _format_exception(exc_info: Any) -> str:
    # traceback.format_exception follows __cause__ and __context__ (chained exceptions).
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = _format_exception(record.exc_info)
    return record.exc_text or None


class TextFormatter(logging.Formatter):
    """Human-readable lines: `ts LEVEL logger: message key=value ...` plus traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += "  " + " ".join(
                f"{k}={_compact(_redact_field(k, v))}" for k, v in extras.items()
            )
        exc = _exception_text(record)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + record.stack_info
        return redact(line)


def _compact(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() for c in value):
        return value
    return json.dumps(redact_value(value), ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, exc (when present), extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        exc = _exception_text(record)
        if exc:
            doc["exc"] = redact(exc)
        if record.stack_info:
            doc["stack"] = redact(record.stack_info)
        for key, value in _extras(record).items():
            doc[key if key not in doc else f"extra_{key}"] = _redact_field(key, value)
        line = json.dumps(doc, ensure_ascii=False, default=str)
        # Every field is redacted already; this last pass catches what encoding could reveal.
        # It must not break the line: if masking would, the line is withheld rather than leaked.
        cleaned = redact(line)
        if cleaned != line:
            try:
                json.loads(cleaned)
            except ValueError:
                doc = {k: doc[k] for k in ("ts", "level", "logger")}
                doc["message"] = f"{MASK} (line withheld: it could not be redacted safely)"
                cleaned = json.dumps(doc)
        return cleaned


# ---------------------------------------------------------------------------------------------
# Setup.

_OURS = "_lb_handler"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at emit time (test runners and CLIs swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    text = str(level).strip().upper()
    if text.isdigit():
        return int(text)
    value = logging.getLevelName(text)
    if not isinstance(value, int):
        raise ValueError(
            f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return value


def _excepthook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    """Uncaught exceptions are printed redacted (the default hook would print secrets)."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(redact(text))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))


def configure_logging(
    fmt: str = "text", level: str = "INFO", *, stream: TextIO | None = None
) -> None:
    """Install one redacting handler on the root logger (idempotent).

    fmt: "text" (human-readable) or "json" (one object per line). Logs go to `stream`
    (default stderr, so stdout stays free for command output). Every root handler, ours and
    any already present, gets the RedactionFilter; warnings and uncaught exceptions are routed
    through redaction too.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: use 'text' or 'json'")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(_parse_level(level))
    for existing in root.handlers:
        if not any(isinstance(f, RedactionFilter) for f in existing.filters):
            existing.addFilter(RedactionFilter())
    logging.captureWarnings(True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
