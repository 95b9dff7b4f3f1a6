"""liquidity-bot: a security-first market maker for Bitrue."""

__version__ = "0.1.0"
