"""What callees say to the example payment-reminder script, each line with the node it answers
and the intent it means (None: none of that node's intents); the `spoken` ones are also the
transcription references of the audio set (`tests/data/robot/make.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from voxcast.domain import scripts as sc
from voxcast.services.scripts import example_document

#: the built-in opt-out's intent name in a script's candidates
OPT_OUT = sc.OPT_OUT
IDENTIFY, ASK_DATE, OFFER_AGENT = "identify", "ask_date", "offer_agent"


@dataclass(frozen=True)
class Labelled:
    """One callee line: said after `node`'s prompt, meaning `intent`; `spoken` lines are
    also synthesised and transcribed."""

    text: str
    node: str
    intent: str | None
    spoken: bool = False


def _s(text: str, node: str, intent: str | None) -> Labelled:
    return Labelled(text, node, intent, spoken=True)


def _t(text: str, node: str, intent: str | None) -> Labelled:
    return Labelled(text, node, intent)


UTTERANCES: tuple[Labelled, ...] = (
    # -- "Am I speaking with Jack?" --------------------------------------------------------
    _s("Yes, this is Jack.", IDENTIFY, "yes"),
    _s("Yeah, that's me.", IDENTIFY, "yes"),
    _s("Yes it is, how can I help you?", IDENTIFY, "yes"),
    _s("Jack speaking, go ahead.", IDENTIFY, "yes"),
    _t("Yes, you are.", IDENTIFY, "yes"),
    _s("Yeah, what is this about?", IDENTIFY, "yes"),
    _t("Uh, yes?", IDENTIFY, "yes"),
    _s("Yes, Jack here.", IDENTIFY, "yes"),
    _t("Yes, that would be me.", IDENTIFY, "yes"),
    _s("It is, yes.", IDENTIFY, "yes"),
    _t("Correct.", IDENTIFY, "yes"),
    _s("No, there is no Jack here.", IDENTIFY, "no"),
    _s("No, sorry, wrong number.", IDENTIFY, "no"),
    _s("No, I think you have the wrong number.", IDENTIFY, "no"),
    _t("That's not me.", IDENTIFY, "no"),
    _s("No, this is his wife.", IDENTIFY, "no"),
    _t("No, he moved out last year.", IDENTIFY, "no"),
    _s("There is nobody by that name living here.", IDENTIFY, "no"),
    _t("No.", IDENTIFY, "no"),
    _s("Sorry, could you repeat that?", IDENTIFY, "repeat"),
    _t("Pardon me?", IDENTIFY, "repeat"),
    _s("Can you say that again please?", IDENTIFY, "repeat"),
    _s("Sorry, what did you say?", IDENTIFY, "repeat"),
    _t("The line is bad, please repeat.", IDENTIFY, "repeat"),
    _t("I didn't catch that, can you repeat it?", IDENTIFY, "repeat"),
    _s("Who is this?", IDENTIFY, "who_is_this"),
    _s("Who's calling, please?", IDENTIFY, "who_is_this"),
    _s("Sorry, who are you?", IDENTIFY, "who_is_this"),
    _t("Who is calling me?", IDENTIFY, "who_is_this"),
    _s("May I ask who's calling?", IDENTIFY, "who_is_this"),
    _t("Wait, who are you with?", IDENTIFY, "who_is_this"),
    _s("I'm driving right now, call me back in an hour.", IDENTIFY, "call_later"),
    _s("I'm really busy at the moment.", IDENTIFY, "call_later"),
    _s("I'm in a meeting, call me back later.", IDENTIFY, "call_later"),
    _t("I'm busy, try again tomorrow.", IDENTIFY, "call_later"),
    _t("Now is not a good time.", IDENTIFY, "call_later"),
    _t("Can you call later?", IDENTIFY, "call_later"),
    _s("Please stop calling me.", IDENTIFY, OPT_OUT),
    _s("Take me off your list.", IDENTIFY, OPT_OUT),
    _t("Don't call this number again.", IDENTIFY, OPT_OUT),
    _t("I want you to remove my number.", IDENTIFY, OPT_OUT),
    _s("Put me on your do not call list.", IDENTIFY, OPT_OUT),
    _s("No, stop calling me, I'm not interested.", IDENTIFY, OPT_OUT),
    _t("Never call me again.", IDENTIFY, OPT_OUT),
    _t("Hello?", IDENTIFY, None),
    _s("Hold on a second.", IDENTIFY, None),
    _t("Let me turn the TV down.", IDENTIFY, None),
    _t("What's the weather like today?", IDENTIFY, None),
    _s("Hang on, the kettle is boiling.", IDENTIFY, None),
    # -- "When will you be able to pay?" ---------------------------------------------------
    _s("I will pay it on Friday.", ASK_DATE, "pay_date"),
    _s("I can pay tomorrow morning.", ASK_DATE, "pay_date"),
    _s("Probably next week.", ASK_DATE, "pay_date"),
    _t("On the fifteenth.", ASK_DATE, "pay_date"),
    _s("I get paid on Thursday, so Thursday.", ASK_DATE, "pay_date"),
    _s("Monday, I'll transfer it on Monday.", ASK_DATE, "pay_date"),
    _s("I'll send it today.", ASK_DATE, "pay_date"),
    _t("Give me until Wednesday.", ASK_DATE, "pay_date"),
    _s("I can do it the day after tomorrow.", ASK_DATE, "pay_date"),
    _s("Tuesday should be fine.", ASK_DATE, "pay_date"),
    _t("I'll pay you next Friday.", ASK_DATE, "pay_date"),
    _t("Sometime next week, I promise.", ASK_DATE, "pay_date"),
    _t("Today, later this afternoon.", ASK_DATE, "pay_date"),
    _s("I'll pay on the twentieth.", ASK_DATE, "pay_date"),
    _s("I already paid that bill.", ASK_DATE, "already_paid"),
    _s("I paid it last week.", ASK_DATE, "already_paid"),
    _s("I've already paid it online.", ASK_DATE, "already_paid"),
    _s("We paid it yesterday.", ASK_DATE, "already_paid"),
    _t("My husband paid it already.", ASK_DATE, "already_paid"),
    _t("I think I already paid that.", ASK_DATE, "already_paid"),
    _s("But I already paid this a month ago.", ASK_DATE, "already_paid"),
    _s("I can't pay right now, I lost my job.", ASK_DATE, "cannot_pay"),
    _s("I cannot pay this month.", ASK_DATE, "cannot_pay"),
    _s("I have no money left.", ASK_DATE, "cannot_pay"),
    _t("I can't pay anything until my paycheck.", ASK_DATE, "cannot_pay"),
    _t("I don't have the money right now.", ASK_DATE, "cannot_pay"),
    _s("Honestly, I can't pay it at all.", ASK_DATE, "cannot_pay"),
    _t("There's no money in my account.", ASK_DATE, "cannot_pay"),
    _t("I really can't afford it.", ASK_DATE, "cannot_pay"),
    _s("Could you repeat the amount?", ASK_DATE, "repeat"),
    _t("Sorry, what? Say that again.", ASK_DATE, "repeat"),
    _t("Pardon, how much was it?", ASK_DATE, "repeat"),
    _s("Sorry, who are you again?", ASK_DATE, "who_is_this"),
    _t("Who's calling about this?", ASK_DATE, "who_is_this"),
    _s("I'm busy, call me back tomorrow.", ASK_DATE, "call_later"),
    _s("This is not a good time to talk.", ASK_DATE, "call_later"),
    _t("Call me later, I'm at work.", ASK_DATE, "call_later"),
    _t("Stop calling me about this bill.", ASK_DATE, OPT_OUT),
    _s("Just remove me from your list.", ASK_DATE, OPT_OUT),
    _t("I want to opt out of these calls.", ASK_DATE, OPT_OUT),
    _s("I'm not sure, let me check.", ASK_DATE, None),
    _t("Hmm.", ASK_DATE, None),
    _s("I need to talk to my wife first.", ASK_DATE, None),
    _t("What bill is this for?", ASK_DATE, None),
    # -- "Would you like to talk about a payment plan with a colleague?" -----------------
    _s("Yes please, put me through.", OFFER_AGENT, "yes"),
    _s("Yeah, I'd like to talk to someone.", OFFER_AGENT, "yes"),
    _s("Yes, a payment plan would be great.", OFFER_AGENT, "yes"),
    _t("Okay, yes.", OFFER_AGENT, "yes"),
    _t("Yeah sure.", OFFER_AGENT, "yes"),
    _s("No thanks, I'll sort it out myself.", OFFER_AGENT, "no"),
    _s("No, not right now.", OFFER_AGENT, "no"),
    _t("No, I don't need that.", OFFER_AGENT, "no"),
    _t("No thank you.", OFFER_AGENT, "no"),
    _s("What? Say that again.", OFFER_AGENT, "repeat"),
    _t("Could you repeat the question?", OFFER_AGENT, "repeat"),
    _s("No, just stop calling me.", OFFER_AGENT, OPT_OUT),
    _t("Don't call me anymore.", OFFER_AGENT, OPT_OUT),
    # call_later is off on this node: being busy is no answer here
    _s("I'm busy right now.", OFFER_AGENT, None),
    _t("Let me think about it.", OFFER_AGENT, None),
)


def script() -> sc.Script:
    return sc.parse(example_document())


def candidates(script: sc.Script, node: str) -> dict[str, sc.Intent]:
    """The intents the dialogue hears on `node`, in its order."""
    return script.intents_at(script.nodes[node])


def spoken() -> list[Labelled]:
    return [u for u in UTTERANCES if u.spoken]
