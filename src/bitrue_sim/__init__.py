"""bitrue_sim: a Bitrue-compatible spot exchange on loopback.

An independent implementation of Bitrue's documented behaviour. It never imports
``liquidity_bot``: the bot meets it only over the wire (or through the venue port in backtests).
"""

__version__ = "0.1.0"
