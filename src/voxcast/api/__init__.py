"""The HTTP API: app factory, Sign authentication, vendor envelopes, one router per family."""
