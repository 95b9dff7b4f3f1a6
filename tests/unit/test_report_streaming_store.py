"""Store reads the streaming report relies on, and the report itself, on every backend.

Function-scoped stores (each test writes its own rows); on SQLite always, on PostgreSQL too
when LIQUIDITY_BOT_TEST_PG_URL is set. Kept apart from test_report_streaming.py, whose 50k
samples live in a module-scoped database: both drop the PostgreSQL tables they use.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from test_report_streaming import (  # pytest puts this folder on sys.path
    BACKENDS,
    T0,
    close_store,
    open_store,
    synthetic,
)

from liquidity_bot.reporting.report import build_report, render
from liquidity_bot.store import KpiSample, Store


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path):
    s = open_store(request.param, tmp_path)
    yield s
    close_store(s)


def test_samples_written_after_the_report_was_built_stay_out_of_its_csv(store: Store):
    store.add_kpi_sample([synthetic(i) for i in range(10)])
    rep = build_report(store)
    store.add_kpi_sample([synthetic(3), synthetic(20)])  # a late row inside, one after
    rows = render(rep, "csv").splitlines()[1:]
    assert len(rows) == rep.symbols[0].sample_count == 10
    assert [int(row.split(",")[1]) for row in rows] == [T0 + i * 1000 for i in range(10)]


def test_keyset_reads_equal_the_list_read(store: Store):
    rows = [synthetic(i // 3) for i in range(300)]  # three samples per instant
    rows += [KpiSample("BTCUSDT", T0 + 500, D(1), D(1), True, True)]
    store.add_kpi_sample(rows)
    for chunk in (1, 7, 1000):
        got = list(store.iter_kpi_samples("XRPUSDT", T0 + 5000, T0 + 90_000, chunk=chunk))
        assert got == store.kpi_samples("XRPUSDT", T0 + 5000, T0 + 90_000)
    span = store.kpi_sample_span("XRPUSDT", T0 + 5000, T0 + 90_000)
    assert span[:3] == (255, T0 + 5000, T0 + 89_000)
    assert store.kpi_sample_span("NOPE") == (0, None, None, None)
    first_three = store.kpi_sample_span("XRPUSDT", T0, T0 + 1)  # the rows of the first instant
    assert first_three.count == 3
    got = list(store.iter_kpi_samples("XRPUSDT", until_id=first_three.last_id))
    assert got == store.kpi_samples("XRPUSDT")[:3]
    assert store.kpi_symbols() == ["BTCUSDT", "XRPUSDT"]
    assert store.kpi_symbols(T0 + 1000) == ["XRPUSDT"]
    assert store.kpi_spacings("XRPUSDT") == [(1000, 99)]
    with pytest.raises(ValueError):
        list(store.iter_kpi_samples("XRPUSDT", chunk=0))


def test_reports_are_identical_on_every_backend(store: Store, tmp_path: Path):
    """The hand-made period and a recorded session give the same bytes as on a fresh SQLite."""
    from test_report import OBL as HAND_OBL  # pytest puts this folder on sys.path
    from test_report import T0 as HAND_T0
    from test_report import hand_made

    from liquidity_bot.reporting.sample_session import record_sample_session

    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.create_schema()
    outputs = []
    for s in (store, reference):
        hand_made(s)
        record_sample_session(s, start_ms=HAND_T0 + 60_000, minutes=3, symbol="ABCUSDT")
        rep = build_report(s, obligations={"XRPUSDT": HAND_OBL}, now_ms=HAND_T0)
        outputs.append([render(rep, fmt) for fmt in ("json", "csv", "html")])
    reference.close()
    assert outputs[0] == outputs[1]
    assert '"ABCUSDT"' in outputs[0][0] and '"XRPUSDT"' in outputs[0][0]
