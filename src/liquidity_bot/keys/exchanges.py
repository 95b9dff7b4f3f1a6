"""The onboarding guide's facts per exchange, as data: one record per exchange.

Each record says, in that exchange's own words, which permissions to enable and which to leave
disabled, which extra credentials the exchange hands out (an API passphrase, a memo), what its
keys look like, and which of our checks do not apply there (a permission the exchange does not
have). ``guide.py`` renders the onboarding guide and the fixes from these records; ``home.py``
checks key formats with them; ``keys/probers`` judge keys with them.

Facts come from ``docs/exchanges.md`` (the guides and the exchanges' public API documentation);
menu paths are written as the exchanges name them today and should be re-checked on their pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtraCredential:
    """A credential besides key and secret, sealed in the vault like the secret.

    ``name`` is what probers and venues ask for (``passphrase``, ``memo``)."""

    name: str
    prompt: str
    why: str


@dataclass(frozen=True)
class KeyFormat:
    """What an API key (and secret) of this exchange can look like; ``None`` means any
    printable text without spaces. A wrong shape is refused before anything is stored."""

    api_key: str | None = None
    api_key_hint: str = "printable characters without spaces"
    secret: str | None = None
    secret_hint: str = "printable characters without spaces"
    secret_is_pem: bool = False  # Coinbase CDP keys: an EC private key in PEM

    def key_ok(self, value: str) -> bool:
        return _matches(self.api_key, value)

    def secret_ok(self, value: str) -> bool:
        if self.secret_is_pem:
            return _is_ec_private_key(value)
        return _matches(self.secret, value)


_PRINTABLE = re.compile(r"[!-~]{8,512}")


def _matches(pattern: str | None, value: str) -> bool:
    return bool((re.compile(pattern) if pattern else _PRINTABLE).fullmatch(value))


def _is_ec_private_key(value: str) -> bool:
    if "-----BEGIN" not in value or "PRIVATE KEY-----" not in value:
        return False
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(value.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return isinstance(key, ec.EllipticCurvePrivateKey)


@dataclass(frozen=True)
class ExchangeGuide:
    """One exchange's key page in its own words.

    ``enable`` and ``disable`` map our check names to the exchange's setting names (several
    settings may serve one check: Binance has two transfer boxes). ``not_applicable`` names the
    checks that do not exist on this exchange, with the reason shown in reports.
    ``reports_permissions`` names the endpoint that tells a key its own permissions, or is
    empty when the prober has to infer them from probes."""

    id: str
    name: str
    key_page: str
    create_steps: tuple[str, ...]
    enable: dict[str, tuple[str, ...]]
    disable: dict[str, tuple[str, ...]]
    ip_setting: str
    also_disabled: tuple[str, ...] = ()
    extras: tuple[ExtraCredential, ...] = ()
    key_format: KeyFormat = field(default_factory=KeyFormat)
    not_applicable: dict[str, str] = field(default_factory=dict)
    reports_permissions: str = ""
    ccxt_id: str | None = None
    notes: tuple[str, ...] = ()
    # a market symbol as the operator may give it: BASE/QUOTE, BASE-QUOTE, BASE_QUOTE or BASEQUOTE
    symbol_pattern: str = r"[A-Z0-9]{1,20}([/_-][A-Z0-9]{1,20})?"
    symbol_example: str = "XRP/USDT"

    def settings_for(self, check: str) -> tuple[str, ...]:
        return self.enable.get(check) or self.disable.get(check) or ()


_PASSPHRASE_WHY = (
    "chosen by you when the key was created; the exchange signs every request with it and "
    "cannot show it again"
)

GUIDES: dict[str, ExchangeGuide] = {
    g.id: g
    for g in (
        ExchangeGuide(
            id="bitrue",
            name="Bitrue",
            key_page="Bitrue > profile (top right) > API Management",
            create_steps=(
                "Log in to Bitrue and open your **profile** (top right) > **API Management**.",
                "Click **Create API**, enter the label **{label}**, and confirm with the Google",
                "   Authenticator and e-mail codes (Bitrue requires 2FA before it creates API keys).",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Withdrawal",), "futures_disabled": ("Futures",)},
            ip_setting="restrict access to trusted IPs only",
            key_format=KeyFormat(
                api_key=r"[A-Za-z0-9]{64}",
                api_key_hint="64 letters and digits",
                secret=r"[A-Za-z0-9]{64}",
                secret_hint="64 letters and digits",
            ),
            not_applicable={"transfer_disabled": "Bitrue API keys have no transfer permission"},
            symbol_pattern=r"[A-Z0-9]{2,30}",
            symbol_example="XRPUSDT",
        ),
        ExchangeGuide(
            id="binance",
            name="Binance",
            key_page="Binance > profile > Account > API Management",
            create_steps=(
                "Log in to Binance and open **Account** > **API Management**.",
                "Click **Create API**, choose **System generated** (HMAC), name it **{label}**,",
                "   and pass the security verification.",
            ),
            enable={
                "can_read": ("Enable Reading",),
                "can_trade": ("Enable Spot & Margin Trading",),
            },
            disable={
                "withdraw_disabled": ("Enable Withdrawals",),
                "futures_disabled": ("Enable Futures", "Enable Vanilla Options"),
                "transfer_disabled": ("Enable Internal Transfer", "Permits Universal Transfer"),
            },
            also_disabled=("Enable Margin Loan, Repay & Transfer",),
            ip_setting="choose **Restrict access to trusted IPs only (Recommended)**",
            key_format=KeyFormat(
                api_key=r"[A-Za-z0-9]{64}",
                api_key_hint="64 letters and digits",
                secret=r"[A-Za-z0-9]{64}",
                secret_hint="64 letters and digits",
            ),
            reports_permissions="GET /sapi/v1/account/apiRestrictions",
            ccxt_id="binance",
        ),
        ExchangeGuide(
            id="bybit",
            name="Bybit",
            key_page="Bybit > profile > API > Create New Key",
            create_steps=(
                "Log in to Bybit and open your **profile** > **API** > **Create New Key**.",
                "Choose **System-generated API Keys** > **API Transaction**, name it **{label}**,",
                "   and choose **Read-Write**.",
            ),
            enable={"can_read": ("Read-Write",), "can_trade": ("Spot: Trade",)},
            disable={
                "withdraw_disabled": ("Assets: Withdrawal",),
                "futures_disabled": ("Contract: Orders, Positions", "USDC Contracts", "Derivatives"),
                "transfer_disabled": ("Assets: Account Transfer", "Assets: Subaccount Transfer"),
            },
            ip_setting="choose **Only IPs with permissions granted are allowed to access the OpenAPI**",
            reports_permissions="GET /v5/user/query-api",
            ccxt_id="bybit",
        ),
        ExchangeGuide(
            id="okx",
            name="OKX",
            key_page="OKX > profile > API > Create API key",
            create_steps=(
                "Log in to OKX and open your **profile** > **API** > **Create API key**.",
                "Name it **{label}** and choose a **Passphrase** (at least 8 characters); write it",
                "   down now: OKX cannot show it again and the bot needs it.",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Withdraw",), "transfer_disabled": ("Transfer",)},
            ip_setting="enter the allowed IPs in **IP address allowlist**",
            extras=(ExtraCredential("passphrase", "OKX API passphrase (hidden): ", _PASSPHRASE_WHY),),
            reports_permissions="GET /api/v5/account/config",
            ccxt_id="okx",
            notes=(
                "OKX's **Trade** permission reaches every instrument the account may trade: keep the "
                "account (or the sub-account the key belongs to) in **Spot mode** so the key cannot "
                "trade futures.",
            ),
        ),
        ExchangeGuide(
            id="kucoin",
            name="KuCoin",
            key_page="KuCoin > profile > API Management > Create API",
            create_steps=(
                "Log in to KuCoin and open **API Management** > **Create API** (API Trading).",
                "Name it **{label}** and choose an **API Passphrase**; write it down now: KuCoin",
                "   cannot show it again and the bot needs it.",
            ),
            enable={"can_read": ("General",), "can_trade": ("Spot Trading",)},
            disable={
                "withdraw_disabled": ("Withdraw",),
                "futures_disabled": ("Futures Trading",),
                "transfer_disabled": ("Transfer",),
            },
            also_disabled=("Margin Trading",),
            ip_setting="choose **IP Restriction: Yes** and enter the allowed IPs",
            extras=(
                ExtraCredential("passphrase", "KuCoin API passphrase (hidden): ", _PASSPHRASE_WHY),
            ),
            reports_permissions="GET /api/v1/user/api-key",
            ccxt_id="kucoin",
        ),
        ExchangeGuide(
            id="gate",
            name="Gate",
            key_page="Gate > profile > API Management > Create API Key",
            create_steps=(
                "Log in to Gate and open **API Management** > **Create API Key**.",
                "Name it **{label}**; Gate asks for the account's fund password to create it (the bot",
                "   never needs that password).",
            ),
            enable={"can_read": ("Spot/Margin Trade: read",), "can_trade": ("Spot/Margin Trade: read and write",)},
            disable={
                "withdraw_disabled": ("Withdraw",),
                "futures_disabled": ("Perpetual Futures", "Delivery", "Options"),
                "transfer_disabled": ("Wallet: read and write",),
            },
            also_disabled=("every other read-and-write permission",),
            ip_setting="enter the allowed IPs in **IP Whitelist**",
            ccxt_id="gate",
        ),
        ExchangeGuide(
            id="bingx",
            name="BingX",
            key_page="BingX > profile > API Management > Create API",
            create_steps=(
                "Log in to BingX and open **API Management** > **Create API**.",
                "Name it **{label}** and pass the security verification.",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Spot Trading",)},
            disable={
                "withdraw_disabled": ("Withdraw",),
                "futures_disabled": ("Perpetual Futures Trading",),
                "transfer_disabled": ("Universal Transfer", "Sub-account Transfer"),
            },
            ip_setting="link the key to the allowed IP addresses",
            reports_permissions="GET /openApi/v1/account/apiPermissions",
            ccxt_id="bingx",
        ),
        ExchangeGuide(
            id="coinbase",
            name="Coinbase",
            key_page="Coinbase Developer Platform > API Keys",
            create_steps=(
                "Log in to the **Coinbase Developer Platform** and open **API Keys** > **Create API key**.",
                "Name it **{label}**, choose the portfolio it trades, and under **Advanced Settings**",
                "   choose the **ECDSA** signature algorithm.",
            ),
            enable={"can_read": ("View",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Transfer",), "transfer_disabled": ("Transfer",)},
            ip_setting="enter the allowed IPs in **IP allowlist**",
            key_format=KeyFormat(
                api_key=r"organizations/[0-9a-f-]{8,64}/apiKeys/[0-9a-f-]{8,64}",
                api_key_hint="the key name, organizations/<id>/apiKeys/<id>",
                secret_hint=(
                    "the EC private key (-----BEGIN EC PRIVATE KEY----- ... -----END EC PRIVATE "
                    "KEY-----)"
                ),
                secret_is_pem=True,
            ),
            reports_permissions="GET /api/v3/brokerage/key_permissions",
            ccxt_id="coinbase",
            notes=(
                "Coinbase's **Transfer** permission is what moves funds off the account: it must stay "
                "off (it covers withdrawals too).",
            ),
        ),
        ExchangeGuide(
            id="lbank",
            name="LBank",
            key_page="LBank > profile > API Management",
            create_steps=(
                "Log in to LBank and open **API Management** > **Create API**.",
                "Name it **{label}** and choose HmacSHA256 signing.",
            ),
            enable={"can_read": ("Read only",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Withdraw",)},
            ip_setting="bind the key to the allowed IP addresses",
            not_applicable={"transfer_disabled": "LBank API keys have no transfer permission"},
            ccxt_id="lbank",
        ),
        ExchangeGuide(
            id="mexc",
            name="MEXC",
            key_page="MEXC > profile > API Management > Create API Key",
            create_steps=(
                "Log in to MEXC and open **API Management** > **Create API Key**.",
                "Name it **{label}**.",
            ),
            enable={
                "can_read": ("Account: View Account Details",),
                "can_trade": ("Trade: Spot Trading",),
            },
            disable={"withdraw_disabled": ("Withdraw",), "futures_disabled": ("Futures Trading",)},
            ip_setting="enter the allowed IPs under **Link IP Address** (MEXC requires it)",
            not_applicable={"transfer_disabled": "MEXC API keys have no separate transfer permission"},
            ccxt_id="mexc",
            notes=(
                "MEXC's read-only *view* items for deposits, withdrawals and transfers may stay ticked: "
                "viewing is not withdrawing.",
            ),
        ),
        ExchangeGuide(
            id="xt",
            name="XT",
            key_page="XT > profile > API Management > Create API",
            create_steps=(
                "Log in to XT and open **API Management** > **Create API**.",
                "Name it **{label}**.",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Withdraw",)},
            ip_setting="bind the key to the allowed IP addresses",
            not_applicable={"transfer_disabled": "XT API keys have no transfer permission"},
            ccxt_id="xt",
        ),
        ExchangeGuide(
            id="bitmart",
            name="BitMart",
            key_page="BitMart > profile > API Management > Create API",
            create_steps=(
                "Log in to BitMart and open **API Management** > **Create API**.",
                "Name it **{label}** and enter a **Memo**; write it down now: BitMart signs every",
                "   request with it and the bot needs it.",
            ),
            enable={"can_read": ("Read-Only",), "can_trade": ("Spot-Trade",)},
            disable={"withdraw_disabled": ("Withdraw",), "futures_disabled": ("Futures-Trade",)},
            also_disabled=("Margin-Trade",),
            ip_setting="enter the allowed IPs in **IP Whitelist**",
            extras=(
                ExtraCredential(
                    "memo",
                    "BitMart API memo (hidden): ",
                    "chosen by you when the key was created; BitMart signs every request with it",
                ),
            ),
            not_applicable={"transfer_disabled": "BitMart API keys have no transfer permission"},
        ),
        ExchangeGuide(
            id="coinstore",
            name="Coinstore",
            key_page="Coinstore > profile > API Management",
            create_steps=(
                "Log in to Coinstore and open **API Management** > **Create API**.",
                "Name it **{label}**.",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Trade",)},
            disable={"withdraw_disabled": ("Withdraw",)},
            ip_setting="bind the key to the allowed IP addresses (Coinstore requires it)",
            not_applicable={"transfer_disabled": "Coinstore API keys have no transfer permission"},
        ),
        ExchangeGuide(
            id="biconomy",
            name="Biconomy",
            key_page="Biconomy > profile > API Management",
            create_steps=(
                "Log in to Biconomy and open **API Management** > **Create API**.",
                "Name it **{label}**.",
            ),
            enable={"can_read": ("Read",), "can_trade": ("Spot Trading",)},
            disable={"withdraw_disabled": ("Withdrawal",)},
            ip_setting="bind the key to the allowed IP addresses",
            not_applicable={"transfer_disabled": "Biconomy API keys have no transfer permission"},
        ),
    )
}

EXCHANGES: tuple[str, ...] = tuple(GUIDES)


def guide_of(exchange: str) -> ExchangeGuide:
    """The exchange's record; an unknown name is a clear error listing the known ones."""
    try:
        return GUIDES[exchange]
    except KeyError:
        raise ValueError(
            f"unknown exchange {exchange!r}; known: {', '.join(EXCHANGES)}"
        ) from None
