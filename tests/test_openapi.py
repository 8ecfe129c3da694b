"""The API describes itself at /api/openapi.json, browsable at /api/docs without any CDN."""
from __future__ import annotations


def test_openapi_document_lists_the_core_operations(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/health", "/api/auth/token", "/api/audit/verify"):
        assert path in paths, path
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    verify = paths["/api/audit/verify"]["get"]
    assert verify["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(verify["responses"])
    login = paths["/api/auth/token"]["post"]
    assert {"201", "401", "422", "429"} <= set(login["responses"])


def test_docs_page_and_its_assets_are_served_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from elsewhere
    for asset in ("/api/docs/static/swagger-ui-bundle.js", "/api/docs/static/swagger-ui.css", "/api/docs/init.js"):
        assert asset in html or asset.endswith("init.js")
        assert client.get(asset).status_code == 200, asset
