"""A venue for any exchange ccxt supports: REST through ccxt's async client, books and our
orders through ccxt.pro's streams with a REST fallback (``venue.CcxtVenue``)."""
