"""The key policy as data: guide defaults, the example file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from liquidity_bot.keys.policy import (
    CHECK_NAMES,
    DEFAULT_POLICY,
    Policy,
    PolicyError,
    load_policy,
    policy_from_mapping,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"


def test_guide_defaults() -> None:
    p = DEFAULT_POLICY
    assert set(p.required_permissions) == {"read", "trade"}
    # issue 18: the guide's policy forbids transfers too (not applicable where keys cannot transfer)
    assert set(p.forbidden_permissions) == {"withdraw", "futures", "transfer"}
    assert p.require_ip_restriction is True
    assert p.review_interval_days == 90 and p.unused_threshold_days == 30
    assert p.accept_unknown == ()
    assert p.demanded_checks() == tuple(c for c in CHECK_NAMES if c != "trade_disabled")


def test_example_file_documents_the_defaults() -> None:
    assert load_policy(EXAMPLE) == DEFAULT_POLICY


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy(tmp_path / "nope.toml") == DEFAULT_POLICY


def test_overrides(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[keys]\ntrusted_egress_ips = ["203.0.113.10"]\naccept_unknown = ["futures_disabled"]\n'
        'review_interval_days = 30\nforbidden_permissions = ["withdraw"]\n'
    )
    p = load_policy(path)
    assert p.trusted_egress_ips == ("203.0.113.10",)
    assert p.accepts_unknown("futures_disabled") and not p.accepts_unknown("ip_restricted")
    assert "futures_disabled" not in p.demanded_checks()
    assert p.review_interval_days == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[keys]\nreview_intervall_days = 3\n", "unknown key 'review_intervall_days'"),
        ("[other]\nx = 1\n", "unknown key 'other'"),
        ('[keys]\nrequired_permissions = ["read", "withdraw"]\n', "allowed: read, trade"),
        ('[keys]\nrequired_permissions = ["read"]\n', "must include 'trade'"),
        ('[keys]\ntrusted_egress_ips = ["not-an-ip"]\n', "not an IP address"),
        ('[keys]\naccept_unknown = ["authenticates"]\n', "never be accepted"),
        ('[keys]\naccept_unknown = ["nope"]\n', "checks are"),
        ("[keys]\nreview_interval_days = 0\n", "must be positive"),
        ('[keys]\nreview_interval_days = "90"\n', "must be an integer"),
        ("[keys\n", "not valid TOML"),
    ],
)
def test_bad_policy_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_bare_table_is_accepted() -> None:
    assert policy_from_mapping({"max_clock_skew_ms": 500}).max_clock_skew_ms == 500
    assert policy_from_mapping({}) == Policy()


def test_policy_per_exchange(tmp_path: Path) -> None:
    """[keys.exchanges.X] replaces, for that exchange only, what may differ per exchange."""
    path = tmp_path / "policy.toml"
    path.write_text(
        '[keys]\naccept_unknown = ["clock_skew"]\n'
        '[keys.exchanges.okx]\naccept_unknown = ["transfer_disabled"]\n'
        '[keys.exchanges.gate]\nmax_clock_skew_ms = 500\n'
    )
    p = load_policy(path)
    assert p.accept_unknown == ("clock_skew",)
    assert p.for_exchange("okx").accept_unknown == ("transfer_disabled",)
    assert p.for_exchange("bitrue").accept_unknown == ("clock_skew",)
    assert p.for_exchange("gate").max_clock_skew_ms == 500
    assert p.for_exchange("okx").for_exchange("okx") == p.for_exchange("okx")
    for bad, needle in (
        ('[keys.exchanges.kraken]\naccept_unknown = []\n', "unknown exchange"),
        ('[keys.exchanges.okx]\nrequired_permissions = ["read"]\n', "cannot differ per exchange"),
        ('[keys.exchanges.okx]\naccept_unknown = ["authenticates"]\n', "never be accepted"),
        ('[keys.exchanges.okx]\naccept_unknown = ["nope"]\n', "checks are"),
    ):
        path.write_text(bad)
        with pytest.raises(PolicyError, match=needle):
            load_policy(path)
