"""Request dependencies: the store, the dispatcher, the settings, the caller's project, list paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from orchestrator.errors import InvalidRequest, Unauthenticated
from orchestrator.services.dispatch import Dispatcher
from orchestrator.settings import Settings
from orchestrator.store import RedisStore

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by setting the "
    "header 'OpenAI-Beta: assistants=v2'."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> RedisStore:
    store: RedisStore = request.app.state.store
    return store


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def _project(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    project = request.app.state.api_keys.get(key.strip())
    if project is None:
        raise Unauthenticated("Incorrect API key provided.")
    return str(project)


def _beta(request: Request, project: Annotated[str, Depends(_project)]) -> str:
    if "assistants=v2" not in request.headers.get("openai-beta", ""):
        raise InvalidRequest(BETA_MESSAGE, code="invalid_beta")
    return project


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[RedisStore, Depends(_store)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
ProjectDep = Annotated[str, Depends(_beta)]


@dataclass(frozen=True)
class Paging:
    limit: int
    order: Literal["asc", "desc"]
    after: str | None
    before: str | None


def _paging(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> Paging:
    return Paging(limit=limit, order=order, after=after, before=before)


PagingDep = Annotated[Paging, Depends(_paging)]
