"""The simulator's HTTP side: Bitrue's REST API (spot, listenKey, futures probes) and the admin API.

``app.create_app(state)`` builds the aiohttp application; ``runner.SimServer`` runs it on a
loopback port for tests; ``liquidity-bot sim serve`` runs it from the command line.

HTTP statuses (documented ones from the spot docs' error table; the rest decided here):

=====  ==========  ==============================================================
HTTP   code        when
=====  ==========  ==============================================================
200    -2013       order not found (query or cancel), as documented
401    -1022       missing/unknown/disabled/deleted key, bad signature, timestamp
                   outside recvWindow, source IP not allowed, missing read/trade
401    966001      withdraw endpoints: key lacks the withdraw permission
401    966000      withdraw endpoints: IP not allowed or key not IP-restricted
401    -2015       /fapi: unknown key, IP not allowed, no futures permission
400    -1150       listenKey PUT/DELETE: unknown, expired or another account's
404    404         unknown path
405    -1020       known path, wrong method
406    -2010       order rejected (e.g. insufficient balance) -- from the core
406    999513      withdraw/commit: always refused (no withdraw-address allow list)
412    -1102       missing/malformed parameter, a body neither form nor JSON, bad JSON,
                   a JSON body where only form is taken (listenKey)
412    -1111       malformed or filter-violating price/quantity
412    -1121       unknown symbol
412    2           withdraw endpoints: missing parameter ("Parameter error")
413    -1102       body over 64 KiB
418    -1003       IP banned (after sending again inside a 429 back-off)
429    -1003/-1015 rate limit; header ``rate_limit_p`` names the policy
500    -1016       unexpected internal error (outcome unknown, as the docs warn)
=====  ==========  ==============================================================
"""
