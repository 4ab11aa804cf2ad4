"""The OpenAPI document as the tests read it: loading, $ref resolution and answer validation.

``load()`` reads the package's openapi.yaml. ``Contract(spec).check(response, path, method)``
asserts that a real ``requests`` answer is one the document declares for that
operation: a documented status, a declared content type, a body that validates
against the declared schema (JSON Schema 2020-12 with formats), required headers
present and valid, and for an error, a ``code`` that the response's description
names. ``error_codes(spec)`` is the ErrorCode enum.
"""

from pathlib import Path

import requests
import yaml
from jsonschema import Draft202012Validator

import anon_hosting

SPEC_PATH = Path(anon_hosting.__file__).parent / "openapi.yaml"
REPO_ROOT = Path(__file__).resolve().parents[3]
DOCS_SPEC = REPO_ROOT / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def load() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def error_codes(spec: dict) -> set[str]:
    return set(spec["components"]["schemas"]["ErrorCode"]["enum"])


def operations(spec: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


class Contract:
    def __init__(self, spec: dict):
        self.spec = spec
        self.seen: set[tuple[str, str, int, str | None]] = set()  # (method, path, status, error code)

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            target = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validate(self, instance: object, schema: dict) -> None:
        root = {**schema, "components": self.spec["components"]}  # so "#/components/..." resolves
        Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)

    def check(self, response: requests.Response, path: str, method: str) -> None:
        operation = self.spec["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path} answered {status}, which the spec does not declare"
        declared = self.resolve(operation["responses"][status])
        self._check_headers(response, declared)
        content = declared.get("content")
        if not content:
            assert not response.content, f"{method} {path} {status} has a body the spec does not declare"
            self.seen.add((method.upper(), path, response.status_code, None))
            return
        mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
        assert mimetype in content, f"{method} {path} {status} answered {mimetype}, spec says {sorted(content)}"
        schema = content[mimetype].get("schema", {})
        body = {"application/json": response.json, "application/yaml": lambda: yaml.safe_load(response.text),
                "application/octet-stream": lambda: None}[mimetype]()  # binary: nothing to validate but headers
        if body is not None:
            self.validate(body, schema)
        code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
        if code is not None:
            assert f"`{code}`" in declared["description"], (
                f"{method} {path} {status} answered {code!r}, which its response description does not name")
        self.seen.add((method.upper(), path, response.status_code, code))

    def _check_headers(self, response: requests.Response, declared: dict) -> None:
        for name, header in declared.get("headers", {}).items():
            header = self.resolve(header)
            if name not in response.headers:
                assert not header.get("required"), f"required header {name} is missing"
                continue
            value: object = response.headers[name]
            if header.get("schema", {}).get("type") == "integer" and str(value).isdigit():
                value = int(value)
            self.validate(value, header.get("schema", {}))
