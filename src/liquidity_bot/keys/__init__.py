"""API keys: the onboarding guide's key policy as a gate in front of all trading.

- ``vault``: the encrypted secret store (``SecretStore`` is the interface a server backend such
  as HashiCorp Vault would implement);
- ``policy``: what a key must and must not be allowed to do (TOML, the guide's defaults built in);
- ``verify``: probes the exchange without side effects and reports the named checks;
- ``gate``: ``require_tradeable`` at engine start, ``KeyWatch`` while running, ``rotate_key``;
- ``hygiene`` and ``audit``: list, review, remove, last use, and the append-only audit log;
- ``guide`` and ``cli``: the onboarding guide and ``liquidity-bot keys ...``.

Rotation and the running configuration: markets name a key *label* (``key_label`` in the
config), never a key. Each label has exactly one ``active`` key in the vault; ``keys rotate``
makes the verified replacement the active key and marks the old one ``pending_delete``. A bot
started afterwards trades with the new key; a running bot switches at its next
``KeyWatch.refresh()`` (which re-verifies it first).
"""
