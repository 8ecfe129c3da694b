def test_health_names_engine_module_and_revision(client, engine):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["database"] == engine
    assert body["schema_revision"] == "0001"
    assert body["spatial_version"]
    if engine == "spatialite":
        assert body["sqlite_module"] in ("pysqlite3.dbapi2", "sqlite3")
    else:
        assert body["sqlite_module"] is None
