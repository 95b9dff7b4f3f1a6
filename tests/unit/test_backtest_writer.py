"""The backtest's store writer: same records as the live writer, grouped into fewer writes."""

from __future__ import annotations

from decimal import Decimal

from liquidity_bot.backtest.runner import BatchedStoreWriter
from liquidity_bot.store import KpiSample, Store


def _sample(ts_ms: int) -> KpiSample:
    return KpiSample(symbol="XRPUSDT", ts_ms=ts_ms, bid_depth_quote=Decimal("300.5"),
                     ask_depth_quote=Decimal(ts_ms), two_sided=True,
                     obligations_met=ts_ms % 2 == 0, mid=Decimal("0.5"))


def test_runs_of_kpi_samples_are_one_insert_in_their_place(tmp_path, monkeypatch) -> None:
    store = Store(f"sqlite:///{tmp_path}/w.db")
    store.create_schema()
    inserts: list[int | str] = []
    original = store.add_kpi_sample

    def counting(samples):  # noqa: ANN001, ANN202
        samples = list(samples)
        inserts.append(len(samples))
        original(samples)

    monkeypatch.setattr(store, "add_kpi_sample", counting)
    writer = BatchedStoreWriter(store, batch=7)
    for ts in range(1, 4):
        writer.kpi_sample(_sample(ts))
    writer.submit(lambda: inserts.append("other"))
    for ts in range(4, 13):  # 9 more: the batch of 7 records is written on the way
        writer.kpi_sample(_sample(ts))
    writer.close()
    try:
        assert [k.ts_ms for k in store.kpi_samples()] == list(range(1, 13))
        assert store.kpi_samples() == [_sample(ts) for ts in range(1, 13)]
        # 3 samples in one insert, the other write in its place, 3 samples (7 records: the
        # batch is written), then the last 6 at close
        assert inserts == [3, "other", 3, 6]
    finally:
        store.close()
