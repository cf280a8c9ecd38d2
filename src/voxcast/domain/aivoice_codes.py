"""The AiVoice family's own status codes (spec supplement A.5) and how voxcast's errors map
onto them: the same failure is -16 on a voice endpoint and -4 on an `aivoice/*` one."""

from __future__ import annotations

from voxcast.domain.codes import Code

SUCCESS = "0"
AUTH = "-1"
TIMESTAMP = "-4"
SYSTEM = "-5"
IP_RESTRICTED = "-6"
PARAMETER = "-27"
TASK_NOT_FOUND = "-32"
APP_NOT_FOUND = "-37"
NOT_AUTHENTICATED = "-49"
NO_PRICE = "-50"
SIGN_EMPTY = "-57"
TIMESTAMP_EMPTY = "-58"
API_KEY_EMPTY = "-59"
#: not in A.5: voxcast's script extension answers an unknown dialogFlowId as send/ai does
SCRIPT_NOT_FOUND = Code.SCRIPT_NOT_FOUND.value

REASONS: dict[str, str] = {
    SUCCESS: "success",
    AUTH: "Account authentication error",
    TIMESTAMP: "Timestamp expired",
    SYSTEM: "System exception",
    IP_RESTRICTED: "IP restricted",
    PARAMETER: "Parameter validation error",
    TASK_NOT_FOUND: "Outbound task does not exist",
    APP_NOT_FOUND: "Application does not exist",
    NOT_AUTHENTICATED: "Account not authenticated",
    NO_PRICE: "Application has no price quote",
    SIGN_EMPTY: "Sign header is empty",
    TIMESTAMP_EMPTY: "Timestamp header is empty",
    API_KEY_EMPTY: "Api-Key header is empty",
    SCRIPT_NOT_FOUND: "The AI speech template does not exist",
}

#: the code of the main table (§0.4) each voxcast error is reported with on `aivoice/*`;
#: codes not listed here are caller errors the AiVoice table has no better word for (-27)
_FROM_CODE: dict[Code, str] = {
    Code.SUCCESS: SUCCESS,
    Code.AUTH: AUTH,
    Code.API_KEY_DISABLED: AUTH,
    Code.USER_LOCKED: AUTH,
    Code.TOO_FREQUENT: AUTH,
    Code.TIMESTAMP: TIMESTAMP,
    Code.IP_RESTRICTED: IP_RESTRICTED,
    Code.SYSTEM: SYSTEM,
    Code.APP_PERMISSION: APP_NOT_FOUND,
    Code.SCRIPT_NOT_FOUND: SCRIPT_NOT_FOUND,
    # an unknown, deleted or another account's jobId (the only objects aivoice/* looks up)
    Code.NOT_FOUND: TASK_NOT_FOUND,
    # no rate covers the account's calls: the application has no price quote
    Code.FEE: NO_PRICE,
}


def from_code(code: Code) -> str:
    """The AiVoice code for one of voxcast's errors."""
    return _FROM_CODE.get(code, PARAMETER)


def missing_header(headers: dict[str, str | None]) -> str | None:
    """-57/-58/-59 for the first of Sign, Timestamp, Api-Key that is absent or empty."""
    for name, code in (
        ("sign", SIGN_EMPTY),
        ("timestamp", TIMESTAMP_EMPTY),
        ("api-key", API_KEY_EMPTY),
    ):
        if not (headers.get(name) or "").strip():
            return code
    return None
