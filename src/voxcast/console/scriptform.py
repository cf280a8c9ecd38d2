"""The AI script page's form editor: a script document shown as a form per node (and per
intent), and the posted form turned back into the document `services.scripts` validates.
Action lists are one action a line (`goto ask_date`, `say Hello`, `hangup`; docs/console.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from voxcast.domain import grammars

#: the request field the console's scripts come in: the API's refusals name paths under it
PREFIX = "script."
#: blank rows offered for a new key, branch, intent or global intent
BLANK_ROWS = 1
#: an upper bound on the rows a form may post (the API refuses larger scripts anyway)
MAX_ROWS = 1000
#: actions written as `word argument`: the word, the action's type and its one field
_ARGUMENT = {"goto": "node", "transfer": "agentGroupId", "sms": "text", "tag": "tag"}
_ARGUMENT_TYPES = {**_ARGUMENT, "intentLevel": "level"}
_BARE = ("resume", "hangup")
#: where a refusal's path names a node: `script.nodes.<id>` then `.` or `[` or the end
_NODE_PATH = re.compile(r"^script\.nodes\.([A-Za-z0-9_.-]+?)(?:[.\[:]|$)")
_INTENT_PATH = re.compile(r"^script\.intents\.([A-Za-z0-9_.-]+?)(?:[.\[:]|$)")


# -- actions as lines ------------------------------------------------------------------------


class Unread(str):
    """A line that looked like an action's JSON but is none, kept as typed."""


def action_line(action: Any) -> str:
    """One action as the form writes it; anything the short form cannot say is its JSON."""
    if isinstance(action, Unread):
        return str(action)
    if isinstance(action, Mapping):
        kind = action.get("type")
        keys = set(action)
        if kind in _BARE and keys == {"type"}:
            return str(kind)
        if kind in _ARGUMENT_TYPES and keys == {"type", _ARGUMENT_TYPES[kind]}:
            return f"{kind} {action[_ARGUMENT_TYPES[kind]]}"
        if kind == "say" and keys == {"type"}:
            return "say"
        prompt = action.get("prompt")
        if kind == "say" and keys == {"type", "prompt"} and isinstance(prompt, Mapping):
            if set(prompt) == {"text"}:
                return f"say {prompt['text']}"
            if set(prompt) == {"voiceFileId"}:
                return f"sayFile {prompt['voiceFileId']}"
    return json.dumps(action, ensure_ascii=False)


def actions_text(actions: Any) -> str:
    if not isinstance(actions, list):
        return "" if actions is None else json.dumps(actions, ensure_ascii=False)
    return "\n".join(action_line(a) for a in actions)


def parse_action(line: str) -> Any:
    """A line back to the action; its mistakes are left for the API's checks to name (an
    unknown word is an action of that type, a missing argument a missing field)."""
    if line.startswith("{"):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            # the API refuses it at its place ("must be an object"); the form shows it as typed
            return Unread(line)
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if word in _BARE or word not in (*_ARGUMENT_TYPES, "say", "sayFile"):
        # an argument nothing takes stays in the action, so the API names it (unknown field)
        return {"type": word, "argument": rest} if rest else {"type": word}
    if word == "say":
        return {"type": "say", "prompt": {"text": rest}} if rest else {"type": "say"}
    if word == "sayFile":
        return {"type": "say", "prompt": {"voiceFileId": rest}}
    name = _ARGUMENT_TYPES[word]
    if not rest:
        return {"type": word}
    value: Any = int(rest) if word == "transfer" and rest.isdigit() else rest
    return {"type": word, name: value}


def parse_actions(text: str) -> list[Any]:
    return [parse_action(line.strip()) for line in text.splitlines() if line.strip()]


# -- the document as the form shows it -------------------------------------------------------


@dataclass
class NodeView:
    """One node's form fields, as text (a value the document holds in a wrong type is shown
    as it is, for the API to refuse)."""

    id: str
    prompt: str = ""
    prompt_file: str = ""
    retry_prompt: str = ""
    retry_prompt_file: str = ""
    interruptible: bool = True
    listen_timeout_ms: str = ""
    retries: str = ""
    grammar_kind: str = ""
    grammar_phrases: str = ""
    grammar_first: bool = False
    globals_off: bool = False
    globals_skipped: str = ""
    keys: list[tuple[str, str]] = field(default_factory=list)
    branches: list[tuple[str, str]] = field(default_factory=list)
    no_match: str = ""
    silence: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class IntentView:
    name: str
    keywords: str = ""
    examples: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class FormView:
    """The whole form: the script's own fields, its intents and its nodes (plus one blank of
    each for adding), and refusals not about any one node or intent."""

    name: str
    description: str
    language: str
    start: str
    variables: str
    intent_levels: str
    voicemail: str
    global_intents: list[tuple[str, str]]
    intents: list[IntentView]
    nodes: list[NodeView]
    problems: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _lines(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return _text(value)


def _commas(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return _text(value)


def _prompt(value: Any) -> tuple[str, str]:
    if isinstance(value, Mapping):
        return _text(value.get("text")), _text(value.get("voiceFileId"))
    return _text(value), ""


def _node_view(node_id: str, raw: Any) -> NodeView:
    raw = raw if isinstance(raw, Mapping) else {}
    view = NodeView(node_id)
    view.prompt, view.prompt_file = _prompt(raw.get("prompt"))
    view.retry_prompt, view.retry_prompt_file = _prompt(raw.get("retryPrompt"))
    view.interruptible = raw.get("interruptible", True) is not False
    view.listen_timeout_ms = _text(raw.get("listenTimeoutMs"))
    view.retries = _text(raw.get("retries"))
    grammar = raw.get("grammar")
    if isinstance(grammar, list):
        view.grammar_kind, view.grammar_phrases = "phrases", _lines(grammar)
    elif grammar is not None:
        view.grammar_kind = _text(grammar)
    view.grammar_first = raw.get("grammarFirst") is True
    off = raw.get("disableGlobalIntents")
    view.globals_off = off is True
    view.globals_skipped = _commas(off) if isinstance(off, list) else ""
    dtmf = raw.get("dtmf")
    if isinstance(dtmf, Mapping):
        view.keys = [(str(k), actions_text(v)) for k, v in dtmf.items()]
    branches = raw.get("branches")
    for b in branches if isinstance(branches, list) else []:
        b = b if isinstance(b, Mapping) else {}
        view.branches.append((_text(b.get("intent")), actions_text(b.get("actions"))))
    view.keys += [("", "")] * BLANK_ROWS
    view.branches += [("", "")] * BLANK_ROWS
    view.no_match = actions_text(raw.get("noMatch", [{"type": "hangup"}]))
    view.silence = actions_text(raw.get("silence", [{"type": "hangup"}]))
    return view


def form_view(document: Any, refusal: str = "") -> FormView:
    """The form for `document` (a stored script or one refused), the refusal's findings
    placed beside the node or intent they name."""
    doc = document if isinstance(document, Mapping) else {}
    nodes = doc.get("nodes")
    nodes = nodes if isinstance(nodes, Mapping) else {}
    intents = doc.get("intents")
    intents = intents if isinstance(intents, Mapping) else {}
    globals_ = doc.get("globalIntents")
    globals_ = globals_ if isinstance(globals_, Mapping) else {}
    intent_views = [
        IntentView(
            str(name),
            _lines(raw.get("keywords")) if isinstance(raw, Mapping) else "",
            _lines(raw.get("examples")) if isinstance(raw, Mapping) else "",
        )
        for name, raw in intents.items()
    ]
    view = FormView(
        name=_text(doc.get("name")),
        description=_text(doc.get("description")),
        language=_text(doc.get("language")),
        start=_text(doc.get("start")),
        variables=_commas(doc.get("variables", [])),
        intent_levels=_commas(doc.get("intentLevels", [])),
        voicemail=actions_text(doc.get("voicemail", [{"type": "hangup"}])),
        global_intents=[(str(k), actions_text(v)) for k, v in globals_.items()]
        + [("", "")] * BLANK_ROWS,
        intents=intent_views + [IntentView("") for _ in range(BLANK_ROWS)],
        nodes=[_node_view(str(k), v) for k, v in nodes.items()]
        + [NodeView("", no_match="hangup", silence="hangup")],
    )
    _place(view, refusal)
    return view


def _findings(refusal: str) -> Iterator[str]:
    """A refusal's findings, one each (the API joins them with "; " after its code's words,
    such as "Parameter exception: ")."""
    start = refusal.find(PREFIX)
    for part in re.split(r"; (?=script\.)", refusal[start:] if start > 0 else refusal):
        yield re.sub(r" \(and \d+ more\)$", "", part.strip())


def _place(view: FormView, refusal: str) -> None:
    nodes = {n.id: n for n in view.nodes if n.id}
    intents = {i.name: i for i in view.intents if i.name}
    for finding in _findings(refusal) if refusal else ():
        node = _NODE_PATH.match(finding)
        intent = _INTENT_PATH.match(finding)
        if node and node.group(1) in nodes:
            nodes[node.group(1)].problems.append(finding)
        elif intent and intent.group(1) in intents:
            intents[intent.group(1)].problems.append(finding)
        else:
            view.problems.append(finding)


# -- the posted form as the document ---------------------------------------------------------


def _rows(fields: Mapping[str, str], prefix: str, sentinel: str) -> Iterator[str]:
    """`prefix0.`, `prefix1.`, ... as long as the form has such a row (its `sentinel` field,
    which every row of the kind carries)."""
    for i in range(MAX_ROWS):
        row = f"{prefix}{i}."
        if row + sentinel not in fields:
            return
        yield row


def _split(text: str, sep: str | None = None) -> list[str]:
    parts = text.split(sep) if sep else text.splitlines()
    return [p.strip() for p in parts if p.strip()]


def _number(text: str) -> Any:
    """A number field: an integer when it is one, else the text for the API to refuse."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else text


def _prompt_of(text: str, file_id: str) -> dict[str, str] | None:
    prompt: dict[str, str] = {}
    if text.strip():
        prompt["text"] = text.strip()
    if file_id.strip():
        prompt["voiceFileId"] = file_id.strip()
    return prompt or None


def _node_of(f: Mapping[str, str], row: str) -> dict[str, Any]:
    node: dict[str, Any] = {}
    prompt = _prompt_of(f.get(row + "prompt", ""), f.get(row + "promptFile", ""))
    if prompt:
        node["prompt"] = prompt
    node["interruptible"] = f.get(row + "interruptible") == "on"
    for name in ("listenTimeoutMs", "retries"):
        if f.get(row + name, "").strip():
            node[name] = _number(f[row + name])
    retry = _prompt_of(f.get(row + "retryPrompt", ""), f.get(row + "retryPromptFile", ""))
    if retry:
        node["retryPrompt"] = retry
    dtmf: dict[str, Any] = {}
    for key_row in _rows(f, row + "k", "key"):
        key = f.get(key_row + "key", "").strip()
        if key:
            dtmf[key] = parse_actions(f.get(key_row + "actions", ""))
    if dtmf:
        node["dtmf"] = dtmf
    branches = []
    for branch_row in _rows(f, row + "b", "intent"):
        intent = f.get(branch_row + "intent", "").strip()
        if intent:
            actions = parse_actions(f.get(branch_row + "actions", ""))
            branches.append({"intent": intent, "actions": actions})
    if branches:
        node["branches"] = branches
    node["noMatch"] = parse_actions(f.get(row + "noMatch", ""))
    node["silence"] = parse_actions(f.get(row + "silence", ""))
    if f.get(row + "globalsOff") == "on":
        node["disableGlobalIntents"] = True
    elif _split(f.get(row + "globalsSkipped", ""), ","):
        node["disableGlobalIntents"] = _split(f[row + "globalsSkipped"], ",")
    kind = f.get(row + "grammar", "")
    if kind == "phrases":
        node["grammar"] = _split(f.get(row + "grammarPhrases", ""))
    elif kind:
        node["grammar"] = kind
    if f.get(row + "grammarFirst") == "on":
        node["grammarFirst"] = True
    return node


def document_of(fields: Mapping[str, str], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The document the posted form describes; what the form has no field for (the opt-out
    settings, the format version) is the stored script's."""
    doc: dict[str, Any] = {k: v for k, v in stored.items() if k in ("formatVersion", "optOut")}
    doc["name"] = fields.get("name", "").strip()
    description = fields.get("description", "").strip()
    if description:
        doc["description"] = description
    language = fields.get("language", "").strip()
    if language:
        doc["language"] = language
    doc["start"] = fields.get("start", "").strip()
    doc["variables"] = _split(fields.get("variables", ""), ",")
    levels = _split(fields.get("intentLevels", ""), ",")
    if levels:
        doc["intentLevels"] = levels
    intents: dict[str, Any] = {}
    for row in _rows(fields, "i", "name"):
        name = fields.get(row + "name", "").strip()
        if name:
            intents[name] = {
                "keywords": _split(fields.get(row + "keywords", "")),
                "examples": _split(fields.get(row + "examples", "")),
            }
    doc["intents"] = intents
    global_intents: dict[str, Any] = {}
    for row in _rows(fields, "g", "intent"):
        name = fields.get(row + "intent", "").strip()
        if name:
            global_intents[name] = parse_actions(fields.get(row + "actions", ""))
    doc["globalIntents"] = global_intents
    doc["voicemail"] = parse_actions(fields.get("voicemail", ""))
    nodes: dict[str, Any] = {}
    for row in _rows(fields, "n", "id"):
        node_id = fields.get(row + "id", "").strip()
        if node_id and fields.get(row + "remove") != "on":
            nodes[node_id] = _node_of(fields, row)
    doc["nodes"] = nodes
    return doc


def grammar_kinds() -> tuple[str, ...]:
    """The grammar select's choices besides none: the built-in grammars and phrases."""
    return (*grammars.BUILT_IN, "phrases")
