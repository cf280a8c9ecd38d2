"""Texts to callees: the SMS sender and its transports (the sandbox sink, SMPP 3.4 to an SMSC)."""
