"""Onboarding for the guide's 14 exchanges: the guide in each exchange's words, key formats per
exchange, and extra credentials (OKX/KuCoin passphrase, BitMart memo, Coinbase's EC key) taken
from the hidden prompt or standard input, sealed in the vault, never echoed (canary values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from liquidity_bot.cli import app as root_app
from liquidity_bot.keys.exchanges import EXCHANGES, GUIDES
from liquidity_bot.keys.home import InputRefused, check_token_format
from liquidity_bot.keys.vault import Vault

PASS = "unit test passphrase"
SECRET = "S3cr3tCanary" + "x" * 40 + "Z" * 12
PASSPHRASE_CANARY = "OkxPassphraseCanary-7"


def run(home: Path, args: list[str], stdin: str | None = None):
    return CliRunner().invoke(
        root_app, ["--home", str(home), "keys", *args], input=stdin,
        env={"LIQUIDITY_BOT_PASSPHRASE": PASS},
    )


def text(res) -> str:
    return (res.stdout or "") + (res.stderr or "")


def add(home: Path, exchange: str, api_key: str, stdin: str):
    """`keys add --exchange EXCHANGE --label LB --no-verify`, secret and extras on stdin."""
    return run(
        home,
        ["add", "--exchange", exchange, "--label", "LB", "--api-key", api_key, "--no-verify"],
        stdin,
    )


def nowhere_but_sealed(home: Path, value: str, *results) -> None:
    for r in results:
        assert value not in text(r)
    for path in home.rglob("*"):
        if path.is_file():
            assert value.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_print_guide_for_every_exchange_in_its_own_words(tmp_path: Path, exchange: str) -> None:
    (tmp_path / "policy.toml").write_text('[keys]\ntrusted_egress_ips = ["203.0.113.10"]\n')
    res = run(tmp_path, ["onboard", "--exchange", exchange, "--label", "LB", "--print-guide"])
    assert res.exit_code == 0, text(res)
    g = GUIDES[exchange]
    guide = res.stdout
    assert guide.startswith(f'# Create the {g.name} API key "LB"')
    for check in ("can_read", "can_trade"):
        for setting in g.enable[check]:
            assert f"**{setting}**" in guide.split("Leave")[0], (exchange, setting)
    leave = guide.split("Leave", 1)[1].split("**unticked**")[0]
    for settings in g.disable.values():
        for setting in settings:
            assert f"**{setting}**" in leave, (exchange, setting)
    assert "203.0.113.10" in guide and "only once" in guide
    for extra in g.extras:
        assert f"**{extra.name}**" in guide


def test_guides_say_what_to_leave_disabled_per_exchange() -> None:
    assert GUIDES["binance"].disable["transfer_disabled"] == (
        "Enable Internal Transfer",
        "Permits Universal Transfer",
    )
    assert [e.name for e in GUIDES["okx"].extras] == ["passphrase"]
    assert [e.name for e in GUIDES["kucoin"].extras] == ["passphrase"]
    assert [e.name for e in GUIDES["bitmart"].extras] == ["memo"]
    assert "transfer_disabled" in GUIDES["bitrue"].not_applicable


def test_unknown_exchange_is_refused_with_the_list(tmp_path: Path) -> None:
    res = run(tmp_path, ["onboard", "--exchange", "kraken", "--print-guide"])
    assert res.exit_code == 3 and "okx" in text(res) and "bitrue" in text(res)


def test_key_formats_are_per_exchange() -> None:
    check_token_format("bitrue", "API key", "A" * 64)
    with pytest.raises(InputRefused, match="Bitrue"):
        check_token_format("bitrue", "API key", "a-b-c-d")
    # OKX keys are UUIDs and KuCoin keys 24 hex digits: Bitrue's shape is not required elsewhere
    check_token_format("okx", "API key", "8f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f")
    check_token_format("kucoin", "API key", "6705f5c311545b000157d3eb")
    with pytest.raises(InputRefused, match="OKX"):
        check_token_format("okx", "API key", "has space in it")
    with pytest.raises(InputRefused, match="Coinbase"):
        check_token_format("coinbase", "API key", "A" * 64)
    check_token_format("coinbase", "API key", "organizations/1f2e-3d4c/apiKeys/5b6a-7980")


def test_okx_add_takes_the_passphrase_from_stdin_and_seals_it(tmp_path: Path) -> None:
    key = "8f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    res = add(tmp_path, "okx", key, f"{SECRET}\n{PASSPHRASE_CANARY}\n")
    assert res.exit_code == 0, text(res)
    assert "passphrase" in text(res)  # it was asked for, by name
    nowhere_but_sealed(tmp_path, PASSPHRASE_CANARY, res)
    nowhere_but_sealed(tmp_path, SECRET, res)
    vault = Vault.open(tmp_path / "vault.json").unlock(PASS)
    rec = vault.find_active("LB", "okx")
    assert vault.reveal(rec.id) == SECRET
    assert vault.reveal_extras(rec.id) == {"passphrase": PASSPHRASE_CANARY}
    listed = run(tmp_path, ["list", "--json"])
    assert json.loads(listed.stdout)[0]["exchange"] == "okx"
    nowhere_but_sealed(tmp_path, PASSPHRASE_CANARY, listed)


def test_a_missing_passphrase_stores_nothing(tmp_path: Path) -> None:
    key = "6705f5c311545b000157d3eb"
    res = add(tmp_path, "kucoin", key, f"{SECRET}\n")
    assert res.exit_code == 3 and "passphrase" in text(res)
    assert not (tmp_path / "vault.json").exists()


def test_bitmart_memo_is_sealed(tmp_path: Path) -> None:
    memo = "BitmartMemoCanary99"
    res = add(tmp_path, "bitmart", "bm" + "1" * 38, f"{SECRET}\n{memo}\n")
    assert res.exit_code == 0, text(res)
    nowhere_but_sealed(tmp_path, memo, res)
    vault = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert vault.reveal_extras(vault.find_active("LB").id) == {"memo": memo}


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("form", ["pem lines", "escaped line"])
def test_coinbase_takes_its_ec_private_key(tmp_path: Path, form: str) -> None:
    pem = _ec_pem()
    stdin = pem if form == "pem lines" else pem.replace("\n", "\\n") + "\n"
    name = "organizations/1f2e3d4c-aaaa/apiKeys/5b6a7980-bbbb"
    res = add(tmp_path, "coinbase", name, stdin)
    assert res.exit_code == 0, text(res)
    body = pem.splitlines()[1]
    nowhere_but_sealed(tmp_path, body, res)
    vault = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert vault.reveal(vault.find_active("LB").id).strip() == pem.strip()


def test_coinbase_refuses_a_secret_that_is_not_an_ec_key(tmp_path: Path) -> None:
    name = "organizations/1f2e3d4c-aaaa/apiKeys/5b6a7980-bbbb"
    res = add(tmp_path, "coinbase", name, f"{SECRET}\n")
    assert res.exit_code == 3 and "EC private key" in text(res)
    assert SECRET not in text(res)
    assert not (tmp_path / "vault.json").exists()


def test_extras_are_redacted_from_every_log_line_once_read(tmp_path: Path) -> None:
    from liquidity_bot.logs import redact

    value = "KucoinPassphraseCanary-3"
    res = add(tmp_path, "kucoin", "6705f5c311545b000157d3eb", f"{SECRET}\n{value}\n")
    assert res.exit_code == 0, text(res)
    assert value not in redact(f"a gateway echoed KC-API-PASSPHRASE: {value}")


def test_market_symbols_follow_the_exchange(tmp_path: Path) -> None:
    from liquidity_bot.keys.home import check_symbol

    check_symbol("XRPUSDT", "bitrue")
    with pytest.raises(InputRefused, match="XRPUSDT"):
        check_symbol("XRP/USDT", "bitrue")
    for symbol in ("XRP/USDT", "XRP-USDT", "XRP_USDT", "XRPUSDT"):
        check_symbol(symbol, "okx")
    with pytest.raises(InputRefused, match="OKX"):
        check_symbol("XRP//USDT", "okx")


def test_verify_finds_the_labels_exchange(tmp_path: Path) -> None:
    """`keys verify LABEL` verifies the label's key on its own exchange; a label active on two
    exchanges must name one."""
    okx_key = "8f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    add(tmp_path, "okx", okx_key, f"{SECRET}\n{PASSPHRASE_CANARY}\n")
    # no network here: an unreachable base URL makes every check unknown, on OKX's prober
    res = run(tmp_path, ["verify", "LB", "--base-url", "http://127.0.0.1:9", "--json"])
    assert res.exit_code == 2, text(res)
    out = json.loads(res.stdout)
    assert out["exchange"] == "okx" and out["verdict"] == "unknown"
    nowhere_but_sealed(tmp_path, PASSPHRASE_CANARY, res)
    add(tmp_path, "bitrue", "B" * 64, "T" * 64 + "\n")
    res = run(tmp_path, ["verify", "LB", "--json"])
    assert res.exit_code == 3 and "bitrue, okx" in text(res) and "--exchange" in text(res)


def test_a_memo_too_short_to_mask_is_refused(tmp_path: Path) -> None:
    res = add(tmp_path, "bitmart", "bm" + "1" * 38, f"{SECRET}\nab1\n")
    assert res.exit_code == 3 and "at least 6" in text(res)
    assert not (tmp_path / "vault.json").exists()


def test_onboard_okx_asks_secret_then_passphrase_and_stops_on_q(tmp_path: Path) -> None:
    """Onboarding on OKX: the guide in OKX's words, the key, the secret and the passphrase from
    standard input (none echoed), one verification (unknown: nothing listens here), then q."""
    key = "8f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    res = run(
        tmp_path,
        ["onboard", "--exchange", "okx", "--label", "LB", "--base-url", "http://127.0.0.1:9"],
        f"{key}\n{SECRET}\n{PASSPHRASE_CANARY}\nq\n",
    )
    assert res.exit_code == 2, text(res)
    assert "Create the OKX API key" in text(res) and "Passphrase" in text(res)
    assert "stopped; the key is stored" in text(res)
    nowhere_but_sealed(tmp_path, PASSPHRASE_CANARY, res)
    nowhere_but_sealed(tmp_path, SECRET, res)
    vault = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert vault.reveal_extras(vault.find_active("LB", "okx").id) == {"passphrase": PASSPHRASE_CANARY}
