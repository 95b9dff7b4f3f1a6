"""The token project's own check of the obligations, from the exchange's side.

With a read-only key of the same account (the ``audit`` key profile) ``liquidity-bot audit``
samples the public book and the account's open orders at a fixed interval, measures them with
the bot's own KPI code (``reporting.kpi``) into a store of its own, and writes the same report
as ``liquidity-bot report``; ``audit compare`` sets the two reports side by side. Not to be
confused with ``keys.audit``, the key audit trail.
"""
