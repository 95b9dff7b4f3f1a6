"""What every venue adapter does alike: event fan-out, latest-book delivery, tracked orders,
fill de-duplication and the REST fallback poll."""
