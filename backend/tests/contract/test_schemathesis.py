"""Fuzz a real gunicorn with the spec it serves (schemathesis): no 5xx and no answer the spec does not declare.

The schema is the package's openapi.yaml (test_openapi.py checks that the
server serves exactly that file; schemathesis' lazy ``from_fixture`` loader does
not work with pytest 9). Every operation goes through schemathesis' examples, coverage and fuzzing phases
(``test_operations``), and the links in the spec (upload → info, retrieve,
delete) drive stateful scenarios with real tokens (``test_stateful_scenarios``; the bundle join, which
needs finished uploads' secrets, is left to ``test_round_trip.py`` there).

Budget: about a minute in ``make test`` (deterministic, so CI is stable);
``ANON_HOSTING_LONG_FUZZ=1`` runs a much longer randomised search.

All of schemathesis' checks run, with three adjustments that follow from the
design rather than hide a bug:
- ``positive_data_acceptance`` also accepts 400, 410 and 413: a schema-valid token
  is almost never a real one, so the server answers ``400 invalid_token`` by design,
  a file used up earlier in a scenario answers ``410``, and a schema-valid
  ``Upload-Length`` may exceed the server's configured ``max_upload_bytes``.
- ``ensure_resource_availability`` is off: deleting is ``POST /api/files/delete``,
  which schemathesis cannot recognise as a delete, so a file deleted earlier in a
  scenario would look like "created but not found".
- ``negative_data_rejection`` is skipped for multipart bodies: every form field
  is text on the wire, so a passphrase "mutated into the integer -11995" is the
  valid passphrase ``"-11995"``. It is skipped for the tus routes too: tus clients
  add headers of their own (``X-Requested-With``, checksums), which a server must
  ignore, so "an unexpected header" is a valid request there.
"""

import os
from collections import Counter

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

from .spec import SPEC_PATH

LONG = os.environ.get("ANON_HOSTING_LONG_FUZZ") == "1"
MAX_EXAMPLES = 1000 if LONG else 60
STATEFUL_SCENARIOS = 500 if LONG else 30
CASES: Counter[str] = Counter()  # requests sent per operation, reported at the end of the session


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": not LONG, "database": "none"},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "410",
                                                               "413", "429"]},
            "ensure_resource_availability": {"enabled": False},
            # tus answers a missing Tus-Resumable with 412 and the version it speaks
            "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "412", "415", "422"]},
        },
        "request-timeout": 30,
    })


@pytest.fixture(scope="module")
def fuzz_session(server):
    return server.session()  # records every token the fuzzing gets, for the log audit


def _excluded(case) -> list:
    multipart = (case.media_type or "").startswith("multipart/")
    return [negative_data_rejection] if multipart or case.operation.path.startswith("/api/uploads") else []


@schemathesis.serializer("application/offset+octet-stream")
def _tus_bytes(ctx, value) -> bytes:
    """A tus PATCH body is raw bytes, as application/octet-stream's."""
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_path(SPEC_PATH, config=_config())


@schema.parametrize()
def test_operations(case, server, fuzz_session):
    CASES[case.operation.label] += 1
    case.call_and_validate(base_url=server.base_url, session=fuzz_session, excluded_checks=_excluded(case))


def test_stateful_scenarios(server, fuzz_session):
    # A join (POST /api/bundles) needs finished uploads and their secrets, which no link can hand over: it
    # answers 404 to every generated body, and as the first root operation it would take every scenario.
    # test_round_trip.py joins real uploads.
    class Scenarios(schema.exclude(path="/api/bundles").as_state_machine()):
        def get_call_kwargs(self, case):
            CASES[f"stateful {case.operation.label}"] += 1
            return {"base_url": server.base_url, "session": fuzz_session}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, additional_checks=additional_checks, excluded_checks=_excluded(case),
                                   transport_kwargs=kwargs or None, recorder=getattr(self, "recorder", None))

    Scenarios.run(settings=hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, deadline=None, derandomize=not LONG, database=None,
        stateful_step_count=6, suppress_health_check=list(hypothesis.HealthCheck)))
    assert CASES["stateful POST /api/files"] > 0, "the scenarios never uploaded a file"
    linked = [label for label in CASES if label.startswith("stateful POST /api/files/")]
    assert len(linked) == 3, f"the links did not reach info, retrieve and delete: {sorted(CASES)}"
