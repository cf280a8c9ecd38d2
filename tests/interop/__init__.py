"""Interop tests: voxcast's SIP stack against real third-party peers (baresip, Kamailio)."""
