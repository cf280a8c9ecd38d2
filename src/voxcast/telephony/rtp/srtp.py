"""SRTP for one call leg (RFC 3711) through libsrtp (pylibsrtp): our packets protected with our
key, the far end's checked and decrypted with its key; a packet that fails is counted, never
raised. The keys stay inside libsrtp and this object (no repr shows them)."""

from __future__ import annotations

import pylibsrtp

from voxcast.telephony.sip.core.sdes import (
    AES_CM_128_HMAC_SHA1_32,
    AES_CM_128_HMAC_SHA1_80,
    SrtpKeys,
)

PROFILES = {
    AES_CM_128_HMAC_SHA1_80: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    AES_CM_128_HMAC_SHA1_32: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


class SrtpContext:
    """Two libsrtp sessions: outbound (any SSRC we send, relayed streams included) and
    inbound (any SSRC the far end sends). `failed` counts packets refused by `unprotect`
    (bad authentication tag, a replay, garbage)."""

    def __init__(self, keys: SrtpKeys) -> None:
        self.suite = keys.suite
        self._send, self._receive = keys.send, keys.receive
        self._out = _session(keys.suite, keys.send, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self._in = _session(keys.suite, keys.receive, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        self.protected = 0
        self.unprotected = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"SrtpContext({self.suite}, failed={self.failed})"

    def rekey(self, keys: SrtpKeys) -> None:
        """A re-INVITE's keys: a side whose key (and suite) did not change keeps its session,
        so its rollover counter and replay window go on (RFC 4568 §7.1.4)."""
        same_suite = keys.suite == self.suite
        if not same_suite or keys.send != self._send:
            self._out = _session(keys.suite, keys.send, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        if not same_suite or keys.receive != self._receive:
            self._in = _session(keys.suite, keys.receive, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        self.suite, self._send, self._receive = keys.suite, keys.send, keys.receive

    def protect(self, packet: bytes) -> bytes | None:
        """The SRTP packet; None for a packet libsrtp refuses (too long for its buffer)."""
        try:
            protected = self._out.protect(packet)
        except (pylibsrtp.Error, ValueError):
            return None
        self.protected += 1
        return protected

    def unprotect(self, packet: bytes) -> bytes | None:
        """The plain RTP packet, or None (counted in `failed`) when it is not authentic."""
        try:
            plain = self._in.unprotect(packet)
        except (pylibsrtp.Error, ValueError):
            self.failed += 1
            return None
        self.unprotected += 1
        return plain


def _session(suite: str, key: bytes, ssrc_type: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=PROFILES[suite])
    return pylibsrtp.Session(policy)
