"""Failures the service did not foresee still answer in the one error shape."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from api.errors import install_error_handlers


def app_raising(error: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_database_that_cannot_be_reached_is_a_503_to_retry() -> None:
    client = app_raising(OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused")))
    response = client.get("/boom")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["type"] == "unavailable"
    assert "connection refused" not in response.text  # server internals stay in the server's log


def test_an_unexpected_error_is_a_500_in_the_common_shape() -> None:
    response = app_raising(RuntimeError("secret detail")).get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal_error"
    assert "secret detail" not in response.text
