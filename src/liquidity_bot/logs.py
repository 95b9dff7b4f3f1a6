"""Logging setup (placeholder until the foundation's logging lands)."""

import logging


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    logging.basicConfig(level=level)
