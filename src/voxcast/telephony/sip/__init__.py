"""Our SIP stack, sans-IO at its core: messages are parsed from and serialized to bytes here;
transactions, dialogs and the user agent (next) consume them without touching sockets."""
