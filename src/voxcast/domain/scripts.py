"""The AI robot's script (话术): a versioned graph of nodes as typed objects, read from JSON
(`parse`), and the checks that name the node and field of every problem (`validate`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxcast.domain import grammars as gr
from voxcast.domain import optout

#: the script format this code reads and writes (docs/ai.md); a new format gets a new number
FORMAT_VERSION = 1
#: the variables of a group call's callees (`numberInfoList[].text1..text10`)
TEXT_VARIABLES = frozenset(f"text{i}" for i in range(1, 11))
DEFAULT_INTENT_LEVELS = ("A", "B", "C", "D", "E", "F")
DTMF_KEYS = frozenset("0123456789*#")
VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_NODES = 500
MAX_TEXT = 2000
LISTEN_MS = (500, 60_000)
MAX_RETRIES = 5
#: the built-in opt-out intent's name, heard on every node of a script that leaves it on
#: (`OptOut`); no script intent may take the name
OPT_OUT = "optOut"


class ScriptFormatError(ValueError):
    """A document that is not a script of this format at all: wrong type, unknown field."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class Prompt:
    """What the robot says: TTS text with ${variables}, or an uploaded voice file."""

    text: str | None = None
    voice_file_id: str | None = None


@dataclass(frozen=True)
class Goto:
    node: str


@dataclass(frozen=True)
class Resume:
    """Play the current node's prompt again and listen again (repeat, after an aside)."""


@dataclass(frozen=True)
class Transfer:
    """Hand the call to an agent group (resultStatus TRANSFER_ARTIFICIAL if nobody takes it)."""

    agent_group_id: int


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Say:
    """An aside or a closing line, played in full before the next action."""

    prompt: Prompt | None


@dataclass(frozen=True)
class SendSms:
    """The post-call SMS, sent once the call has ended."""

    text: str


@dataclass(frozen=True)
class Tag:
    tag: str


@dataclass(frozen=True)
class SetIntentLevel:
    level: str


Action = Goto | Resume | Transfer | Hangup | Say | SendSms | Tag | SetIntentLevel
#: actions that decide where the conversation goes; an action list ends with exactly one
FLOW = (Goto, Resume, Transfer, Hangup)
#: the actions that end the robot's part of the call
EXITS = (Transfer, Hangup)


@dataclass(frozen=True)
class Intent:
    """What a callee may mean, recognised from keywords first, then from example phrases."""

    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptOut:
    """The built-in opt-out (a voxcast extension, `optOut` in the document): on by default with
    `voxcast.domain.optout`'s phrases, plus the script's own; heard on every node, it puts the
    number on the do-not-call list, says `confirmation` (default: the language's sentence) and
    hangs up."""

    enabled: bool = True
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    confirmation: Prompt | None = None

    @property
    def intent(self) -> Intent:
        """The built-in phrases and the script's own, as one intent."""
        return Intent(
            keywords=optout.OPT_OUT_KEYWORDS + self.keywords,
            examples=optout.OPT_OUT_EXAMPLES + self.examples,
        )


@dataclass(frozen=True)
class Branch:
    intent: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Node:
    """One turn: say the prompt, listen, and act on an intent, a key, no match or silence."""

    id: str
    prompt: Prompt | None
    interruptible: bool = True
    listen_timeout_ms: int = 5000
    retries: int = 1
    retry_prompt: Prompt | None = None
    dtmf: Mapping[str, tuple[Action, ...]] = field(default_factory=dict)
    branches: tuple[Branch, ...] = ()
    no_match: tuple[Action, ...] = (Hangup(),)
    silence: tuple[Action, ...] = (Hangup(),)
    #: True: none of the script's global intents apply here; a tuple: those named do not
    global_intents_off: bool | tuple[str, ...] = False
    #: the answers of a closed question, for the grammar recognizer (docs/ai.md#grammars)
    grammar: gr.Grammar | None = None
    #: the grammar recognizer hears this node's turns first, the transcriber only after it
    grammar_first: bool = False


@dataclass(frozen=True)
class Script:
    name: str
    start: str
    nodes: Mapping[str, Node]
    format_version: int = FORMAT_VERSION
    description: str = ""
    language: str | None = None
    #: the customer `properties` (AiVoice) the prompts and SMS may use besides text1..text10
    variables: tuple[str, ...] = ()
    intent_levels: tuple[str, ...] = DEFAULT_INTENT_LEVELS
    intents: Mapping[str, Intent] = field(default_factory=dict)
    #: intent → actions, heard on every node that does not turn it off
    global_intents: Mapping[str, tuple[Action, ...]] = field(default_factory=dict)
    #: what to do when an answering machine picks up
    voicemail: tuple[Action, ...] = (Hangup(),)
    opt_out: OptOut = OptOut()

    def intents_at(self, node: Node) -> dict[str, Intent]:
        """The intents heard on `node`, in priority order: the built-in opt-out first (it wins a
        tie), then the node's branches, then the global intents it leaves on."""
        names = [b.intent for b in node.branches] + list(self.global_intents_at(node))
        heard = {OPT_OUT: self.opt_out.intent} if self.opt_out.enabled else {}
        heard |= {n: self.intents[n] for n in dict.fromkeys(names) if n in self.intents}
        return heard

    def grammar_at(self, node: Node) -> gr.Grammar | None:
        """What the grammar recognizer listens for on `node`: its `grammar`, None without
        one. A grammar has no model of other speech: it hears every sentence as some of its
        phrases, so on an open question (no declared grammar) a turn the transcriber could
        not take is better unheard (the node's retry, keys) than heard as the wrong intent;
        and never the opt-out's phrases, as a wrong opt-out lists the number."""
        return node.grammar

    def global_intents_at(self, node: Node) -> tuple[str, ...]:
        """The global intents that apply on `node`."""
        off = node.global_intents_off
        if off is True:
            return ()
        skipped = set(off) if off else set()
        return tuple(name for name in self.global_intents if name not in skipped)

    def variables_used(self) -> tuple[str, ...]:
        """The custom variables the prompts and SMS use (those an AiVoice task's customers must
        carry in `properties`), sorted; text1..text10 excluded."""
        used = {
            name
            for _path, text in _texts(self)
            for name in VARIABLE.findall(text)
            if name not in TEXT_VARIABLES
        }
        return tuple(sorted(used))


@dataclass(frozen=True)
class Problem:
    """One validation finding: where (node and field, as a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# -- reading JSON --------------------------------------------------------------------------------


def _obj(value: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScriptFormatError(path, "must be an object")
    for key in value:
        if key not in allowed:
            raise ScriptFormatError(f"{path}.{key}" if path else str(key), "unknown field")
    return value


def _map(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScriptFormatError(path, "must be an object")
    return value


def _str(value: Any, path: str, *, limit: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ScriptFormatError(path, "must be a string")
    if len(value) > limit:
        raise ScriptFormatError(path, f"must be at most {limit} characters")
    if not empty and not value.strip():
        raise ScriptFormatError(path, "must not be empty")
    if "\x00" in value:
        raise ScriptFormatError(path, "must not contain a NUL character")
    return value


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScriptFormatError(path, f"must be an integer {low}-{high}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ScriptFormatError(path, "must be true or false")
    return value


def _list(value: Any, path: str, limit: int = 100) -> list[Any]:
    if not isinstance(value, list):
        raise ScriptFormatError(path, "must be an array")
    if len(value) > limit:
        raise ScriptFormatError(path, f"must have at most {limit} items")
    return value


def _id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ScriptFormatError(path, "must be 1-64 letters, digits, '_', '.' or '-'")
    return value


def _strings(value: Any, path: str, limit: int = 200) -> tuple[str, ...]:
    return tuple(
        _str(v, f"{path}[{i}]", limit=200) for i, v in enumerate(_list(value, path, limit))
    )


def _prompt(value: Any, path: str) -> Prompt:
    raw = _obj(value, path, ("text", "voiceFileId"))
    if ("text" in raw) == ("voiceFileId" in raw):
        raise ScriptFormatError(path, "must have either text or voiceFileId")
    if "text" in raw:
        return Prompt(text=_str(raw["text"], f"{path}.text", empty=True))
    return Prompt(voice_file_id=_str(raw["voiceFileId"], f"{path}.voiceFileId", limit=64))


def _action(value: Any, path: str) -> Action:
    if not isinstance(value, Mapping):
        raise ScriptFormatError(path, "must be an object")
    kind = value.get("type")
    if kind == "goto":
        raw = _obj(value, path, ("type", "node"))
        if "node" not in raw:
            raise ScriptFormatError(f"{path}.node", "is required")
        return Goto(_id(raw["node"], f"{path}.node"))
    if kind == "resume":
        _obj(value, path, ("type",))
        return Resume()
    if kind == "hangup":
        _obj(value, path, ("type",))
        return Hangup()
    if kind == "transfer":
        raw = _obj(value, path, ("type", "agentGroupId"))
        if "agentGroupId" not in raw:
            raise ScriptFormatError(f"{path}.agentGroupId", "is required")
        return Transfer(_int(raw["agentGroupId"], f"{path}.agentGroupId", 1, 2_147_483_647))
    if kind == "say":
        raw = _obj(value, path, ("type", "prompt"))
        prompt = _prompt(raw["prompt"], f"{path}.prompt") if "prompt" in raw else None
        return Say(prompt)
    if kind == "sms":
        raw = _obj(value, path, ("type", "text"))
        return SendSms(_str(raw.get("text"), f"{path}.text"))
    if kind == "tag":
        raw = _obj(value, path, ("type", "tag"))
        return Tag(_str(raw.get("tag"), f"{path}.tag", limit=64))
    if kind == "intentLevel":
        raw = _obj(value, path, ("type", "level"))
        return SetIntentLevel(_str(raw.get("level"), f"{path}.level", limit=32))
    raise ScriptFormatError(
        f"{path}.type",
        "must be one of goto, resume, transfer, hangup, say, sms, tag, intentLevel",
    )


def _actions(value: Any, path: str) -> tuple[Action, ...]:
    return tuple(_action(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path, 20)))


_NODE_FIELDS = (
    "prompt",
    "interruptible",
    "listenTimeoutMs",
    "retries",
    "retryPrompt",
    "dtmf",
    "branches",
    "noMatch",
    "silence",
    "disableGlobalIntents",
    "grammar",
    "grammarFirst",
)


def _node(node_id: str, value: Any, path: str) -> Node:
    raw = _obj(value, path, _NODE_FIELDS)
    dtmf: dict[str, tuple[Action, ...]] = {}
    if "dtmf" in raw:
        for key, acts in _obj(raw["dtmf"], f"{path}.dtmf", sorted(DTMF_KEYS)).items():
            dtmf[key] = _actions(acts, f"{path}.dtmf.{key}")
    branches: list[Branch] = []
    for i, b in enumerate(_list(raw.get("branches", []), f"{path}.branches")):
        bpath = f"{path}.branches[{i}]"
        braw = _obj(b, bpath, ("intent", "actions"))
        for required in ("intent", "actions"):
            if required not in braw:
                raise ScriptFormatError(f"{bpath}.{required}", "is required")
        branches.append(
            Branch(
                _id(braw["intent"], f"{bpath}.intent"),
                _actions(braw["actions"], bpath + ".actions"),
            )
        )
    off: bool | tuple[str, ...] = False
    if "disableGlobalIntents" in raw:
        given = raw["disableGlobalIntents"]
        gpath = f"{path}.disableGlobalIntents"
        if isinstance(given, bool):
            off = given
        else:
            off = tuple(_id(v, f"{gpath}[{i}]") for i, v in enumerate(_list(given, gpath)))
    lo, hi = LISTEN_MS
    return Node(
        id=node_id,
        prompt=_prompt(raw["prompt"], f"{path}.prompt") if "prompt" in raw else None,
        interruptible=_bool(raw.get("interruptible", True), f"{path}.interruptible"),
        listen_timeout_ms=_int(raw.get("listenTimeoutMs", 5000), f"{path}.listenTimeoutMs", lo, hi),
        retries=_int(raw.get("retries", 1), f"{path}.retries", 0, MAX_RETRIES),
        retry_prompt=(
            _prompt(raw["retryPrompt"], f"{path}.retryPrompt") if "retryPrompt" in raw else None
        ),
        dtmf=dtmf,
        branches=tuple(branches),
        no_match=_actions(raw["noMatch"], f"{path}.noMatch") if "noMatch" in raw else (Hangup(),),
        silence=_actions(raw["silence"], f"{path}.silence") if "silence" in raw else (Hangup(),),
        global_intents_off=off,
        grammar=_grammar(raw["grammar"], f"{path}.grammar") if "grammar" in raw else None,
        grammar_first=_bool(raw.get("grammarFirst", False), f"{path}.grammarFirst"),
    )


def _grammar(value: Any, path: str) -> gr.Grammar:
    if isinstance(value, str):
        if value not in gr.BUILT_IN:
            raise ScriptFormatError(path, _GRAMMAR_KINDS)
        return gr.Grammar(value)
    if not isinstance(value, list):
        raise ScriptFormatError(path, _GRAMMAR_KINDS)
    phrases = _strings(value, path, 100)
    if not phrases:
        raise ScriptFormatError(path, "must have at least one phrase")
    return gr.Grammar(gr.PHRASES, phrases)


_GRAMMAR_KINDS = f"must be one of {', '.join(gr.BUILT_IN)}, or an array of phrases"


_SCRIPT_FIELDS = (
    "formatVersion",
    "name",
    "description",
    "language",
    "start",
    "variables",
    "intentLevels",
    "intents",
    "globalIntents",
    "voicemail",
    "nodes",
    "optOut",
)


def parse(document: Any) -> Script:
    """The script a JSON document (already decoded) describes; `ScriptFormatError` names the
    first field that does not fit the format. Graph problems are `validate`'s."""
    raw = _obj(document, "", _SCRIPT_FIELDS)
    for required in ("formatVersion", "name", "start", "nodes"):
        if required not in raw:
            raise ScriptFormatError(required, "is required")
    version = raw["formatVersion"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ScriptFormatError("formatVersion", f"must be {FORMAT_VERSION}")
    intents: dict[str, Intent] = {}
    for name, value in _map(raw.get("intents", {}), "intents").items():
        ipath = f"intents.{name}"
        _id(name, ipath)
        iraw = _obj(value, ipath, ("keywords", "examples"))
        intents[name] = Intent(
            keywords=_strings(iraw.get("keywords", []), f"{ipath}.keywords"),
            examples=_strings(iraw.get("examples", []), f"{ipath}.examples"),
        )
    globals_raw = raw.get("globalIntents", {})
    global_intents: dict[str, tuple[Action, ...]] = {}
    for name, value in _map(globals_raw, "globalIntents").items():
        _id(name, f"globalIntents.{name}")
        global_intents[name] = _actions(value, f"globalIntents.{name}")
    nodes_raw = raw["nodes"]
    nodes: dict[str, Node] = {}
    if not isinstance(nodes_raw, Mapping) or not nodes_raw:
        raise ScriptFormatError("nodes", "must be an object with at least one node")
    if len(nodes_raw) > MAX_NODES:
        raise ScriptFormatError("nodes", f"must have at most {MAX_NODES} nodes")
    for node_id, value in nodes_raw.items():
        nodes[node_id] = _node(_id(node_id, f"nodes.{node_id}"), value, f"nodes.{node_id}")
    levels = raw.get("intentLevels")
    language = raw.get("language")
    opt_out = OptOut()
    if "optOut" in raw:
        oraw = _obj(raw["optOut"], "optOut", ("enabled", "keywords", "examples", "confirmation"))
        opt_out = OptOut(
            enabled=_bool(oraw.get("enabled", True), "optOut.enabled"),
            keywords=_strings(oraw.get("keywords", []), "optOut.keywords"),
            examples=_strings(oraw.get("examples", []), "optOut.examples"),
            confirmation=(
                _prompt(oraw["confirmation"], "optOut.confirmation")
                if "confirmation" in oraw
                else None
            ),
        )
    return Script(
        name=_str(raw["name"], "name", limit=128),
        start=_id(raw["start"], "start"),
        nodes=nodes,
        description=_str(raw.get("description", ""), "description", empty=True),
        language=None if language is None else _str(language, "language", limit=16),
        variables=_strings(raw.get("variables", []), "variables"),
        intent_levels=DEFAULT_INTENT_LEVELS
        if levels is None
        else _strings(levels, "intentLevels", 26),
        intents=intents,
        global_intents=global_intents,
        voicemail=_actions(raw["voicemail"], "voicemail") if "voicemail" in raw else (Hangup(),),
        opt_out=opt_out,
    )


# -- writing JSON --------------------------------------------------------------------------------


def _prompt_json(prompt: Prompt) -> dict[str, Any]:
    if prompt.voice_file_id is not None:
        return {"voiceFileId": prompt.voice_file_id}
    return {"text": prompt.text}


def _action_json(action: Action) -> dict[str, Any]:
    match action:
        case Goto(node):
            return {"type": "goto", "node": node}
        case Resume():
            return {"type": "resume"}
        case Transfer(group):
            return {"type": "transfer", "agentGroupId": group}
        case Hangup():
            return {"type": "hangup"}
        case Say(prompt):
            return {"type": "say"} | ({"prompt": _prompt_json(prompt)} if prompt else {})
        case SendSms(text):
            return {"type": "sms", "text": text}
        case Tag(tag):
            return {"type": "tag", "tag": tag}
        case SetIntentLevel(level):
            return {"type": "intentLevel", "level": level}


def _actions_json(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [_action_json(a) for a in actions]


def _node_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.prompt is not None:
        out["prompt"] = _prompt_json(node.prompt)
    out["interruptible"] = node.interruptible
    out["listenTimeoutMs"] = node.listen_timeout_ms
    out["retries"] = node.retries
    if node.retry_prompt is not None:
        out["retryPrompt"] = _prompt_json(node.retry_prompt)
    if node.dtmf:
        out["dtmf"] = {k: _actions_json(v) for k, v in node.dtmf.items()}
    out["branches"] = [
        {"intent": b.intent, "actions": _actions_json(b.actions)} for b in node.branches
    ]
    out["noMatch"] = _actions_json(node.no_match)
    out["silence"] = _actions_json(node.silence)
    if node.global_intents_off:
        off = node.global_intents_off
        out["disableGlobalIntents"] = list(off) if isinstance(off, tuple) else True
    if node.grammar is not None:
        g = node.grammar
        out["grammar"] = g.kind if g.kind in gr.BUILT_IN else list(g.phrases)
    out["grammarFirst"] = node.grammar_first
    return out


def to_json(script: Script) -> dict[str, Any]:
    """The script as a JSON document of this format, every default written out;
    `parse(to_json(s)) == s`."""
    out: dict[str, Any] = {
        "formatVersion": script.format_version,
        "name": script.name,
        "description": script.description,
    }
    if script.language is not None:
        out["language"] = script.language
    out |= {
        "start": script.start,
        "variables": list(script.variables),
        "intentLevels": list(script.intent_levels),
        "intents": {
            name: {"keywords": list(i.keywords), "examples": list(i.examples)}
            for name, i in script.intents.items()
        },
        "globalIntents": {k: _actions_json(v) for k, v in script.global_intents.items()},
        "voicemail": _actions_json(script.voicemail),
        "nodes": {node_id: _node_json(n) for node_id, n in script.nodes.items()},
    }
    opt_out: dict[str, Any] = {
        "enabled": script.opt_out.enabled,
        "keywords": list(script.opt_out.keywords),
        "examples": list(script.opt_out.examples),
    }
    if script.opt_out.confirmation is not None:
        opt_out["confirmation"] = _prompt_json(script.opt_out.confirmation)
    out["optOut"] = opt_out
    return out


# -- validation ----------------------------------------------------------------------------------


def _action_lists(script: Script) -> Iterator[tuple[str, str | None, tuple[Action, ...]]]:
    """Every action list as (path, node it runs on or None for script-wide, actions)."""
    for name, actions in script.global_intents.items():
        yield f"globalIntents.{name}", None, actions
    yield "voicemail", None, script.voicemail
    for node_id, node in script.nodes.items():
        yield from _node_lists(node_id, node)


def _node_lists(node_id: str, node: Node) -> Iterator[tuple[str, str | None, tuple[Action, ...]]]:
    path = f"nodes.{node_id}"
    for key, actions in node.dtmf.items():
        yield f"{path}.dtmf.{key}", node_id, actions
    for i, branch in enumerate(node.branches):
        yield f"{path}.branches[{i}].actions", node_id, branch.actions
    yield f"{path}.noMatch", node_id, node.no_match
    yield f"{path}.silence", node_id, node.silence


def _texts(script: Script) -> Iterator[tuple[str, str]]:
    """Every TTS and SMS text with its path."""
    yield from _spoken(script)
    for path, _node_id, actions in _action_lists(script):
        for i, action in enumerate(actions):
            if isinstance(action, SendSms):
                yield f"{path}[{i}].text", action.text


def _spoken(script: Script) -> Iterator[tuple[str, str]]:
    confirmation = script.opt_out.confirmation
    if confirmation is not None and confirmation.text is not None:
        yield "optOut.confirmation.text", confirmation.text
    for node_id, node in script.nodes.items():
        for label, prompt in (("prompt", node.prompt), ("retryPrompt", node.retry_prompt)):
            if prompt is not None and prompt.text is not None:
                yield f"nodes.{node_id}.{label}.text", prompt.text
    for path, _node_id, actions in _action_lists(script):
        for i, action in enumerate(actions):
            if isinstance(action, Say) and action.prompt and action.prompt.text is not None:
                yield f"{path}[{i}].prompt.text", action.prompt.text


def spoken_texts(script: Script) -> list[str]:
    """Every text the robot may say (its TTS prompts, not its SMS), each once, variables
    unfilled."""
    return list(dict.fromkeys(text for _path, text in _spoken(script)))


def _targets(actions: Sequence[Action]) -> Iterator[str]:
    for action in actions:
        if isinstance(action, Goto):
            yield action.node


def _check_structure(script: Script) -> Iterator[Problem]:
    if script.start not in script.nodes:
        yield Problem("start", f'node "{script.start}" does not exist')
    if OPT_OUT in script.intents:
        yield Problem(
            f"intents.{OPT_OUT}",
            f'"{OPT_OUT}" is the built-in opt-out; add phrases under optOut.keywords or '
            "optOut.examples",
        )
    for name in script.global_intents:
        if name not in script.intents:
            yield Problem(f"globalIntents.{name}", f'intent "{name}" is not defined in intents')
    for node_id, node in script.nodes.items():
        path = f"nodes.{node_id}"
        if node.prompt is None:
            yield Problem(f"{path}.prompt", "is missing")
        seen: dict[str, int] = {}
        for i, branch in enumerate(node.branches):
            bpath = f"{path}.branches[{i}].intent"
            if branch.intent not in script.intents:
                yield Problem(bpath, f'intent "{branch.intent}" is not defined in intents')
            if branch.intent in seen:
                yield Problem(
                    bpath,
                    f'"{branch.intent}" is already handled by branches[{seen[branch.intent]}]',
                )
            seen.setdefault(branch.intent, i)
        if isinstance(node.global_intents_off, tuple):
            for i, name in enumerate(node.global_intents_off):
                if name not in script.global_intents:
                    yield Problem(
                        f"{path}.disableGlobalIntents[{i}]", f'"{name}" is not a global intent'
                    )


def _check_actions(script: Script) -> Iterator[Problem]:
    for path, _node_id, actions in _action_lists(script):
        if not actions:
            yield Problem(path, "must not be empty; end it with goto, resume, transfer or hangup")
            continue
        for i, action in enumerate(actions):
            apath = f"{path}[{i}]"
            last = i == len(actions) - 1
            if isinstance(action, FLOW) and not last:
                kind = _action_json(action)["type"]
                yield Problem(apath, f"nothing may follow {kind}; it must be the last action")
            if isinstance(action, Goto) and action.node not in script.nodes:
                yield Problem(f"{apath}.node", f'node "{action.node}" does not exist')
            if isinstance(action, Resume) and path == "voicemail":
                yield Problem(apath, "resume needs a node that listens; not allowed in voicemail")
            if isinstance(action, Say) and action.prompt is None:
                yield Problem(f"{apath}.prompt", "is missing")
            if isinstance(action, SetIntentLevel) and action.level not in script.intent_levels:
                levels = ", ".join(script.intent_levels)
                yield Problem(f"{apath}.level", f'"{action.level}" is not one of {levels}')
        if not isinstance(actions[-1], FLOW):
            yield Problem(path, "must end with goto, resume, transfer or hangup")


def _check_texts(script: Script) -> Iterator[Problem]:
    declared = set(script.variables)
    for node_id, node in script.nodes.items():
        for label, prompt in (("prompt", node.prompt), ("retryPrompt", node.retry_prompt)):
            if prompt is not None and prompt.text is not None and not prompt.text.strip():
                yield Problem(f"nodes.{node_id}.{label}.text", "is empty")
    confirmation = script.opt_out.confirmation
    if confirmation is not None and confirmation.text is not None and not confirmation.text.strip():
        yield Problem("optOut.confirmation.text", "is empty")
    for path, text in _texts(script):
        for name in VARIABLE.findall(text):
            if name not in TEXT_VARIABLES and name not in declared:
                yield Problem(
                    path,
                    f"unknown variable ${{{name}}}; use text1..text10 or declare it in variables",
                )


def _check_graph(script: Script) -> Iterator[Problem]:
    nodes = script.nodes
    if script.start not in nodes:
        return
    # reachable: from the start node along every goto a node's own lists and its global
    # intents hold; the voicemail branch can fire on any node
    reached: set[str] = set()
    todo = [script.start, *_targets(script.voicemail)]
    while todo:
        node_id = todo.pop()
        if node_id in reached or node_id not in nodes:
            continue
        reached.add(node_id)
        node = nodes[node_id]
        for _path, _owner, actions in _node_lists(node_id, node):
            todo.extend(_targets(actions))
        for name in script.global_intents_at(node):
            todo.extend(_targets(script.global_intents[name]))
    for node_id in nodes:
        if node_id not in reached:
            yield Problem(f"nodes.{node_id}", f'is unreachable from start node "{script.start}"')
    # exits: only through the node's own keys, branches, no-match and silence, because a
    # silent callee never says the words a global intent needs
    exits: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node_id, node in nodes.items():
            if node_id in exits:
                continue
            for _path, _owner, actions in _node_lists(node_id, node):
                if any(isinstance(a, EXITS) for a in actions) or any(
                    t in exits for t in _targets(actions)
                ):
                    exits.add(node_id)
                    changed = True
                    break
    for node_id in nodes:
        if node_id in reached and node_id not in exits:
            yield Problem(
                f"nodes.{node_id}",
                "loops with no exit: no path through its keys, branches, noMatch and silence "
                "reaches a hangup or transfer",
            )


def _check_grammars(script: Script) -> Iterator[Problem]:
    english = gr.hears(script.language)
    for node_id, node in script.nodes.items():
        path = f"nodes.{node_id}"
        if not english and (node.grammar is not None or node.grammar_first):
            where = f"{path}.grammar" if node.grammar is not None else f"{path}.grammarFirst"
            yield Problem(
                where,
                f"the grammar recognizer hears English only; the script's language is "
                f'"{script.language}"',
            )
        if node.grammar is None:
            continue
        for i, phrase in enumerate(node.grammar.phrases):
            if gr.words(phrase) is None:
                yield Problem(
                    f"{path}.grammar[{i}]",
                    f'"{phrase}" is not plain words (letters and apostrophes): the grammar '
                    "recognizer cannot hear it; spell numbers out",
                )


def validate(script: Script) -> list[Problem]:
    """Every problem of the script, in a stable order (structure, actions, texts, grammars,
    graph); empty when the script can be run."""
    return [
        *_check_structure(script),
        *_check_actions(script),
        *_check_texts(script),
        *_check_grammars(script),
        *_check_graph(script),
    ]
