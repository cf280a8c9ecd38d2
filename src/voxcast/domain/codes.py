"""The vendor's status codes and the error type every layer raises to answer with one of them."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Status codes of the vendor API; the value is the wire string."""

    SUCCESS = "0"
    AUTH = "-1"
    IP_RESTRICTED = "-2"
    SMS_CONTENT_EMPTY = "-4"
    SMS_TOO_LONG = "-5"
    NUMBERS_OVER_LIMIT = "-7"
    PHONE_EMPTY = "-8"
    PHONE_INVALID = "-9"
    BALANCE = "-10"
    TIME_FORMAT = "-11"
    USER_LOCKED = "-13"
    QUERY_ID = "-14"
    TOO_FREQUENT = "-15"
    TIMESTAMP = "-16"
    SYSTEM = "-18"
    EXISTS = "-20"
    VALIDATION = "-21"
    PARAMETER = "-22"
    CAPS = "-23"
    NOT_FOUND = "-24"
    OUT_OF_TIME_RANGE = "-25"
    FEE = "-26"
    API_KEY_DISABLED = "-30"
    APP_PERMISSION = "-32"
    NO_CALLABLE_NUMBER = "-34"
    NO_NUMBER = "-35"
    CONCURRENT_TASKS = "-37"
    TTS_REQUIRED = "-38"
    TTS_LANGUAGE = "-39"
    TOO_MANY_ROWS = "-40"
    TASK_NAME_EXISTS = "-41"
    RESEND_STATE = "-42"
    HEADER_REPEATED = "-43"
    SMS_TRIGGER = "-53"
    TASK_STATE = "-54"
    SCRIPT_NOT_FOUND = "-60"
    OVER_QUOTA = "-36"
    AGENTS_EXIST = "-63"
    GROUP_NOT_IN_APP = "-65"
    COUNTRY_CODE = "-66"
    AGENT_ON_CALL = "-67"
    SIP_NOT_IDLE = "-68"
    GROUP_NOT_IN_APP_74 = "-74"


DEFAULT_REASONS: dict[Code, str] = {
    Code.SUCCESS: "success",
    Code.AUTH: "Authentication error",
    Code.IP_RESTRICTED: "Restricted IP access",
    Code.SMS_CONTENT_EMPTY: "SMS content empty",
    Code.SMS_TOO_LONG: "SMS content too long",
    Code.NUMBERS_OVER_LIMIT: "Phone numbers exceed limit",
    Code.PHONE_EMPTY: "Phone number empty",
    Code.PHONE_INVALID: "Abnormal phone number",
    Code.BALANCE: "The customer's balance is insufficient",
    Code.TIME_FORMAT: "Incorrect time format",
    Code.USER_LOCKED: "User locked",
    Code.QUERY_ID: "Field empty or query id abnormal",
    Code.TOO_FREQUENT: "Query too frequently",
    Code.TIMESTAMP: "Timestamp expires",
    Code.SYSTEM: "Port program unusual",
    Code.EXISTS: "Data existing",
    Code.VALIDATION: "Data validation exception",
    Code.PARAMETER: "Parameter exception",
    Code.CAPS: "Data caps",
    Code.NOT_FOUND: "Data unexisting",
    Code.OUT_OF_TIME_RANGE: "Out of time range",
    Code.FEE: "Getting fee faily",
    Code.API_KEY_DISABLED: "API Key is disabled",
    Code.APP_PERMISSION: "API Key has no permission to access the current application",
    Code.NO_CALLABLE_NUMBER: (
        "There is no callable number when the task was ended last time. "
        "Please start the group call task again."
    ),
    Code.NO_NUMBER: "No number called",
    Code.CONCURRENT_TASKS: (
        "The group call task you submitted exceeds the maximum concurrent task limit. "
        "Please complete the task before submitting again!"
    ),
    Code.TTS_REQUIRED: "Conversion text and language type are required",
    Code.TTS_LANGUAGE: "Failed to obtain the text language type",
    Code.TASK_NAME_EXISTS: "Task name already exists",
    Code.TOO_MANY_ROWS: "More than 100k rows imported",
    Code.HEADER_REPEATED: "Called-information header cannot be repeated",
    Code.RESEND_STATE: "Recall is allowed only when the task is canceled or completed",
    Code.SMS_TRIGGER: "The trigger condition for the on-hook SMS must have one",
    Code.TASK_STATE: "The task you submitted is wrong",
    Code.SCRIPT_NOT_FOUND: "The AI speech template does not exist",
    Code.OVER_QUOTA: "Exceeds the number that can be created",
    Code.AGENTS_EXIST: "Agents exist under this agent group",
    Code.GROUP_NOT_IN_APP: "Agent group not in current app",
    Code.COUNTRY_CODE: "Country code does not exist",
    Code.AGENT_ON_CALL: "Agent currently on a call",
    Code.SIP_NOT_IDLE: "The SIP is not in the idle state",
    Code.GROUP_NOT_IN_APP_74: "Agent group does not belong to current application",
}


class ApiError(Exception):
    """A failure the caller caused or must be told about, answered with a vendor code.

    `detail` names the field or the object when there is one, so the reason tells the caller
    exactly what to fix: "Parameter exception: taskName: length must be 2-64".
    """

    def __init__(self, code: Code, detail: str | None = None, *, title: str | None = None) -> None:
        self.code = code
        self.detail = detail
        #: the endpoint's own wording where a code means something else there (-34, -38...)
        self.title = title
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        base = self.title or DEFAULT_REASONS[self.code]
        return f"{base}: {self.detail}" if self.detail else base


#: what a code means on the pages that give it another meaning (use as ApiError's title)
JOB_NUMBER_DUPLICATED = "Job number duplicated"  # -34 on updateSeat
FILE_TOO_LARGE = "File too large"  # -38 on uploads
FILE_FORMAT = "Upload file format wrong"  # -39 on uploads
RESEND_STATUS = "Status error, modification failed"  # -41 on preview resendTask
NO_NUMBERS = "The number of numbers is 0"  # -42 on preview tasks
