"""The asyncio layer of the SIP stack: the transport endpoints that feed the core's machines,
the RFC 3263 resolver, the SIP carrier (the `Carrier` port) and agents' call legs."""
