"""Reading the API's answers in the tests and benchmarks."""

from __future__ import annotations


def error_code(response) -> str | None:
    """The ``error.code`` of a JSON error answer (a ``requests.Response``), or None for any other answer."""
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
