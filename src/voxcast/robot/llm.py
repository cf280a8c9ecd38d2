"""The optional LLM step of intent recognition: any OpenAI-compatible `/v1/chat/completions`
server, asked for JSON-schema output, with a hard deadline; any failure means "no match"."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from voxcast.config import Settings
from voxcast.domain.scripts import Intent
from voxcast.robot.intent import How, Match

__all__ = ["NONE", "LlmIntentClassifier", "classifier_from_settings"]

log = logging.getLogger(__name__)

#: the answer that says none of the intents fits
NONE = "none"
_SYSTEM = (
    "You classify what a person said on a phone call into one of the intents listed below. "
    "Answer with JSON only, as the schema says. Use the intent's name; if none fits, "
    f'answer "{NONE}".\n\nIntents:\n'
)


def _endpoint(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def _describe(candidates: Mapping[str, Intent]) -> str:
    lines = []
    for name, intent in candidates.items():
        said = "; ".join(f'"{p}"' for p in (*intent.examples, *intent.keywords)[:8])
        lines.append(f"- {name}: for example {said}" if said else f"- {name}")
    return "\n".join(lines)


class LlmIntentClassifier:
    """Asks a chat-completions endpoint which intent an utterance is; never raises for the
    server's sake: a timeout, an HTTP error or an answer outside the schema is None."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        timeout_seconds: float = 1.0,
        api_key: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = _endpoint(url)
        self.model = model
        self.timeout_seconds = timeout_seconds
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self._own_client = client is None

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    def request_body(self, utterance: str, candidates: Mapping[str, Intent]) -> dict[str, Any]:
        """The chat-completions request for one utterance (public for the tests and docs)."""
        schema = {
            "type": "object",
            "properties": {"intent": {"type": "string", "enum": [*candidates, NONE]}},
            "required": ["intent"],
            "additionalProperties": False,
        }
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": _SYSTEM + _describe(candidates)},
                {"role": "user", "content": utterance},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "intent", "strict": True, "schema": schema},
            },
            "temperature": 0,
            "max_tokens": 32,
        }

    async def classify(self, utterance: str, candidates: Mapping[str, Intent]) -> Match | None:
        """The intent the model picks among `candidates`, or None (also on any failure)."""
        if not candidates or not utterance.strip():
            return None
        body = self.request_body(utterance, candidates)
        try:
            # httpx's timeout bounds each read, not the whole exchange: a server trickling
            # bytes would hold the turn for ever, so the deadline is on the whole request
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.post(self.endpoint, json=body, headers=self._headers)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
            intent = json.loads(content)["intent"]
        except TimeoutError:
            log.warning("intent LLM at %s: no answer in %ss", self.endpoint, self.timeout_seconds)
            return None
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("intent LLM at %s: unusable answer (%s)", self.endpoint, exc)
            return None
        if not isinstance(intent, str) or intent not in candidates:
            return None
        return Match(intent, How.LLM, 100.0, utterance)


def classifier_from_settings(
    settings: Settings, client: httpx.AsyncClient | None = None
) -> LlmIntentClassifier | None:
    """The configured classifier, or None when `VOXCAST_LLM_URL` is unset (the default)."""
    if not settings.llm_url:
        return None
    return LlmIntentClassifier(
        settings.llm_url,
        settings.llm_model,
        timeout_seconds=settings.llm_timeout_seconds,
        api_key=settings.llm_api_key,
        client=client,
    )
