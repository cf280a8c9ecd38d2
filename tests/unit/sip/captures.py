"""Messages as real peers write them (Asterisk chan_pjsip and chan_sip, FreeSWITCH, SIPp's
stock UAS, a Kamailio proxy in front), reconstructed from traces with addresses moved to
127.0.0.1. `fit()` re-addresses a captured response to one of our requests."""

from __future__ import annotations

from voxcast.telephony.sip.core.message import Request, Response, parse, parse_name_addr, serialize


def crlf(text: str) -> bytes:
    """A message written with LF in this file → CRLF on the wire; `{cl}` becomes the body's
    real Content-Length."""
    head, _, body = text.lstrip("\n").partition("\n\n")
    body_bytes = body.replace("\n", "\r\n").encode()
    head = head.replace("{cl}", str(len(body_bytes)))
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body_bytes


SIPP_UAS_SDP = """\
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""

SIPP_200 = crlf(
    """
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-7c1a-1;rport=5060;received=127.0.0.1
From: <sip:voxcast@127.0.0.1>;tag=ours
To: <sip:8613000000000@127.0.0.1:5070>;tag=30481SIPpTag011
Call-ID: sipp-call-1
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:5070;transport=UDP>
Content-Type: application/sdp
Content-Length: {cl}

"""
    + SIPP_UAS_SDP
)

SIPP_BYE = crlf(
    """
BYE sip:voxcast@127.0.0.1:5060;transport=udp SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-30481-1-7
From: <sip:8613000000000@127.0.0.1:5070>;tag=30481SIPpTag011
To: <sip:voxcast@127.0.0.1>;tag=ours
Call-ID: sipp-call-1
CSeq: 2 BYE
Contact: <sip:sipp@127.0.0.1:5070>
Max-Forwards: 70
Subject: Performance Test
Content-Length: 0

"""
)

FREESWITCH_183 = crlf(
    """
SIP/2.0 183 Session Progress
Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bK-fs-1;received=127.0.0.1
From: <sip:1008122211@127.0.0.1>;tag=ours
To: <sip:8613000000001@127.0.0.1>;tag=Q7Fj4gB0vcp2H
Call-ID: fs-call-1
CSeq: 1 INVITE
Contact: <sip:8613000000001@127.0.0.1:5080;transport=udp>
User-Agent: FreeSWITCH-mod_sofia/1.10.11-release~64bit
Accept: application/sdp
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY
Supported: timer, path, replaces
Allow-Events: talk, hold, conference, refer
Content-Type: application/sdp
Content-Disposition: session
Content-Length: {cl}
Remote-Party-ID: "8613000000001" <sip:8613000000001@127.0.0.1>;party=calling;privacy=off

v=0
o=FreeSWITCH 1700001234 1700001235 IN IP4 127.0.0.1
s=FreeSWITCH
c=IN IP4 127.0.0.1
t=0 0
m=audio 27356 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
"""
)

KAMAILIO_FREESWITCH_200 = crlf(
    """
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bK-fs-1;received=127.0.0.1
Record-Route: <sip:127.0.0.2;lr;ftag=ours;did=6a3.d9c1>
Record-Route: <sip:127.0.0.3:5062;transport=udp;lr>
From: <sip:1008122211@127.0.0.1>;tag=ours
To: <sip:8613000000001@127.0.0.1>;tag=Q7Fj4gB0vcp2H
Call-ID: fs-call-1
CSeq: 1 INVITE
Contact: <sip:8613000000001@127.0.0.4:5080;transport=udp>
User-Agent: FreeSWITCH-mod_sofia/1.10.11-release~64bit
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY
Require: timer
Session-Expires: 1800;refresher=uac
Supported: timer, path, replaces
Content-Type: application/sdp
Content-Disposition: session
Content-Length: {cl}

v=0
o=FreeSWITCH 1700001234 1700001236 IN IP4 127.0.0.1
s=FreeSWITCH
c=IN IP4 127.0.0.1
t=0 0
m=audio 27356 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
"""
)

FREESWITCH_486 = crlf(
    """
SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bK-fs-1;received=127.0.0.1
From: <sip:1008122211@127.0.0.1>;tag=ours
To: <sip:8613000000005@127.0.0.1>;tag=SgB0mK1c4e6aN
Call-ID: fs-call-1
CSeq: 1 INVITE
User-Agent: FreeSWITCH-mod_sofia/1.10.11-release~64bit
Accept: application/sdp
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY
Supported: timer, path, replaces
Reason: Q.850;cause=17;text="USER_BUSY"
Content-Length: 0

"""
)

FREESWITCH_REINVITE_HOLD = crlf(
    """
INVITE sip:voxcast@127.0.0.1:5060;transport=udp SIP/2.0
Via: SIP/2.0/UDP 127.0.0.4:5080;rport;branch=z9hG4bKa8Uv2p1mH0Qtg
Route: <sip:127.0.0.3:5062;transport=udp;lr>
Route: <sip:127.0.0.2;lr;ftag=ours;did=6a3.d9c1>
Max-Forwards: 70
From: <sip:8613000000001@127.0.0.1>;tag=Q7Fj4gB0vcp2H
To: <sip:1008122211@127.0.0.1>;tag=ours
Call-ID: fs-call-1
CSeq: 24631101 INVITE
Contact: <sip:8613000000001@127.0.0.4:5080;transport=udp>
User-Agent: FreeSWITCH-mod_sofia/1.10.11-release~64bit
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY
Supported: timer, path, replaces
Content-Type: application/sdp
Content-Disposition: session
Content-Length: {cl}

v=0
o=FreeSWITCH 1700001234 1700001237 IN IP4 127.0.0.1
s=FreeSWITCH
c=IN IP4 127.0.0.1
t=0 0
m=audio 27356 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendonly
"""
)

ASTERISK_PJSIP_401 = crlf(
    """
SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;received=127.0.0.1;branch=z9hG4bK-ast-1
Call-ID: ast-call-1
From: <sip:voxcast@127.0.0.1>;tag=ours
To: <sip:8613000000000@127.0.0.1>;tag=z9hG4bK-ast-1
CSeq: 1 INVITE
WWW-Authenticate: Digest realm="asterisk",nonce="1700001111/6b0c5f4e5b54b2a4b5d1e7e1f3e0b0a1",opaque="4f1e2d3c4b5a6978",algorithm=MD5,qop="auth"
Server: Asterisk PBX 20.5.0
Content-Length:  0

"""
)

ASTERISK_CHAN_SIP_407 = crlf(
    """
SIP/2.0 407 Proxy Authentication Required
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ast-1;received=127.0.0.1;rport=5060
From: <sip:voxcast@127.0.0.1>;tag=ours
To: <sip:8613000000000@127.0.0.1>;tag=as1a2b3c4d
Call-ID: ast-call-1
CSeq: 1 INVITE
Server: Asterisk PBX 16.30.0
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE
Supported: replaces, timer
Proxy-Authenticate: Digest algorithm=MD5, realm="asterisk", nonce="3c5e1b7a"
Content-Length: 0

"""
)

ASTERISK_INFO_DTMF = crlf(
    """
INFO sip:voxcast@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK5f1b2c3d;rport
From: <sip:8613000000001@127.0.0.1>;tag=as1a2b3c4d
To: <sip:voxcast@127.0.0.1>;tag=ours
Contact: <sip:8613000000001@127.0.0.1:5070>
Call-ID: ast-call-1
CSeq: 103 INFO
User-Agent: Asterisk PBX 16.30.0
Max-Forwards: 70
Content-Type: application/dtmf-relay
Content-Length: {cl}

Signal=1
Duration=100
"""
)

ASTERISK_OPTIONS_QUALIFY = crlf(
    """
OPTIONS sip:127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bKPj6e0d5a1f-0d4c
From: <sip:asterisk@127.0.0.1>;tag=b0a4e6f5-7c1d
To: <sip:127.0.0.1>
Contact: <sip:asterisk@127.0.0.1:5070>
Call-ID: 5c4b3a29-1e0f-4d3c-9b8a-7f6e5d4c3b2a
CSeq: 47263 OPTIONS
Max-Forwards: 70
User-Agent: Asterisk PBX 20.5.0
Content-Length:  0

"""
)

#: compact forms, folded lines and a multi-value Via as a proxy might relay them
COMPACT_180 = crlf(
    """
SIP/2.0 180 Ringing
v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-c-1;received=127.0.0.1,
 SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-c-0
f: "Voxcast, Inc." <sip:voxcast@127.0.0.1>;tag=ours
t: <sip:8613000000000@127.0.0.1>;tag=far
i: compact-1
CSeq: 1 INVITE
m: <sip:far@127.0.0.1:5070>
l: 0

"""
)

ALL = {
    "sipp_200": SIPP_200,
    "sipp_bye": SIPP_BYE,
    "freeswitch_183": FREESWITCH_183,
    "kamailio_freeswitch_200": KAMAILIO_FREESWITCH_200,
    "freeswitch_486": FREESWITCH_486,
    "freeswitch_reinvite_hold": FREESWITCH_REINVITE_HOLD,
    "asterisk_pjsip_401": ASTERISK_PJSIP_401,
    "asterisk_chan_sip_407": ASTERISK_CHAN_SIP_407,
    "asterisk_info_dtmf": ASTERISK_INFO_DTMF,
    "asterisk_options_qualify": ASTERISK_OPTIONS_QUALIFY,
    "compact_180": COMPACT_180,
}


def fit(capture: bytes, request: Request, *, to_tag: str | None = None) -> Response:
    """A captured response re-addressed to `request`: its Vias, Call-ID, From and CSeq, and
    the capture's own To tag (or `to_tag`), as the real peer would have answered."""
    msg = parse(capture)
    assert isinstance(msg, Response)
    tag = to_tag or parse_name_addr(msg.headers.get("To") or "").tag
    msg.headers.replace_all("Via", request.headers.get_all("Via"))
    msg.headers.set("Call-ID", request.call_id)
    msg.headers.set("From", request.headers.get("From") or "")
    to = request.headers.get("To") or ""
    msg.headers.set("To", f"{to};tag={tag}" if tag and "tag=" not in to else to)
    msg.headers.set("CSeq", request.headers.get("CSeq") or "")
    again = parse(serialize(msg))
    assert isinstance(again, Response)
    return again
