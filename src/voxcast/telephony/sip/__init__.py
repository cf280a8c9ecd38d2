"""Our SIP stack in two layers. `core/` is sans-IO (h11-style): messages parsed from and
serialized to bytes, transactions, dialogs, digest, SDP/SDES, the user agents and the call
session machine, all fed messages and times and returning what to send; it imports no
asyncio, socket or ssl (an import-linter contract holds it to that). `aio/` runs the core on
asyncio: sockets (UDP, TCP, TLS), DNS, and the `Carrier` port."""
