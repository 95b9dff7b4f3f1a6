"""[alerts] in the TOML: channels by name, secrets only by the name of their variable, errors that
name the file and key; channels built from the environment, never echoing a secret."""

from __future__ import annotations

import pytest

from liquidity_bot.alerts import ChannelError, build_channels
from liquidity_bot.config import ConfigError, parse_config
from liquidity_bot.logs import redact


def load(text: str):
    return parse_config(text, source="bot.toml")


def error(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load(text)
    return str(exc.value)


def test_defaults_and_a_full_channel_list():
    assert load("").alerts.channels == ()
    cfg = load("""
[alerts]
breach_grace_s = 45
reminder_s = 600
[[alerts.channels]]
name = "ops-slack"
type = "slack"
url_env = "LB_SLACK_URL"
min_severity = "warning"
max_per_minute = 10
[[alerts.channels]]
name = "ops-telegram"
type = "telegram"
token_env = "LB_TELEGRAM_TOKEN"
chat_id = "-1001234567890"
""").alerts
    assert cfg.breach_grace_s == 45 and cfg.reminder_s == 600
    assert [c.name for c in cfg.channels] == ["ops-slack", "ops-telegram"]
    assert cfg.channels[1].api_url == "https://api.telegram.org"


@pytest.mark.parametrize("text, expected", [
    ("[alerts]\nbreach_grace = 5", "bot.toml: alerts.breach_grace: unknown key in alerts; did you "
                                   "mean 'breach_grace_s'?"),
    ('[[alerts.channels]]\nname = "a"\ntype = "email"\nurl_env = "X"',
     "alerts.channels[0].type: must be 'webhook' or 'slack' or 'telegram'"),
    ('[[alerts.channels]]\nname = "a"\ntype = "slack"',
     "alerts.channels[0].url_env: required for a slack channel"),
    ('[[alerts.channels]]\nname = "a"\ntype = "webhook"\nurl_env = "X"\nchat_id = "1"',
     "alerts.channels[0].chat_id: not used by a webhook channel"),
    ('[[alerts.channels]]\nname = "a"\ntype = "webhook"\nurl_env = "X"\n'
     '[[alerts.channels]]\nname = "a"\ntype = "slack"\nurl_env = "Y"',
     "alerts.channels[1].name: 'a' is already used by alerts.channels[0]"),
    ('[[alerts.channels]]\nname = "a"\ntype = "telegram"\ntoken_env = "T"\nchat_id = "1"\n'
     'api_url = "http://example.com"', "plain http:// is allowed only for loopback"),
    ('[[alerts.channels]]\nname = "a"\ntype = "webhook"\nurl_env = "X"\nmax_per_minute = 0',
     "alerts.channels[0].max_per_minute: must be >= 1"),
])
def test_mistakes_name_the_file_and_key(text: str, expected: str):
    assert expected in error(text)


def test_a_secret_in_the_file_is_refused_without_echoing_it():
    secret = "https://hooks.slack.com/services/T0/B0/FileCanary123456"
    for key in ("url", "webhook_url"):
        message = error(f'[[alerts.channels]]\nname = "a"\ntype = "slack"\n{key} = "{secret}"')
        assert "url_env" in message and "FileCanary" not in message
    message = error('[[alerts.channels]]\nname = "a"\ntype = "telegram"\nchat_id = "1"\n'
                    'token = "123:FileCanaryToken"')
    assert "token_env" in message and "FileCanary" not in message
    # pasted into url_env itself: refused, and not repeated either
    message = error(f'[[alerts.channels]]\nname = "a"\ntype = "slack"\nurl_env = "{secret}"')
    assert "NAME of an environment variable" in message and "FileCanary" not in message


def test_channels_read_their_secret_from_the_environment_and_register_it():
    cfg = load('[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl_env = "LB_HOOK"\n'
               '[[alerts.channels]]\nname = "tg"\ntype = "telegram"\ntoken_env = "LB_TG"\n'
               'chat_id = "7"').alerts
    env = {"LB_HOOK": "https://example.org/hook/EnvCanary-aa11bb22", "LB_TG": "42:EnvCanaryTok"}
    hook, tg = build_channels(cfg.channels, env)
    assert "EnvCanary" not in repr(hook) + repr(tg) + repr(hook.url) + repr(tg.token)
    assert redact(f"posting to {env['LB_HOOK']} with {env['LB_TG']}").count("EnvCanary") == 0
    assert redact("path /hook/EnvCanary-aa11bb22 alone") == "path *** alone"


@pytest.mark.parametrize("env, problem", [
    ({}, "environment variable LB_HOOK is not set"),
    ({"LB_HOOK": "http://example.org/hook/x"}, "must be https://"),
    ({"LB_HOOK": "ftp://example.org/x"}, "must hold an https:// URL"),
])
def test_a_channel_that_cannot_work_is_an_error_naming_the_variable(env, problem):
    cfg = load('[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl_env = "LB_HOOK"').alerts
    with pytest.raises(ChannelError) as exc:
        build_channels(cfg.channels, env)
    assert problem in str(exc.value) and "example.org" not in str(exc.value)
