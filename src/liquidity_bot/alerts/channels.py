"""Where alerts go: a generic JSON webhook, a Slack-compatible incoming webhook, Telegram's Bot API.

A channel turns one or more ``Notice``s into one HTTP request and says whether the answer means
"delivered", "try again (after N s)" or "give up". The address or bot token is a secret: it is
read from the environment variable the config names (never from the file), registered with the
log redactor at once, and kept in a ``Secret`` that does not print itself. Nothing here logs a
request's address; errors are reported by type and HTTP status only.

Formats:
- ``webhook``: ``{"source": "liquidity-bot", "version": 1, "alerts": [notice.to_json(), ...]}``;
- ``slack``: ``{"text": ..., "blocks": [...]}`` (Slack's incoming webhooks; Mattermost and
  Rocket.Chat read ``text``);
- ``telegram``: ``POST {api_url}/bot<token>/sendMessage`` with ``chat_id``, ``text`` (HTML mode,
  at most 4096 characters), ``disable_web_page_preview``.
"""

from __future__ import annotations

import abc
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from liquidity_bot.alerts.model import Notice, Severity
from liquidity_bot.config import AlertChannelConfig
from liquidity_bot.keys.gate import Secret
from liquidity_bot.logs import register_secret

__all__ = [
    "Channel",
    "ChannelError",
    "Outcome",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "build_channels",
]

TELEGRAM_MAX_CHARS = 4096
SLACK_MAX_BLOCKS = 45  # Slack allows 50 blocks a message; room for a header and a footer


class ChannelError(Exception):
    """A channel cannot be built (its variable is unset, its address is not acceptable)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt to deliver came to."""

    delivered: bool
    retry: bool = False
    retry_after_s: float | None = None
    why: str = ""


def _secret_from_env(name: str, channel: str, environ: Mapping[str, str]) -> Secret:
    value = environ.get(name, "")
    if not value.strip():
        raise ChannelError(
            f"alert channel {channel!r}: environment variable {name} is not set (it holds the "
            "channel's address or token; the config file only names it)")
    value = value.strip()
    register_secret(value)
    return Secret(value)


def _loopback(host: str) -> bool:
    from liquidity_bot.config import _is_loopback_host

    return _is_loopback_host(host)


def _check_url(url: str, channel: str, variable: str) -> None:
    """https, or http on loopback only; the address itself is never put in the message."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ChannelError(f"alert channel {channel!r}: {variable} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ChannelError(f"alert channel {channel!r}: {variable} must hold an https:// URL")
    if parts.scheme == "http" and not _loopback(host):
        raise ChannelError(f"alert channel {channel!r}: {variable} must be https:// (plain "
                           "http:// is allowed only on loopback)")
    # The path and query of a webhook address are what make it secret (Slack's
    # /services/T../B../<secret>): mask them on their own too, wherever they show up.
    tail = url[len(f"{parts.scheme}://{parts.netloc}"):]
    if len(tail) > 12:
        register_secret(tail)


class Channel(abc.ABC):
    """One configured destination (see the module docstring)."""

    kind = "webhook"

    def __init__(self, config: AlertChannelConfig) -> None:
        self.config = config
        self.name = config.name
        self.min_severity = Severity(config.min_severity)

    def __repr__(self) -> str:  # never the address
        return f"{type(self).__name__}(name={self.name!r})"

    def wants(self, notice: Notice) -> bool:
        """Severity filter; a "resolved" goes where its "firing" went."""
        return notice.alert.severity.rank >= self.min_severity.rank

    @abc.abstractmethod
    def request(self, notices: Sequence[Notice]) -> tuple[str, dict[str, Any]]:
        """The address and JSON body for one message carrying ``notices`` (one or a digest)."""

    async def deliver(self, session: aiohttp.ClientSession, notices: Sequence[Notice]) -> Outcome:
        """One attempt; never raises for network trouble (it becomes an ``Outcome``)."""
        url, body = self.request(notices)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with session.post(url, json=body, timeout=timeout,
                                    allow_redirects=False) as resp:
                text = await resp.text(errors="replace")
                return self.judge(resp.status, resp.headers, text)
        except TimeoutError:
            return Outcome(False, retry=True, why=f"no answer within {self.config.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(False, retry=True, why=type(exc).__name__)

    def judge(self, status: int, headers: Mapping[str, str], text: str) -> Outcome:
        if 200 <= status < 300:
            return Outcome(True)
        if status == 429 or status >= 500:
            return Outcome(False, retry=True, retry_after_s=_retry_after(headers),
                           why=f"HTTP {status}")
        return Outcome(False, why=f"HTTP {status}: the receiver refused the message (check the "
                                  f"address in {self.config.url_env})")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        value = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


class WebhookChannel(Channel):
    """Generic JSON webhook: one object with an ``alerts`` list."""

    kind = "webhook"

    def __init__(self, config: AlertChannelConfig, environ: Mapping[str, str]) -> None:
        super().__init__(config)
        assert config.url_env is not None
        self.url = _secret_from_env(config.url_env, config.name, environ)
        _check_url(self.url.reveal(), config.name, config.url_env)

    def request(self, notices: Sequence[Notice]) -> tuple[str, dict[str, Any]]:
        return self.url.reveal(), {
            "source": "liquidity-bot",
            "version": 1,
            "channel": self.name,
            "alerts": [n.to_json() for n in notices],
        }


_SLACK_ICON = {"firing": ":rotating_light:", "reminder": ":warning:",
               "resolved": ":white_check_mark:", "test": ":wave:"}


def _slack_escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel(WebhookChannel):
    """Slack-compatible incoming webhook: ``text`` (the fallback every client shows) and blocks."""

    kind = "slack"

    def request(self, notices: Sequence[Notice]) -> tuple[str, dict[str, Any]]:
        if len(notices) == 1:
            text = _slack_escape(notices[0].text())
        else:
            text = f"{len(notices)} liquidity-bot alerts:\n" + "\n".join(
                _slack_escape(n.headline()) for n in notices)
        blocks = []
        for n in notices[:SLACK_MAX_BLOCKS]:
            body = f"{_SLACK_ICON[n.status]} *{_slack_escape(n.headline())}*"
            for line in n.lines():
                body += "\n" + _slack_escape(line)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
        if len(notices) > SLACK_MAX_BLOCKS:
            blocks.append({"type": "context", "elements": [{
                "type": "mrkdwn", "text": f"... and {len(notices) - SLACK_MAX_BLOCKS} more"}]})
        return self.url.reveal(), {"text": text, "blocks": blocks}


class TelegramChannel(Channel):
    """Telegram Bot API ``sendMessage``; ``api_url`` is overridable (loopback in tests)."""

    kind = "telegram"

    def __init__(self, config: AlertChannelConfig, environ: Mapping[str, str]) -> None:
        super().__init__(config)
        assert config.token_env is not None and config.chat_id is not None
        self.token = _secret_from_env(config.token_env, config.name, environ)
        if any(c in self.token.reveal() for c in "/?#@ "):
            raise ChannelError(f"alert channel {config.name!r}: {config.token_env} does not hold "
                               "a Telegram bot token (digits:letters, as @BotFather gives it)")
        self.api_url = config.api_url.rstrip("/")

    def request(self, notices: Sequence[Notice]) -> tuple[str, dict[str, Any]]:
        parts = []
        for n in notices:
            part = f"<b>{html.escape(n.headline(), quote=False)}</b>"
            for line in n.lines():
                part += "\n" + html.escape(line, quote=False)
            parts.append(part)
        text = "\n\n".join(parts)
        if len(text) > TELEGRAM_MAX_CHARS:
            # cut between messages where possible: half a tag would make Telegram refuse it all
            text = "\n\n".join(f"<b>{html.escape(n.headline(), quote=False)}</b>"
                               for n in notices)
            if len(text) > TELEGRAM_MAX_CHARS:
                text = html.escape(
                    "\n".join(n.headline() for n in notices), quote=False
                )[: TELEGRAM_MAX_CHARS - 20].rsplit("\n", 1)[0] + "\n..."
        url = f"{self.api_url}/bot{self.token.reveal()}/sendMessage"
        return url, {"chat_id": self.config.chat_id, "text": text, "parse_mode": "HTML",
                     "disable_web_page_preview": True}

    def judge(self, status: int, headers: Mapping[str, str], text: str) -> Outcome:
        if 200 <= status < 300:
            return Outcome(True)
        retry_after = _retry_after(headers)
        if status == 429:
            import json

            try:  # Telegram says how long in the body: {"parameters": {"retry_after": 5}}
                retry_after = float(json.loads(text)["parameters"]["retry_after"])
            except (ValueError, KeyError, TypeError):
                pass
            return Outcome(False, retry=True, retry_after_s=retry_after, why="HTTP 429")
        if status >= 500:
            return Outcome(False, retry=True, retry_after_s=retry_after, why=f"HTTP {status}")
        hint = ("the bot token was refused: check " + str(self.config.token_env)
                if status in (401, 404) else
                "check chat_id and that the bot was added to that chat")
        return Outcome(False, why=f"HTTP {status}: {hint}")


def build_channels(
    configs: Sequence[AlertChannelConfig], environ: Mapping[str, str] | None = None
) -> list[Channel]:
    """Channels from the config, their secrets from ``environ`` (default: the process's).

    Raises ``ChannelError`` naming the channel and variable (never the value) when one cannot
    be built: an alert channel that silently does nothing is worse than none."""
    env = os.environ if environ is None else environ
    out: list[Channel] = []
    for c in configs:
        if c.type == "telegram":
            out.append(TelegramChannel(c, env))
        elif c.type == "slack":
            out.append(SlackChannel(c, env))
        else:
            out.append(WebhookChannel(c, env))
    return out
