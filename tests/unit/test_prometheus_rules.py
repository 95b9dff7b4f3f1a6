"""examples/prometheus/alerts.yml: valid for promtool, its unit tests pass, and every metric it
uses is one the bot exports (a renamed metric would otherwise silence an alert for good)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from liquidity_bot.web.metrics import BotMetrics

RULES = Path(__file__).resolve().parents[2] / "examples" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run does)",
)


@needs_promtool
def test_promtool_checks_the_rules():
    out = subprocess.run([PROMTOOL, "check", "rules", str(RULES / "alerts.yml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_the_rules_fire_and_clear_as_their_unit_tests_say():
    out = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=RULES,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_metric_in_the_rules_is_exported():
    m = BotMetrics()
    m.set_breach_age("X", 1)
    m.set_open_orders("X", 1, 1)
    m.set_kill_switch("X", False)
    m.set_data_age("X", 1.0)
    m.rate_limited("k")
    m.set_ban("k", 0)
    m.set_key_refused("k", False)
    m.set_key_findings([("k", "unused")])
    m.alert_result("c", "sent")
    m.error("x")
    m.set_budget("k", 1, 2)
    m.uptime.labels("X").set(1)
    exported = set(re.findall(r"^(lb_[a-z_]+)", m.render()[0].decode(), re.M))
    used = set(re.findall(r"\b(lb_[a-z_]+)", (RULES / "alerts.yml").read_text()))
    assert used and used <= exported, used - exported
