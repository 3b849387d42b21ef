"""/v1/models: the models runs may name (services/models.py says which). No OpenAI-Beta header, as at OpenAI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from orchestrator.api.deps import OpenProjectDep, StoreDep
from orchestrator.errors import NotFound
from orchestrator.services.models import ModelCatalog

router = APIRouter(prefix="/v1/models", tags=["models"])


async def _catalog(request: Request) -> ModelCatalog:
    catalog: ModelCatalog = request.app.state.models
    return catalog


CatalogDep = Annotated[ModelCatalog, Depends(_catalog)]


@router.get("")
def list_models(store: StoreDep, project: OpenProjectDep, catalog: CatalogDep) -> dict[str, Any]:
    return {"object": "list", "data": [m.wire() for m in catalog.models(store, project)]}


@router.get("/{model_id:path}")
def get_model(model_id: str, store: StoreDep, project: OpenProjectDep, catalog: CatalogDep) -> dict[str, Any]:
    for model in catalog.models(store, project):
        if model.id == model_id:
            return model.wire()
    raise NotFound(f"The model '{model_id}' does not exist or you do not have access to it.")
