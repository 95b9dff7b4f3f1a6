"""The TOML config: typed, frozen, exact decimals, one clear error type, no secrets."""

from __future__ import annotations

import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidity_bot.config import (
    DEFAULT_FUTURES_URL,
    DEFAULT_LISTEN_KEY_URL,
    DEFAULT_MARKET_WS_URL,
    DEFAULT_SPOT_URL,
    DEFAULT_USER_WS_URL,
    BotConfig,
    ConfigError,
    dashboard_token_from_env,
    load_config,
    parse_config,
    passphrase_from_env,
)
from liquidity_bot.logs import forget_secret, redact

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bot.toml"

MARKET = """
[[markets]]
symbol = "xrpusdt"
key_label = "main"
strategy = "ladder"

[markets.ladder]
level_size_quote = "100"
levels = 3

[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "250"

[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "1000"
max_base_inventory = "20000"
daily_loss_limit = "200"
"""


def write(tmp_path: Path, text: str, name: str = "bot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> BotConfig:
    return load_config(write(tmp_path, text), home=tmp_path / "home")


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return info.value


# ----------------------------------------------------------------------------- good configs


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE, home=Path("/var/lib/lb"))
    assert config.bitrue.spot_url == "http://127.0.0.1:8999"
    assert config.bitrue.market_ws_endpoint == "ws://127.0.0.1:8999/market/ws"
    assert config.bitrue.user_ws_endpoint == "ws://127.0.0.1:8999/stream"
    assert config.store.url == "sqlite:////var/lib/lb/liquidity-bot.db"
    assert [m.symbol for m in config.markets] == ["XRPUSDT", "BTCUSDT"]
    assert {m.strategy for m in config.markets} == {"ladder"}
    assert all(m.order_manager.order_budget_share == Decimal("0.5") for m in config.markets)


def test_empty_file_gives_production_defaults(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    assert config.bitrue.spot_url == DEFAULT_SPOT_URL == "https://openapi.bitrue.com"
    assert config.bitrue.listen_key_url == DEFAULT_LISTEN_KEY_URL == "https://open.bitrue.com"
    assert config.bitrue.futures_url == DEFAULT_FUTURES_URL == "https://fapi.bitrue.com"
    assert config.bitrue.market_ws_url == DEFAULT_MARKET_WS_URL == "wss://ws.bitrue.com"
    assert config.bitrue.market_ws_endpoint == "wss://ws.bitrue.com/market/ws"
    assert config.bitrue.user_ws_url == DEFAULT_USER_WS_URL == "wss://wsapi.bitrue.com"
    assert config.bitrue.recv_window == 5000
    assert config.store.url == f"sqlite:///{tmp_path / 'home'}/liquidity-bot.db"
    assert config.dashboard.host == "127.0.0.1"
    assert config.kpi_interval_s == 1.0
    assert config.markets == ()


def test_home_defaults_to_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQUIDITY_BOT_HOME", str(tmp_path / "state"))
    config = load_config(write(tmp_path, ""))
    assert config.store.url == f"sqlite:///{tmp_path / 'state'}/liquidity-bot.db"


def test_market_money_is_exact_decimal(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        MARKET.replace('"100"', '"0.1"').replace("levels = 3", "levels = 3\nprice_floor = 2"),
    )
    market = config.market("XRPUSDT")
    assert market.symbol == "XRPUSDT"  # normalised to Bitrue's upper case
    assert market.ladder is not None
    assert market.ladder.level_size_quote == Decimal("0.1")
    assert type(market.ladder.level_size_quote) is Decimal
    assert market.ladder.price_floor == Decimal(2) and type(market.ladder.price_floor) is Decimal
    assert market.risk.max_order_notional == Decimal("500")
    assert market.client_id_prefix == "lb"
    assert market.order_manager.effective_price_tolerance_ticks == 1


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_text(tmp_path, MARKET)
    with pytest.raises(AttributeError):
        config.kpi_interval_s = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.markets[0].risk.max_order_notional = Decimal(1)  # type: ignore[misc]
    assert isinstance(config.markets, tuple)


def test_base_url_points_everything_at_one_address(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[bitrue]\nbase_url = "http://127.0.0.1:8999/"\n')
    b = config.bitrue
    assert b.spot_url == b.listen_key_url == b.futures_url == "http://127.0.0.1:8999"
    assert b.market_ws_url == b.user_ws_url == "ws://127.0.0.1:8999"

    config = load_text(
        tmp_path,
        '[bitrue]\nbase_url = "https://sim.example.org"\n'
        'futures_url = "https://other.example.org/"\n',
    )
    assert config.bitrue.market_ws_url == "wss://sim.example.org"
    assert config.bitrue.spot_url == "https://sim.example.org"
    assert config.bitrue.futures_url == "https://other.example.org"  # explicit key wins


def test_every_address_can_be_overridden(tmp_path: Path) -> None:
    text = """[bitrue]
spot_url = "https://a.example"
listen_key_url = "https://b.example"
futures_url = "https://c.example"
market_ws_url = "wss://d.example"
user_ws_url = "wss://e.example"
source_address = "192.0.2.7"
"""
    b = load_text(tmp_path, text).bitrue
    assert (b.spot_url, b.listen_key_url, b.futures_url, b.market_ws_url, b.user_ws_url) == (
        "https://a.example",
        "https://b.example",
        "https://c.example",
        "wss://d.example",
        "wss://e.example",
    )
    assert b.source_address == "192.0.2.7"


def test_relative_policy_path_is_next_to_the_config(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[keys]\npolicy_path = "policy.toml"\n')
    assert config.keys.policy_path == tmp_path / "policy.toml"


# ----------------------------------------------------------------------------- errors


def test_error_names_file_key_path_and_range(tmp_path: Path) -> None:
    text = MARKET.replace('max_spread_pct = "1"', 'max_spread_pct = "150"')
    err = error_for(tmp_path, text)
    message = str(err)
    assert str(tmp_path / "bot.toml") in message
    assert "markets[0].obligations.max_spread_pct" in message
    assert "< 100" in message and "'150'" in message
    assert err.key_path == "markets[0].obligations.max_spread_pct"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("0", ">= 1"),
        ("60001", "<= 60000"),
        ('"5000"', "must be an integer"),
        ("5000.0", "must be an integer"),
        ("true", "must be an integer"),
    ],
)
def test_recv_window_range_and_type(tmp_path: Path, value: str, expected: str) -> None:
    err = error_for(tmp_path, f"[bitrue]\nrecv_window = {value}\n")
    assert err.key_path == "bitrue.recv_window"
    assert expected in str(err)


def test_the_removed_rehearsal_setting_says_to_delete_it(tmp_path: Path) -> None:
    err = error_for(tmp_path, "rehearsal_interval_ms = 2\n")
    assert err.key_path == "rehearsal_interval_ms"
    assert "no longer a setting" in str(err) and "delete this line" in str(err)


def test_unknown_keys_are_rejected_with_the_allowed_ones(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[bitrue]\nrecv_windw = 10\n")
    assert err.key_path == "bitrue.recv_windw"
    assert "did you mean 'recv_window'" in str(err)
    assert "allowed keys:" in str(err) and "spot_url" in str(err)

    err = error_for(tmp_path, MARKET + "\n[markets.risk.extra]\nx = 1\n")
    assert err.key_path == "markets[0].risk.extra"

    err = error_for(tmp_path, "[surprise]\n")
    assert err.key_path == "surprise"


def test_float_money_is_rejected_with_quoting_advice(tmp_path: Path) -> None:
    err = error_for(
        tmp_path, MARKET.replace('max_order_notional = "500"', "max_order_notional = 500.5")
    )
    assert err.key_path == "markets[0].risk.max_order_notional"
    assert 'max_order_notional = "500.5"' in str(err)
    assert "float" in str(err)


def test_bad_decimal_text_is_rejected(tmp_path: Path) -> None:
    for bad in ('"abc"', '"NaN"', '"Infinity"', "true", "[1]"):
        err = error_for(
            tmp_path, MARKET.replace('daily_loss_limit = "200"', f"daily_loss_limit = {bad}")
        )
        assert err.key_path == "markets[0].risk.daily_loss_limit", bad


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, "kpi_interval_s = 1\n[bitrue]\nrecv_window = = 3\n")
    assert err.line == 3
    assert str(err).startswith(f"{tmp_path / 'bot.toml'}:3:")
    assert "invalid TOML" in str(err)


def test_parse_config_validates_like_load_config(tmp_path: Path) -> None:
    config = parse_config(MARKET, home=tmp_path)
    assert config.markets[0].symbol == "XRPUSDT"
    with pytest.raises(ConfigError) as info:
        parse_config("[bitrue]\nrecv_window = 0\n", source="inline")
    assert str(info.value).startswith("inline: bitrue.recv_window:")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "snippet,path",
    [
        ('secret = "S3cr3tValue!"\n', "secret"),
        ('[bitrue]\napi_secret = "S3cr3tValue!"\n', "bitrue.api_secret"),
        ('[keys]\npassword = "S3cr3tValue!"\n', "keys.password"),
        ('[keys]\npassphrase = "S3cr3tValue!"\n', "keys.passphrase"),
        ('[whatever.deep]\nSecretKey = "S3cr3tValue!"\n', "whatever.deep.SecretKey"),
        ('[bitrue]\napi_key = "S3cr3tValue!"\n', "bitrue.api_key"),
    ],
)
def test_secrets_are_refused_anywhere_without_echoing_them(
    tmp_path: Path, snippet: str, path: str
) -> None:
    err = error_for(tmp_path, snippet)
    assert err.key_path == path
    message = str(err)
    assert "S3cr3tValue!" not in message
    assert "liquidity-bot keys add" in message
    assert "LIQUIDITY_BOT_PASSPHRASE" in message


def test_secret_inside_a_market_is_refused(tmp_path: Path) -> None:
    text = MARKET.replace('key_label = "main"', 'key_label = "main"\nsecret = "S3cr3tValue!"')
    err = error_for(tmp_path, text)
    assert err.key_path == "markets[0].secret"
    assert "S3cr3tValue!" not in str(err)


def test_dashboard_token_must_come_from_env(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[dashboard]\ntoken = "T0kenValue99"\n')
    assert err.key_path == "dashboard.token"
    assert "LIQUIDITY_BOT_DASHBOARD_TOKEN" in str(err)
    assert "T0kenValue99" not in str(err)


def test_store_url_with_password_is_refused(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[store]\nurl = "postgresql://bot:Hunter2Pass@db/lb"\n')
    assert err.key_path == "store.url"
    assert "Hunter2Pass" not in str(err)
    assert "PGPASSWORD" in str(err)
    ok = load_text(tmp_path, '[store]\nurl = "postgresql+psycopg://bot@db/lb"\n')
    assert ok.store.url == "postgresql+psycopg://bot@db/lb"


@pytest.mark.parametrize(
    "key,value,fragment",
    [
        ("spot_url", "http://openapi.bitrue.com", "loopback"),
        ("spot_url", "ftp://x.example", "https://"),
        ("spot_url", "https://user:pw@x.example", "user name or password"),
        ("market_ws_url", "https://ws.bitrue.com", "wss://"),
        ("user_ws_url", "ws://10.0.0.1:1", "loopback"),
        ("spot_url", "https://x.example/?a=1", "without query"),
        ("base_url", "http://example.org", "loopback"),
        ("source_address", "not-an-ip", "IPv4 or IPv6"),
    ],
)
def test_bad_addresses(tmp_path: Path, key: str, value: str, fragment: str) -> None:
    err = error_for(tmp_path, f'[bitrue]\n{key} = "{value}"\n')
    assert err.key_path == f"bitrue.{key}"
    assert fragment in str(err)


def test_loopback_plain_http_is_allowed(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "127.5.5.5", "[::1]"):
        config = load_text(tmp_path, f'[bitrue]\nspot_url = "http://{host}:8999"\n')
        assert config.bitrue.spot_url == f"http://{host}:8999"


def test_strategy_table_must_match(tmp_path: Path) -> None:
    err = error_for(tmp_path, MARKET.replace('strategy = "ladder"', 'strategy = "avellaneda"'))
    assert err.key_path == "markets[0].avellaneda"
    assert "required" in str(err)

    text = MARKET + '\n[markets.avellaneda]\norder_size_quote = "10"\n'
    err = error_for(tmp_path, text)
    assert err.key_path == "markets[0].avellaneda"
    assert "remove" in str(err)

    err = error_for(tmp_path, MARKET.replace('strategy = "ladder"', 'strategy = "grid"'))
    assert err.key_path == "markets[0].strategy"
    assert "'ladder' or 'avellaneda'" in str(err)


def test_missing_required_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, MARKET.replace('daily_loss_limit = "200"\n', ""))
    assert err.key_path == "markets[0].risk.daily_loss_limit"
    assert "required" in str(err)


@pytest.mark.parametrize(
    "old,new,path",
    [
        ('client_id_prefix = "lb"', 'client_id_prefix = "l-b"', "markets[0].client_id_prefix"),
        (
            'client_id_prefix = "lb"',
            'client_id_prefix = "toolongprefix"',
            "markets[0].client_id_prefix",
        ),
        (
            'max_base_inventory = "20000"',
            'max_base_inventory = "20000"\nmin_base_inventory = "20000"',
            "markets[0].risk.min_base_inventory",
        ),
        (
            'max_order_notional = "500"',
            'max_order_notional = "5000"',
            "markets[0].risk.max_order_notional",
        ),
        ('level_size_quote = "100"', 'level_size_quote = "600"', "markets[0].ladder"),
        ("levels = 3", "levels = 20", "markets[0].ladder"),
        (
            "levels = 3",
            'levels = 3\nmin_spread_pct = "1"\nbase_spread_pct = "0.5"',
            "markets[0].ladder.min_spread_pct",
        ),
        (
            "levels = 3",
            'levels = 3\nprice_floor = "2"\nprice_ceiling = "1"',
            "markets[0].ladder.price_floor",
        ),
        (
            'min_depth_2pct_quote = "250"',
            'min_depth_2pct_quote = "5000"',
            "markets[0].obligations.min_depth_2pct_quote",
        ),
        (
            'daily_loss_limit = "200"',
            'daily_loss_limit = "200"\n[markets.order_manager]\nprice_tolerance_ticks = 1\n'
            'price_tolerance_pct = "0.1"',
            "markets[0].order_manager",
        ),
        (
            'daily_loss_limit = "200"',
            'daily_loss_limit = "200"\n[markets.order_manager]\nrefresh_interval_ms = 1',
            "markets[0].order_manager.refresh_interval_ms",
        ),
    ],
)
def test_market_consistency(tmp_path: Path, old: str, new: str, path: str) -> None:
    text = MARKET.replace('key_label = "main"', 'key_label = "main"\nclient_id_prefix = "lb"')
    assert old in text
    err = error_for(tmp_path, text.replace(old, new, 1))
    assert err.key_path == path, str(err)


def test_duplicate_symbols_and_budget(tmp_path: Path) -> None:
    err = error_for(tmp_path, MARKET + MARKET.replace("xrpusdt", "XRPUSDT"))
    assert err.key_path == "markets[1].symbol"
    assert "markets[0]" in str(err)

    second = MARKET.replace("xrpusdt", "ethusdt")
    both = (
        MARKET
        + '[markets.order_manager]\norder_budget_share = "0.6"\n'
        + second
        + '[markets.order_manager]\norder_budget_share = "0.5"\n'
    )
    err = error_for(tmp_path, both)
    assert "1.1" in str(err) and "order_budget_share" in err.key_path
    load_text(tmp_path, both.replace('"0.6"', '"0.5"'))


def test_passphrase_and_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQUIDITY_BOT_PASSPHRASE", raising=False)
    assert passphrase_from_env() is None
    monkeypatch.setenv("LIQUIDITY_BOT_PASSPHRASE", "")
    assert passphrase_from_env() is None
    monkeypatch.setenv("LIQUIDITY_BOT_PASSPHRASE", "correct horse battery")
    try:
        assert passphrase_from_env() == "correct horse battery"
        # registered with the redactor: it can no longer be logged in clear
        assert redact("pw=correct horse battery!") == "pw=***!"
    finally:
        forget_secret("correct horse battery")
    monkeypatch.setenv("LIQUIDITY_BOT_DASHBOARD_TOKEN", "dash-token-123456")
    try:
        assert dashboard_token_from_env() == "dash-token-123456"
        assert "dash-token-123456" not in redact("token dash-token-123456")
    finally:
        forget_secret("dash-token-123456")


# ----------------------------------------------------------------------------- fuzz


def _leaves(tree: object, path: tuple = ()) -> list[tuple]:
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(tree, list):
        return [leaf for i, v in enumerate(tree) for leaf in _leaves(v, (*path, i))]
    return [path]


EXAMPLE_TREE = tomllib.loads(EXAMPLE.read_text())
LEAVES = _leaves(EXAMPLE_TREE)
toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
)


def _toml(value: object) -> str:
    """A tiny TOML writer (inline tables only) so the fuzz test needs no extra dependency."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _toml_document(tree: dict) -> str:
    return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in tree.items())


def test_tiny_toml_writer_round_trips() -> None:
    assert tomllib.loads(_toml_document(EXAMPLE_TREE)) == EXAMPLE_TREE


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(leaf=st.sampled_from(LEAVES), value=toml_values)
def test_any_wrong_value_gives_config_error_with_its_path(
    tmp_path: Path, leaf: tuple, value: object
) -> None:
    """Replacing any value of the example by anything either loads or names that key."""
    import copy

    tree = copy.deepcopy(EXAMPLE_TREE)
    node = tree
    for part in leaf[:-1]:
        node = node[part]
    node[leaf[-1]] = value
    path = write(tmp_path, _toml_document(tree))
    try:
        load_config(path, home=tmp_path)
    except ConfigError as err:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in leaf).lstrip(".")
        # the error is about the changed key, or (for cross-field rules) its table/market
        assert str(path) in str(err)
        assert err.key_path.startswith(dotted.split(".")[0].split("[")[0]), (leaf, str(err))


def test_ca_file_is_relative_to_the_config_and_must_exist(tmp_path):
    """[bitrue] ca_file: a PEM CA the bot trusts besides the system's (TLS to the simulator)."""
    from liquidity_bot.venues.tls import throwaway_ca

    throwaway_ca(tmp_path / "tls").ca_cert.rename(tmp_path / "ca.pem")
    config = tmp_path / "bot.toml"
    config.write_text('[bitrue]\nbase_url = "https://127.0.0.1:8999"\nca_file = "ca.pem"\n')
    from liquidity_bot.config import load_config as _load

    assert _load(config, home=tmp_path).bitrue.ca_file == tmp_path / "ca.pem"
    config.write_text('[bitrue]\nca_file = "missing.pem"\n')
    with pytest.raises(ConfigError) as exc:
        _load(config, home=tmp_path)
    assert exc.value.key_path == "bitrue.ca_file" and "missing.pem" in str(exc.value)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    config.write_text('[bitrue]\nca_file = "junk.pem"\n')
    with pytest.raises(ConfigError, match="not a usable PEM CA certificate"):
        _load(config, home=tmp_path)
