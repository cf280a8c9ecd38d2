"""The status codes each operation answers, for the API reference (/docs): the checks every
signed request passes, then each operation's own codes (docs/api-compat.md, the vendor's pages)."""

from __future__ import annotations

from voxcast.domain import aivoice_codes
from voxcast.domain.codes import (
    DEFAULT_REASONS,
    FILE_FORMAT,
    FILE_TOO_LARGE,
    JOB_NUMBER_DUPLICATED,
    NO_NUMBERS,
    RESEND_STATUS,
    Code,
)

Row = tuple[str, str]


def _rows(*codes: Code) -> tuple[Row, ...]:
    return tuple((code.value, DEFAULT_REASONS[code]) for code in codes)


def _as(code: Code, meaning: str) -> tuple[Row, ...]:
    """A code the operation answers with its own wording (the vendor reuses numbers)."""
    return ((code.value, meaning),)


def _aivoice(*codes: str) -> tuple[Row, ...]:
    return tuple((code, aivoice_codes.REASONS[code]) for code in codes)


#: the Sign check, the body rule and the field rules, in the order they are applied
COMMON = _rows(
    Code.SUCCESS,
    Code.TOO_FREQUENT,
    Code.AUTH,
    Code.TIMESTAMP,
    Code.API_KEY_DISABLED,
    Code.USER_LOCKED,
    Code.IP_RESTRICTED,
    Code.SYSTEM,
    Code.PARAMETER,
)
#: an operation that skips the Sign check
PUBLIC = _rows(Code.SUCCESS, Code.SYSTEM, Code.PARAMETER)
#: the AiVoice family's own table (spec supplement A.5)
AIVOICE_COMMON = _aivoice(
    aivoice_codes.SUCCESS,
    aivoice_codes.SIGN_EMPTY,
    aivoice_codes.TIMESTAMP_EMPTY,
    aivoice_codes.API_KEY_EMPTY,
    aivoice_codes.AUTH,
    aivoice_codes.TIMESTAMP,
    aivoice_codes.IP_RESTRICTED,
    aivoice_codes.SYSTEM,
    aivoice_codes.PARAMETER,
)
#: a body over VOXCAST_MAX_REQUEST_BYTES
BODY = _rows(Code.CAPS)

_TASK_SEND = _rows(
    Code.APP_PERMISSION,
    Code.BALANCE,
    Code.CAPS,
    Code.NO_NUMBER,
    Code.TASK_NAME_EXISTS,
    Code.CONCURRENT_TASKS,
    Code.TTS_REQUIRED,
    Code.TTS_LANGUAGE,
    Code.SMS_TRIGGER,
    Code.TIME_FORMAT,
    Code.NOT_FOUND,
)
_TASK_CHANGE = _rows(Code.NOT_FOUND, Code.TASK_STATE)
_WINDOW = _rows(Code.TIME_FORMAT, Code.OUT_OF_TIME_RANGE)
_AI = _rows(Code.SCRIPT_NOT_FOUND)

#: each operation's own codes, by path without the /v3 prefix
OPERATIONS: dict[str, tuple[Row, ...]] = {
    "/getBalance": (),
    # call center
    "/cc/seatGroup/addGroup": _rows(Code.APP_PERMISSION, Code.EXISTS),
    "/cc/seatGroup/updateGroup": _rows(Code.NOT_FOUND, Code.EXISTS),
    "/cc/seatGroup/deleteGroup": _rows(Code.NOT_FOUND, Code.AGENTS_EXIST),
    "/cc/seatGroup/query": _rows(Code.APP_PERMISSION),
    "/cc/seatGroup/basicSetting": _rows(Code.NOT_FOUND),
    "/cc/seatGroup/basicSettingResp": _rows(Code.NOT_FOUND),
    "/cc/seat/addSeatList": _rows(
        Code.NOT_FOUND, Code.GROUP_NOT_IN_APP_74, Code.COUNTRY_CODE, Code.OVER_QUOTA
    ),
    "/cc/seat/updateSeat": _rows(
        Code.NOT_FOUND, Code.GROUP_NOT_IN_APP, Code.COUNTRY_CODE, Code.AGENT_ON_CALL
    )
    + _as(Code.NO_CALLABLE_NUMBER, JOB_NUMBER_DUPLICATED),
    "/cc/seat/query": _rows(Code.OUT_OF_TIME_RANGE),
    "/cc/seat/createSdkAuthentication": _rows(Code.NOT_FOUND),
    "/cc/number/add": _rows(Code.PHONE_INVALID, Code.EXISTS, Code.NOT_FOUND),
    "/cc/number/delete": _rows(Code.PHONE_INVALID, Code.NOT_FOUND),
    "/cc/number/query": (),
    "/cc/preview/upload": _rows(
        Code.VALIDATION, Code.CAPS, Code.TOO_MANY_ROWS, Code.HEADER_REPEATED
    )
    + _as(Code.TTS_REQUIRED, FILE_TOO_LARGE)
    + _as(Code.TTS_LANGUAGE, FILE_FORMAT),
    "/cc/preview/submitTask": _rows(Code.APP_PERMISSION, Code.NOT_FOUND, Code.GROUP_NOT_IN_APP_74)
    + _as(Code.RESEND_STATE, NO_NUMBERS),
    "/cc/preview/resendTask": _rows(Code.NOT_FOUND, Code.GROUP_NOT_IN_APP_74)
    + _as(Code.TASK_NAME_EXISTS, RESEND_STATUS)
    + _as(Code.RESEND_STATE, NO_NUMBERS),
    "/cc/preview/agent/editTask": _rows(Code.NOT_FOUND),
    "/cc/preview/query": _rows(Code.TIME_FORMAT),
    "/cc/record/query": _WINDOW,
    # do-not-call lists (voxcast extension)
    "/voice/dnc/add": _rows(Code.APP_PERMISSION),
    "/voice/dnc/remove": _rows(Code.APP_PERMISSION),
    "/voice/dnc/query": _rows(Code.APP_PERMISSION),
    "/voice/dnc/audit": _rows(Code.APP_PERMISSION),
    # voice files, messages and records
    "/voice/fileUpload": _rows(Code.EXISTS, Code.VALIDATION, Code.CAPS),
    "/voice/fileQuery": (),
    "/voice/sendCode": _rows(Code.APP_PERMISSION, Code.PHONE_INVALID, Code.BALANCE, Code.FEE),
    "/voice/sendGroup": _rows(
        Code.APP_PERMISSION,
        Code.NUMBERS_OVER_LIMIT,
        Code.PHONE_EMPTY,
        Code.PHONE_INVALID,
        Code.NOT_FOUND,
        Code.BALANCE,
        Code.FEE,
    ),
    "/voice/recordGroup/{voiceId}": _rows(Code.NOT_FOUND),
    "/voice/recordGroupQuery": _WINDOW,
    # group-call tasks
    "/voice/group/call/send": _TASK_SEND,
    "/voice/group/call/send/ai": _TASK_SEND + _AI,
    "/voice/group/call/update": _TASK_SEND + _TASK_CHANGE,
    "/voice/group/call/update/ai": _TASK_SEND + _TASK_CHANGE + _AI,
    "/voice/group/call/resend": _TASK_SEND + _rows(Code.RESEND_STATE, Code.NO_CALLABLE_NUMBER),
    "/voice/group/call/resend/ai": _TASK_SEND
    + _rows(Code.RESEND_STATE, Code.NO_CALLABLE_NUMBER)
    + _AI,
    "/voice/group/call/query": _rows(Code.TIME_FORMAT),
    "/voice/group/call/detail/{task_id}": _rows(Code.NOT_FOUND),
    "/voice/group/call/provisional": _TASK_CHANGE,
    "/voice/group/call/resume": _TASK_CHANGE,
    "/voice/group/call/cancel": _TASK_CHANGE,
    # recall flows
    "/voice/recallFlow/queryPage": (),
    "/voice/recallFlow/queryDetail": _rows(Code.NOT_FOUND),
    "/voice/recallFlow/update": _TASK_CHANGE + _rows(Code.TIME_FORMAT) + _AI,
    "/voice/recallFlow/cancel": _TASK_CHANGE,
    # SIP phones and click-to-call
    "/voice/sipAdd": _rows(Code.APP_PERMISSION, Code.EXISTS, Code.CAPS),
    "/voice/sipQuery": _rows(Code.APP_PERMISSION),
    "/voice/sipReset": _rows(Code.APP_PERMISSION, Code.NOT_FOUND),
    "/voice/sendSip": _rows(
        Code.APP_PERMISSION, Code.NOT_FOUND, Code.FEE, Code.BALANCE, Code.SIP_NOT_IDLE
    ),
    "/voice/recordSip/{voiceId}": _rows(Code.NOT_FOUND),
    "/voice/recordSipQuery": _WINDOW,
    # SMS
    "/sendSms": _rows(
        Code.APP_PERMISSION,
        Code.SMS_CONTENT_EMPTY,
        Code.SMS_TOO_LONG,
        Code.NUMBERS_OVER_LIMIT,
        Code.PHONE_EMPTY,
    ),
    "/sendSms/batch": _rows(
        Code.APP_PERMISSION,
        Code.SMS_CONTENT_EMPTY,
        Code.SMS_TOO_LONG,
        Code.NUMBERS_OVER_LIMIT,
        Code.PHONE_EMPTY,
    ),
    "/getReport": _rows(Code.APP_PERMISSION, Code.QUERY_ID, Code.CAPS),
    "/getSentRcd": _rows(Code.APP_PERMISSION, Code.TIME_FORMAT, Code.OUT_OF_TIME_RANGE),
    # AiVoice (its own table)
    "/aivoice/dialogFlowList": _aivoice(aivoice_codes.APP_NOT_FOUND),
    "/aivoice/channelList": _aivoice(aivoice_codes.APP_NOT_FOUND),
    "/aivoice/dialogFlowAdd": (),
    "/aivoice/dialogFlowEdit": _aivoice(aivoice_codes.SCRIPT_NOT_FOUND),
    "/aivoice/dialogFlowDetail": _aivoice(aivoice_codes.SCRIPT_NOT_FOUND),
    "/aivoice/dialogFlowDel": _aivoice(aivoice_codes.SCRIPT_NOT_FOUND),
    "/aivoice/taskAdd": _aivoice(
        aivoice_codes.APP_NOT_FOUND, aivoice_codes.SCRIPT_NOT_FOUND, aivoice_codes.NO_PRICE
    ),
    "/aivoice/taskEdit": _aivoice(
        aivoice_codes.APP_NOT_FOUND, aivoice_codes.TASK_NOT_FOUND, aivoice_codes.SCRIPT_NOT_FOUND
    ),
    "/aivoice/taskStart": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/taskStop": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/taskDel": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/taskList": _aivoice(aivoice_codes.APP_NOT_FOUND, aivoice_codes.NO_PRICE),
    "/aivoice/properties": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/importCustomer": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/importCustomer/del": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/taskNoCall": _aivoice(aivoice_codes.TASK_NOT_FOUND),
    "/aivoice/recordQuery": _aivoice(aivoice_codes.APP_NOT_FOUND),
}


def codes_of(path: str) -> tuple[Row, ...] | None:
    """The own codes of the operation at `path` (no /v3 prefix); None for one not listed."""
    return OPERATIONS.get(path)
