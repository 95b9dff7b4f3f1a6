"""``UserStream.handle_text``: an order push read in one decode gives what the general path
(head, then the message) gives; a broken one is refused as before, and not counted."""

from __future__ import annotations

import msgspec
import pytest

from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.user_stream import UserStream

# a fill push as the simulator sends it (captured from a run), and the same with a space
# after each separator (what a server may send: it takes the general path)
FILL = ('{"e":"ORDER","I":"209818131719848000","E":1796682410771,"u":3,"s":"xrpusdt",'
        '"c":"lbbmxdubakz0yya1v4b","C":"lbbmxdubakz0yya1v4b","S":2,"o":1,"q":"58.9",'
        '"p":"0.5099","x":3,"X":2,"i":236607446882061822,"l":"58.9","L":"0.5099",'
        '"n":"0.00300311","N":"usdt","T":1796682410770,"t":11111,"O":1796682409964,'
        '"z":"58.9","Y":"30.03311"}')
SPACED = FILL.replace('":', '": ').replace(',"', ', "')


def _stream() -> tuple[UserStream, list]:
    got: list = []
    us = UserStream(BitrueRestClient(BitrueUrls()), BitrueUrls(), on_order=got.append,
                    on_balance=lambda u: None)
    return us, got


@pytest.mark.parametrize("as_bytes", [False, True])
def test_an_order_push_reads_the_same_in_one_decode(as_bytes):
    us, got = _stream()
    assert SPACED != FILL and not SPACED.startswith('{"e":"ORDER",')
    for frame in (FILL, SPACED):
        assert us.handle_text(frame.encode() if as_bytes else frame) is None
    assert len(got) == 2 and got[0] == got[1]
    fill = got[0]
    assert (fill.s, fill.x, fill.X, fill.t, str(fill.l), str(fill.L), fill.N) == \
        ("XRPUSDT", 3, 2, 11111, "58.9", "0.5099", "USDT")
    assert us.messages == 2 and us.last_message_at is not None


def test_a_broken_order_push_is_refused_and_not_counted():
    us, got = _stream()
    for bad in (FILL[:-20], '{"e":"ORDER","i":"x"}'):
        with pytest.raises(msgspec.DecodeError):
            us.handle_text(bad)
    assert got == [] and us.messages == 0 and us.last_message_at is None
