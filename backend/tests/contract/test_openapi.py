"""docs/openapi.yaml against the app: the same routes, the same error codes, served as written.

The spec is package data (anon_hosting/openapi.yaml, so the Docker image, whose
build context is backend/, has it) and docs/openapi.yaml is a symlink to it.
These tests use the app built by the factory; test_round_trip.py checks real
answers from gunicorn and test_schemathesis.py fuzzes gunicorn with the spec.
"""

import re
import tomllib

import pytest
from openapi_spec_validator import validate

from anon_hosting import errors
from anon_hosting.http import ratelimit

from . import spec as contract

BACKEND = contract.REPO_ROOT / "backend"
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}  # added by Flask to every rule; not part of the contract


@pytest.fixture(scope="module")
def spec():
    return contract.load()


def _app_errors() -> list[type[errors.AppError]]:
    found, todo = [errors.AppError], [errors.AppError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def test_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate(spec)


def test_docs_spec_is_a_link_to_the_package_spec():
    assert contract.DOCS_SPEC.is_symlink(), "docs/openapi.yaml should link to backend/anon_hosting/openapi.yaml"
    assert contract.DOCS_SPEC.resolve() == contract.SPEC_PATH.resolve()


def test_spec_ships_with_the_package_and_the_image():
    pyproject = tomllib.loads((BACKEND / "pyproject.toml").read_text())
    assert "openapi.yaml" in pyproject["tool"]["setuptools"]["package-data"]["anon_hosting"]
    dockerfile = (BACKEND / "Dockerfile").read_text()
    assert re.search(r"^COPY anon_hosting ", dockerfile, re.M), "the image copies the whole package folder"
    ignored = (BACKEND / ".dockerignore").read_text().splitlines()
    assert "!anon_hosting/" in ignored and not any("openapi" in line or "yaml" in line for line in ignored)


def test_the_app_serves_the_spec_as_yaml(client):
    response = client.get("/api/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == contract.SPEC_PATH.read_bytes()
    assert response.headers["Cache-Control"] == "no-store"


def test_every_api_route_is_in_the_spec_and_every_operation_is_a_route(app, spec):
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/metrics"
              for method in rule.methods - IMPLICIT_METHODS}
    # tus makes HEAD and OPTIONS part of the contract; Flask adds them to other rules as well
    documented = {(path, method) for path, method in contract.operations(spec) if method not in IMPLICIT_METHODS}
    assert routes - documented == set(), "routes missing from the spec"
    assert documented - routes == set(), "operations in the spec that the app does not have"


def test_every_error_code_the_app_can_raise_is_in_the_enum_and_nothing_else(client, spec):
    raised = {cls.code for cls in _app_errors()}
    werkzeug = {client.get("/api/no-such-thing").json["error"]["code"],
                client.delete("/api/health").json["error"]["code"]}
    assert werkzeug == {"not_found", "method_not_allowed"}
    assert contract.error_codes(spec) == raised | werkzeug


def test_the_error_code_list_gives_each_code_its_status(spec):
    description = spec["components"]["schemas"]["ErrorCode"]["description"]
    statuses = {(cls.code, cls.status) for cls in _app_errors()} | {("method_not_allowed", 405), ("not_found", 404)}
    for code, status in statuses:
        assert f"`{code}` ({status})" in description, f"ErrorCode's description lacks `{code}` ({status})"


def test_each_domain_error_is_declared_with_its_status_and_named_where_declared(spec):
    """Every AppError's status is a declared response of some operation whose description names its code."""
    checker = contract.Contract(spec)
    declared = [(str(status), checker.resolve(answer)["description"]) for item in spec["paths"].values()
                for method, operation in item.items() if method in contract.HTTP_METHODS
                for status, answer in operation["responses"].items()]
    for cls in _app_errors():
        assert any(status == str(cls.status) and f"`{cls.code}`" in text for status, text in declared), (
            f"no operation declares {cls.status} with `{cls.code}` in its description ({cls.__name__})")


def test_every_operation_declares_the_errors_every_route_can_answer(spec):
    """A token in the query string (400) and an unexpected failure (500) can happen on every route."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in contract.HTTP_METHODS:
                assert {"400", "500"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_rate_limited_routes_declare_429(app, spec):
    limited = ratelimit.TOKEN_ENDPOINTS | ratelimit.UPLOAD_ENDPOINTS
    for rule in app.url_map.iter_rules():
        if rule.endpoint in limited:
            for method in rule.methods - IMPLICIT_METHODS:
                assert "429" in spec["paths"][rule.rule][method.lower()]["responses"], f"{method} {rule.rule}"


def test_405_answers_name_the_allowed_methods(client):
    response = client.get("/api/files")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    assert response.json["error"]["code"] == "method_not_allowed"
    assert response.mimetype == "application/json"
