"""The dialer: turns due callees into calls through a Carrier, and call events into records."""
