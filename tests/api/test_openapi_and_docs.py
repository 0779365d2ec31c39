"""Each function publishes a valid OpenAPI document and a Swagger UI that needs no network."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import validate

from tasktracker.routes import load_routes
from tests.support.api import Api
from tests.support.programs import ON_REQUEST
from tests.support.stack import ROOT, selected_routes

FUNCTIONS = [route.name for route in selected_routes()]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_openapi_document_is_valid(api: Api, function: str) -> None:
    response = api.get(f"/api/v1/{function}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["paths"], "a function documents at least one path"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_swagger_ui_loads_every_asset_from_the_function_itself(api: Api, function: str) -> None:
    page = api.get(f"/api/v1/{function}/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith(f"/api/v1/{function}/docs/assets/"), asset
        loaded = api.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 1000, asset


def test_the_spas_typed_client_is_generated_from_the_current_api(api: Api) -> None:
    """frontend/openapi.json (and the types generated from it, checked by `npm run check:api`) must be the
    merged document the API serves now; `make openapi` regenerates both."""
    if {route.name for route in selected_routes()} != {route.name for route in load_routes()}:
        pytest.skip(f"{ON_REQUEST} TEST_FUNCTIONS runs some functions, and the merged document needs them all")
    served = api.get("/api/v1/openapi.json").json()
    committed = json.loads((ROOT / "frontend" / "openapi.json").read_text())
    assert served == committed, "the API changed: run `make up` and then `make openapi`, and commit the result"
