"""`liquidity-bot keys` without the network: intake rules, list/review/remove, guide, exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from liquidity_bot.cli import app as root_app
from liquidity_bot.keys.audit import AuditLog

PASS = "unit test passphrase"
KEY = "K" * 32 + "k" * 32
SECRET = "S3cr3tCanary" + "x" * 40 + "Z" * 12  # 64 alphanumerics


def run(home: Path, args: list[str], stdin: str | None = None, env: dict | None = None):
    e = {"LIQUIDITY_BOT_PASSPHRASE": PASS}
    e.update(env or {})
    return CliRunner().invoke(root_app, ["--home", str(home), "keys", *args], input=stdin, env=e)


def _all_text(res) -> str:
    return (res.stdout or "") + (res.stderr or "")


def _no_secret_anywhere(home: Path, *results) -> None:
    for r in results:
        assert SECRET not in _all_text(r)
    for path in home.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_secret_on_command_line_is_refused(tmp_path: Path) -> None:
    for opt in ("--secret", "--api-secret"):
        res = run(tmp_path, ["add", "--label", "L", "--api-key", KEY, opt, SECRET, "--no-verify"])
        assert res.exit_code == 3
        assert "visible to every user" in _all_text(res) and "ps" in _all_text(res)
        assert SECRET not in _all_text(res)
    assert not (tmp_path / "vault.json").exists()
    res = run(tmp_path, ["onboard", "--label", "L", "--secret", SECRET])
    assert res.exit_code == 3 and SECRET not in _all_text(res)


def test_add_reads_secret_from_stdin_and_stores_sealed(tmp_path: Path) -> None:
    res = run(
        tmp_path,
        ["add", "--label", "Liquidity Bot", "--api-key", KEY, "--no-verify"],
        SECRET + "\n",
    )
    assert res.exit_code == 0, _all_text(res)
    assert "only once" in _all_text(res)
    assert "keys verify" in _all_text(res)
    vault = tmp_path / "vault.json"
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    doc = json.loads(vault.read_text())
    assert doc["kdf"]["memory_kib"] >= 47104  # the CLI always uses the OWASP-level default
    events = [e["event"] for e in AuditLog(tmp_path / "audit.jsonl").entries()]
    assert events == ["added"]
    lst = run(
        tmp_path, ["list", "--json"], env={"LIQUIDITY_BOT_PASSPHRASE": ""}
    )  # no passphrase needed
    rows = json.loads(lst.stdout)
    assert rows[0]["label"] == "Liquidity Bot" and rows[0]["last_verdict"] is None
    assert rows[0]["api_key_hint"] == "KKKK…kkkk" and KEY not in lst.stdout
    human = run(tmp_path, ["list"])
    assert human.exit_code == 0 and "Liquidi" in human.stdout and "never" in human.stdout
    _no_secret_anywhere(tmp_path, res, lst, human)


def test_second_active_key_for_a_label_is_refused(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    other = "Q" * 64
    res = run(
        tmp_path, ["add", "--label", "L", "--api-key", other, "--no-verify"], SECRET[::-1] + "\n"
    )
    assert res.exit_code == 3 and "keys rotate" in _all_text(res)


def test_malformed_key_or_secret_refused_without_echo(tmp_path: Path) -> None:
    res = run(tmp_path, ["add", "--label", "L", "--api-key", "short", "--no-verify"], SECRET + "\n")
    assert res.exit_code == 3 and "64 letters and digits" in _all_text(res)
    bad_secret = "has-dashes-" + "a" * 53
    res = run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], bad_secret + "\n")
    assert res.exit_code == 3 and "secret" in _all_text(res) and bad_secret not in _all_text(res)
    res = run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], "\n")
    assert res.exit_code == 3 and "no secret" in _all_text(res)
    assert not (tmp_path / "vault.json").exists()


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    before = (tmp_path / "vault.json").read_bytes()
    res = run(
        tmp_path,
        ["verify", "L", "--base-url", "http://127.0.0.1:9"],
        env={"LIQUIDITY_BOT_PASSPHRASE": "wrong"},
    )
    assert res.exit_code == 3 and "wrong passphrase" in _all_text(res)
    assert (tmp_path / "vault.json").read_bytes() == before


def test_insecure_vault_mode_is_refused_with_chmod_hint(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    (tmp_path / "vault.json").chmod(0o644)
    res = run(tmp_path, ["list"])
    assert res.exit_code == 3 and f"chmod 600 {tmp_path / 'vault.json'}" in _all_text(res)


def test_usage_errors_exit_3(tmp_path: Path) -> None:
    assert run(tmp_path, []).exit_code == 3  # `keys` alone: help, as a usage error
    assert run(tmp_path, ["--help"]).exit_code == 0
    assert run(tmp_path, ["verify"]).exit_code == 3
    assert run(tmp_path, ["verify", "L", "--no-such-option"]).exit_code == 3
    assert run(tmp_path, ["verify", "L"]).exit_code == 3  # no vault yet
    assert (
        run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--exchange", "kraken"]).exit_code
        == 3
    )


def test_unreachable_exchange_is_unknown_not_pass(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    # port 9 (discard) on loopback: nothing listens, the connection is refused
    res = run(tmp_path, ["verify", "L", "--base-url", "http://127.0.0.1:9", "--json"])
    assert res.exit_code == 2, _all_text(res)
    out = json.loads(res.stdout)
    assert out["verdict"] == "unknown"
    assert {c["status"] for c in out["checks"]} == {"unknown"}
    _no_secret_anywhere(tmp_path, res)
    audit = list(AuditLog(tmp_path / "audit.jsonl").entries())
    assert audit[-1]["event"] == "verified" and audit[-1]["verdict"] == "unknown"


def test_print_guide_is_filled_in(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(
        '[keys]\ntrusted_egress_ips = ["203.0.113.10", "203.0.113.11"]\n'
    )
    res = run(
        tmp_path, ["onboard", "--exchange", "bitrue", "--label", "Liquidity Bot", "--print-guide"]
    )
    assert res.exit_code == 0
    g = res.stdout
    assert g.startswith('# Create the Bitrue API key "Liquidity Bot"')
    for needle in (
        "API Management",
        "**Read** and **Trade**",
        "**Withdrawal** and **Futures**",
        "203.0.113.10, 203.0.113.11",
        "only once",
    ):
        assert needle in g, needle


def test_review_and_remove(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    res = run(tmp_path, ["review", "--json"])
    assert res.exit_code == 1
    kinds = {f["kind"] for f in json.loads(res.stdout)}
    assert kinds == {"not_verified"}
    (tmp_path / "policy.toml").write_text(
        "[keys]\nreview_interval_days = 1\nunused_threshold_days = 1\n"
    )
    doc = json.loads((tmp_path / "vault.json").read_text())
    doc["records"][0]["created_at"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / "vault.json").write_text(json.dumps(doc))
    res = run(tmp_path, ["review"])
    assert res.exit_code == 1
    assert "review was due on 2020-01-02" in res.stdout and "unused for" in res.stdout
    assert "keys rotate" in res.stdout
    res = run(tmp_path, ["review", "--ack", "L", "--json"])
    assert "review_overdue" not in {
        f["kind"] for f in json.loads(res.stdout[res.stdout.index("[") :])
    }
    res = run(tmp_path, ["remove", "L"])
    assert res.exit_code == 0 and "exchange too" in res.stdout
    assert json.loads(run(tmp_path, ["list", "--json"]).stdout) == []
    events = [e["event"] for e in AuditLog(tmp_path / "audit.jsonl").entries()]
    assert events == ["added", "removed"]


def test_passphrase_change(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    res = run(tmp_path, ["passphrase"], env={"LIQUIDITY_BOT_NEW_PASSPHRASE": "the new vault passphrase"})
    assert res.exit_code == 0, _all_text(res)
    assert run(tmp_path, ["verify", "L", "--base-url", "http://127.0.0.1:9"]).exit_code == 3
    ok = run(
        tmp_path,
        ["verify", "L", "--base-url", "http://127.0.0.1:9"],
        env={"LIQUIDITY_BOT_PASSPHRASE": "the new vault passphrase"},
    )
    assert ok.exit_code == 2  # unlocked; the exchange is unreachable -> unknown


def test_corrupt_vault_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    vault = tmp_path / "vault.json"
    vault.write_bytes(vault.read_bytes()[:-40])  # a truncated file
    before = vault.read_bytes()
    other = "Q" * 64
    for args, stdin in (
        (["add", "--label", "M", "--api-key", other, "--no-verify"], SECRET[::-1] + "\n"),
        (["list"], None),
        (["review"], None),
        (["remove", "L"], None),
        (["passphrase"], None),
    ):
        res = run(tmp_path, args, stdin, env={"LIQUIDITY_BOT_NEW_PASSPHRASE": "the new vault passphrase"})
        assert res.exit_code == 3, (args, _all_text(res))
        assert "not valid JSON; restore it from a backup" in _all_text(res), args
        assert "Traceback" not in _all_text(res)
        assert vault.read_bytes() == before, args


def test_print_guide_without_trusted_ips_warns_the_operator(tmp_path: Path) -> None:
    res = run(tmp_path, ["onboard", "--label", "Liquidity Bot", "--print-guide"])
    assert res.exit_code == 0
    assert "trusted_egress_ips" in res.stderr  # the operator is told, on stderr...
    assert "trusted_egress_ips" not in res.stdout  # ...the client's guide stays clean
    assert "the addresses your liquidity provider gives you" in res.stdout
    assert "Create API" in res.stdout and "Google" in res.stdout


def test_unexpected_error_exits_3_without_the_secret(tmp_path: Path, monkeypatch) -> None:
    """A bug is "other error" (3), never "a check failed" (1), and its message is redacted."""
    from liquidity_bot.keys import gate

    run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n")

    async def broken(*args, **kwargs):
        raise RuntimeError(f"bug while holding {SECRET}")

    monkeypatch.setattr(gate, "verify_and_record", broken)  # the command imports it when run
    res = run(tmp_path, ["verify", "L", "--base-url", "http://127.0.0.1:9"])
    assert res.exit_code == 3
    assert "unexpected error (RuntimeError: bug while holding ***)" in res.stderr
    assert SECRET not in _all_text(res)


def test_base_url_refuses_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    """--base-url follows the config's rule: plain http:// only on loopback (the simulator)."""
    for cmd in (["verify", "LB"], ["rotate", "LB", "--api-key", KEY]):
        res = run(tmp_path, [*cmd, "--base-url", "http://203.0.113.7:8999"], SECRET + "\n")
        assert res.exit_code == 3, _all_text(res)
        assert "plain http:// is allowed only for loopback" in _all_text(res)
        assert "use https:// for 203.0.113.7" in _all_text(res)
    res = run(tmp_path, ["add", "--label", "LB", "--api-key", KEY,
                         "--base-url", "http://exchange.example:80"], SECRET + "\n")
    assert res.exit_code == 3 and "loopback" in _all_text(res)
    assert not (tmp_path / "vault.json").exists()


def _records(home: Path) -> list:
    from liquidity_bot.keys.vault import Vault

    return Vault.open(home / "vault.json").records() if (home / "vault.json").exists() else []


def test_add_with_a_bad_canary_stores_nothing(tmp_path: Path) -> None:
    """The canary is checked before the key is stored: the retry is not blocked."""
    for canary in ("localhost", "not an address"):
        res = run(tmp_path, ["add", "--label", "LB", "--api-key", KEY, "--base-url",
                             "http://127.0.0.1:9", "--canary-source", canary], SECRET + "\n")
        assert res.exit_code == 3 and "is not an IP address" in _all_text(res)
        assert _records(tmp_path) == []
    res = run(tmp_path, ["add", "--label", "LB", "--api-key", KEY, "--market", "XRP/USDT",
                         "--no-verify"], SECRET + "\n")
    assert res.exit_code == 3 and "is not a symbol" in _all_text(res)
    assert _records(tmp_path) == []


def test_rotate_with_a_bad_canary_leaves_no_candidate(tmp_path: Path) -> None:
    res = run(tmp_path, ["add", "--label", "LB", "--api-key", KEY, "--no-verify"], SECRET + "\n")
    assert res.exit_code == 0, _all_text(res)
    new_key = "N" * 64
    res = run(tmp_path, ["rotate", "LB", "--api-key", new_key, "--base-url",
                         "http://127.0.0.1:9", "--canary-source", "localhost"],
              "R0tat3dSecret" + "r" * 51 + "\n")
    assert res.exit_code == 3 and "is not an IP address" in _all_text(res)
    assert [r.api_key for r in _records(tmp_path)] == [KEY]


def test_labels_are_checked_and_never_printed_raw(tmp_path: Path) -> None:
    for label, says in (("", "empty"), ("x" * 20_000, "at most 64"),
                        ("Bot\x1b[2J\x1b]0;pwned\x07", "control or formatting character"),
                        ("evil\u202eoG", "control or formatting character")):
        res = run(tmp_path, ["add", "--label", label, "--api-key", KEY, "--no-verify"],
                  SECRET + "\n")
        assert res.exit_code == 3 and says in _all_text(res), _all_text(res)
        assert "\x1b" not in _all_text(res) and "\u202e" not in _all_text(res)
        assert _records(tmp_path) == []
    # a label stored before labels were checked (an older version, or an edited file)
    from liquidity_bot.keys.vault import KdfParams, Vault

    v = Vault.create(tmp_path / "vault.json", PASS, kdf=KdfParams(memory_kib=64))
    v.add(exchange="bitrue", label="Old\x1b[31mBot\x1b[2J", api_key=KEY, secret=SECRET)
    v.save()
    for cmd in (["list"], ["review"]):
        res = run(tmp_path, cmd)
        assert "\x1b" not in _all_text(res), cmd
        assert "Old\\x1b[31m" in _all_text(res), _all_text(res)


def test_a_weak_passphrase_creates_no_vault_and_a_change_raises_the_kdf(tmp_path: Path) -> None:
    res = run(tmp_path, ["add", "--label", "L", "--api-key", KEY, "--no-verify"], SECRET + "\n",
              env={"LIQUIDITY_BOT_PASSPHRASE": "hunter2"})
    assert res.exit_code == 3 and "too short (7 characters)" in _all_text(res)
    assert not (tmp_path / "vault.json").exists()
    # a vault from before (Argon2id at the OWASP floor) opens, and a passphrase change raises it
    from liquidity_bot.keys.vault import DEFAULT_KDF, KdfParams, Vault

    v = Vault.create(tmp_path / "vault.json", PASS, kdf=KdfParams(47104, 1, 1))
    v.add(exchange="bitrue", label="L", api_key=KEY, secret=SECRET)
    v.save()
    assert json.loads(run(tmp_path, ["list", "--json"]).stdout)[0]["label"] == "L"
    weak = run(tmp_path, ["passphrase"], env={"LIQUIDITY_BOT_NEW_PASSPHRASE": "short"})
    assert weak.exit_code == 3 and "at least 12" in _all_text(weak)
    res = run(tmp_path, ["passphrase"],
              env={"LIQUIDITY_BOT_NEW_PASSPHRASE": "four random words here"})
    assert res.exit_code == 0, _all_text(res)
    doc = json.loads((tmp_path / "vault.json").read_text())
    assert (doc["kdf"]["memory_kib"], doc["kdf"]["iterations"]) == (
        DEFAULT_KDF.memory_kib, DEFAULT_KDF.iterations)
