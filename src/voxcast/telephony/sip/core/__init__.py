"""The sans-IO SIP core: pure state machines and codecs, no sockets, no event loop, no clock
(times come in as arguments). See `voxcast.telephony.sip`."""
