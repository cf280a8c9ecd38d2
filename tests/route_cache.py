"""FastAPI builds an included route's request handler (its dependant, the pydantic adapters of
its parameters) on the first request of each app; the suite makes an app per test, and this
rebuilt the same handlers thousands of times: most of a contract test's CPU. Loaded as a pytest
plugin, this keeps one build per route and inclusion for the whole test process.

A built route depends only on the module-level route and how it was included; the one input
that belongs to the app, its dependency overrides, is looked up at request time through the
app that first built it: an app with overrides of its own is never served from the cache."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import routing

_EffectiveRouteContext: Any = routing._EffectiveRouteContext
_build = _EffectiveRouteContext.from_api_route.__func__
_built: dict[tuple[int, str], Any] = {}
#: the routes the cache holds stay alive with it, so their ids in its keys are never reused
_kept: list[Any] = []


def _from_api_route(cls: Any, *, original_route: Any, include_context: Any) -> Any:
    provider = include_context.dependency_overrides_provider
    if getattr(provider, "dependency_overrides", None):
        return _build(cls, original_route=original_route, include_context=include_context)
    # every field of the inclusion but the app it was included in
    key = (
        id(original_route),
        repr(dataclasses.replace(include_context, dependency_overrides_provider=None)),
    )
    context = _built.get(key)
    if context is None:
        context = _build(cls, original_route=original_route, include_context=include_context)
        _built[key] = context
        _kept.append(original_route)
    return context


_EffectiveRouteContext.from_api_route = classmethod(_from_api_route)
