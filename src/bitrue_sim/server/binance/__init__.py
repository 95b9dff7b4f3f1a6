"""Binance's spot REST dialect over the simulator's shared core (``sim serve --exchange binance``).

The same matching core, accounts, API keys (permissions, IP allow lists), listen keys, rate
limiter and faults as the Bitrue dialect; only the wire differs: paths (``/api/v3/...``,
``/sapi/v1/...``), signing (HMAC-SHA256 over query + body, ``X-MBX-APIKEY``, ``timestamp``,
``recvWindow``), error codes and statuses, and rendering (exchangeInfo filters, FULL order
answers, ``apiRestrictions``). Facts from binance-spot-api-docs (``rest-api.md``,
``errors.md``, ``filters.md``, ``user-data-stream.md``) and from what ccxt's ``binance``
client sends and parses.

=====  =======  ==================================================================
HTTP   code     when
=====  =======  ==================================================================
400    -1102    missing or malformed parameter
400    -1100    illegal characters in a decimal parameter
400    -1013    filter failure (PRICE_FILTER, LOT_SIZE, NOTIONAL, PERCENT_PRICE_BY_SIDE)
400    -1121    unknown symbol
400    -1116    unknown order type; -1117 unknown side; -1115 unsupported timeInForce
400    -2010    new order rejected: insufficient balance, duplicate client id,
                LIMIT_MAKER that would take
400    -2011    cancel of an unknown or no longer open order ("Unknown order sent.")
400    -2013    query of an unknown order ("Order does not exist.")
400    -1021    timestamp outside recvWindow (or more than 1 s ahead)
400    -1022    signature not valid
400    -1131    recvWindow over 60000
400    -1125    listenKey does not exist
401    -2014    API-key format invalid (header missing or not 64 alphanumerics)
401    -2015    unknown/deleted/disabled key, source IP not allowed, missing permission
429    -1003    request weight over the limit (Retry-After header)
429    -1015    too many new orders
418    -1003    IP banned after ignoring a 429
5xx    -1001    internal error or injected fault: outcome unknown
=====  =======  ==================================================================
"""
