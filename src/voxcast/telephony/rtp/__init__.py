"""RTP for calls: packets (RFC 3550), DTMF events (RFC 4733) and G.711 framing. Pure code; the
shared 20 ms pacer and the sockets come with the SIP carrier."""
