"""Supply chain: every locked requirement carries hashes, the locks cover pyproject, the audit is honest,
and the page's vendored QR library is the npm package its lock pins.

``make setup`` installs with ``pip --require-hashes`` and the Dockerfile does
too, so a lock entry without a hash would break them; these tests fail first,
with the line. The audit script (scripts/audit_deps.py, run by ``make audit``)
is exercised offline: a finding in a runtime pin fails it; a dev-only finding,
an uncheckable pin and a reasoned exception do not; no reachable source is a
loud skip, never a pass.
"""

import hashlib
import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
LOCKS = {"requirements.lock": BACKEND / "requirements.lock", "requirements-dev.lock": BACKEND / "requirements-dev.lock"}
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)(\[[^\]]*\])?==([^\s;\\]+)(\s*;[^\\]*)?\s*\\?$")


def entries(lock: Path) -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of each requirement; a requirement's hashes follow it on continuation lines."""
    found, current = [], None
    for number, line in enumerate(lock.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            current = None
            continue
        if line[0].isspace():
            assert current is not None, f"{lock.name}:{number}: a continuation line without a requirement"
            if stripped.startswith("--hash="):
                current[2].append(stripped.removeprefix("--hash=").rstrip(" \\"))
            continue
        match = ENTRY.match(stripped)
        assert match, f"{lock.name}:{number}: not an exact pin (name==version): {stripped}"
        current = (canonicalize_name(match.group(1)), match.group(3), [])
        found.append(current)
    return found


@pytest.mark.parametrize("lock", list(LOCKS))
def test_every_locked_requirement_is_pinned_with_sha256_hashes(lock):
    pins = entries(LOCKS[lock])
    assert len(pins) > 10
    for name, version, hashes in pins:
        assert hashes, f"{lock}: {name}=={version} has no --hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{lock}: {name}: {hashes}"


def pyproject() -> dict:
    return tomllib.loads((BACKEND / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("lock,groups", [("requirements.lock", ["dependencies"]),
                                          ("requirements-dev.lock", ["dependencies", "test"])])
def test_the_locks_cover_every_pyproject_dependency(lock, groups):
    project = pyproject()
    lists = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    declared = [Requirement(r) for group in groups for r in lists[group]]
    pinned: dict[str, list[str]] = {}
    for name, version, _ in entries(LOCKS[lock]):
        pinned.setdefault(name, []).append(version)
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} does not pin {requirement.name}: run make lock"
        assert any(requirement.specifier.contains(v, prereleases=True) for v in pinned[name]), (
            f"{lock} pins {name}=={pinned[name]}, outside pyproject's {requirement.specifier}: run make lock")


def test_the_dev_lock_keeps_the_runtime_versions():
    runtime = {(name, version) for name, version, _ in entries(LOCKS["requirements.lock"])}
    dev = {(name, version) for name, version, _ in entries(LOCKS["requirements-dev.lock"])}
    assert runtime <= dev, f"versions differ between the locks: {sorted(runtime - dev)}"


# -- the audit script, offline --------------------------------------------------------------

def load_audit():
    spec = importlib.util.spec_from_file_location("anon_hosting_audit_deps", REPO / "scripts" / "audit_deps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def lock_text(pins: dict[str, str]) -> str:
    return "".join(f"{name}=={version} \\\n    --hash=sha256:{'0' * 64}\n" for name, version in pins.items())


@pytest.fixture
def audit(monkeypatch, tmp_path):
    """The module with pip-audit auditing nothing (as here), a runtime lock and a dev lock one tool larger."""
    module = load_audit()
    runtime, dev = tmp_path / "runtime.lock", tmp_path / "dev.lock"
    runtime.write_text(lock_text({"flask": "3.1.0", "jwcrypto": "1.6.1"}))
    dev.write_text(lock_text({"flask": "3.1.0", "jwcrypto": "1.6.1", "pytest": "9.0.0"}))
    monkeypatch.setattr(module, "run_pip_audit", lambda lock, exceptions: ({}, set()))
    return module, runtime, dev


def serve_index(monkeypatch, module, answers):
    monkeypatch.setattr(module, "latest_release_advisories", lambda name: answers.get(name, (None, None)))


ADVISORY = [{"id": "GHSA-test-0001", "aliases": ["CVE-1"]}]


def test_an_advisory_for_a_runtime_pin_fails_the_audit(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    serve_index(monkeypatch, module, {"flask": ("3.1.0", ADVISORY), "jwcrypto": ("1.6.1", []),
                                      "pytest": ("9.0.0", [])})
    assert module.audit(runtime, dev, {}, {}) == 1
    out = capsys.readouterr().out
    assert "flask==3.1.0  [runtime]  PyPI latest release  VULNERABLE: GHSA-test-0001" in out
    assert "audit: FAILED: known advisories in runtime pins: flask==3.1.0" in out


def test_an_advisory_for_a_dev_only_pin_is_reported_and_does_not_fail(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    serve_index(monkeypatch, module, {"flask": ("3.1.0", []), "jwcrypto": ("1.6.1", []),
                                      "pytest": ("9.0.0", ADVISORY)})
    assert module.audit(runtime, dev, {}, {}) == 0
    out = capsys.readouterr().out
    assert "pytest==9.0.0  [dev]  PyPI latest release  VULNERABLE: GHSA-test-0001" in out
    assert "reported, not failed: known advisories in 1 dev-only pin(s): pytest==9.0.0" in out


def test_a_reasoned_exception_passes_and_is_printed(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    serve_index(monkeypatch, module, {"flask": ("3.1.0", ADVISORY), "jwcrypto": ("1.6.1", []),
                                      "pytest": ("9.0.0", [])})
    assert module.audit(runtime, dev, {"CVE-1": "only affects the debug server, which we never run"}, {}) == 0
    assert "exception: CVE-1" in capsys.readouterr().out


def test_an_exception_needs_a_reason(audit, tmp_path):
    module = audit[0]
    path = tmp_path / "exceptions.txt"
    path.write_text("# comment\nGHSA-xxxx-yyyy-zzzz\n")
    with pytest.raises(SystemExit, match="no reason"):
        module.read_exceptions(path)


def test_a_pin_no_source_can_check_is_reported_and_never_fails(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    # Newer releases, even vulnerable ones, say nothing about the pinned version: not covered, not failed.
    serve_index(monkeypatch, module, {"flask": ("3.2.0", ADVISORY), "jwcrypto": ("1.7.0", []),
                                      "pytest": ("9.1.0", [])})
    assert module.audit(runtime, dev, {}, {}) == 0
    out = capsys.readouterr().out
    assert "flask==3.1.0  [runtime]  not covered: advisories are served only for the latest release, 3.2.0" in out
    assert "pytest==9.0.0  [dev]  not covered" in out
    assert "sources: 0 pip-audit, 0 PyPI latest release, 0 reviewed by hand, 3 not covered" in out
    assert "reported, not failed: 2 runtime pin(s) no source could check" in out


def test_a_review_by_hand_counts_only_at_its_exact_version(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    serve_index(monkeypatch, module, {"flask": ("3.2.0", []), "jwcrypto": ("1.6.1", []), "pytest": ("9.0.0", [])})
    assert module.audit(runtime, dev, {}, {("flask", "3.1.0"): "2026-11-27  no advisory file"}) == 0
    assert "flask==3.1.0  [runtime]  reviewed by hand 2026-11-27" in capsys.readouterr().out
    assert module.audit(runtime, dev, {}, {("flask", "3.0.9"): "2026-11-27  no advisory file"}) == 0
    assert "flask==3.1.0  [runtime]  not covered" in capsys.readouterr().out


def test_pip_audit_findings_come_first_and_follow_the_same_rule(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    monkeypatch.setattr(module, "run_pip_audit", lambda lock, exceptions: (
        {("pytest", "9.0.0"): ["PYSEC-1"]}, {("flask", "3.1.0"), ("jwcrypto", "1.6.1"), ("pytest", "9.0.0")}))
    serve_index(monkeypatch, module, {})
    assert module.audit(runtime, dev, {}, {}) == 0
    assert "pytest==9.0.0  [dev]  pip-audit  VULNERABLE: PYSEC-1" in capsys.readouterr().out
    monkeypatch.setattr(module, "run_pip_audit", lambda lock, exceptions: (
        {("jwcrypto", "1.6.1"): ["PYSEC-2"]}, {("flask", "3.1.0"), ("jwcrypto", "1.6.1"), ("pytest", "9.0.0")}))
    assert module.audit(runtime, dev, {}, {}) == 1


@pytest.mark.parametrize("line", ["flask==3.1.0", "flask==3.1.0  2026-11-27", "flask  2026-11-27  fine",
                                  "flask==3.1.0  yesterday  fine"])
def test_a_review_needs_a_pin_a_date_and_a_finding(audit, tmp_path, line):
    module = audit[0]
    path = tmp_path / "reviewed.txt"
    path.write_text(f"# comment\n{line}\n")
    with pytest.raises(SystemExit, match="expected"):
        module.read_reviewed(path)


def test_no_reachable_source_is_a_loud_skip(audit, monkeypatch, capsys):
    module, runtime, dev = audit
    serve_index(monkeypatch, module, {})
    assert module.audit(runtime, dev, {}, {}) == 0
    assert capsys.readouterr().out.startswith("audit skipped: no advisory source reachable")


def test_the_exceptions_file_is_valid():
    load_audit().read_exceptions(BACKEND / "audit-exceptions.txt")


def test_every_review_on_record_is_of_a_pin_in_the_dev_lock():
    module = load_audit()
    reviewed = module.read_reviewed(BACKEND / "audit-reviewed.txt")
    assert reviewed and set(reviewed) <= module.read_pins(BACKEND / "requirements-dev.lock")


FRONTEND = REPO / "frontend"
VENDOR = FRONTEND / "vendor"


def test_the_vendored_files_match_their_checksums():
    sums = dict(reversed(line.split(None, 1)) for line in (VENDOR / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {p.name for p in VENDOR.iterdir()} - {"SHA256SUMS"}, "every vendored file has a checksum"
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, f"vendor/{name} was changed"


@pytest.mark.parametrize(("package", "built", "vendored"), [("qrcode-generator", "dist/qrcode.mjs", "qrcode.js"),
                                                             ("tus-js-client", "dist/tus.min.js", "tus.js")])
def test_a_vendored_module_is_the_locked_npm_package(package, built, vendored):
    """npm ci (a set-up step of `make test`) installed the package and checked it against the lock's integrity."""
    locked = json.loads((FRONTEND / "package-lock.json").read_text())["packages"][f"node_modules/{package}"]
    installed = FRONTEND / "node_modules" / package
    assert installed.is_dir(), "frontend/node_modules is missing: `make test` runs `npm ci` there first"
    assert json.loads((installed / "package.json").read_text())["version"] == locked["version"]
    assert (installed / built).read_bytes() == (VENDOR / vendored).read_bytes(), (
        f"frontend/vendor/{vendored} is not the locked {package}: run `npm run vendor` in frontend/ "
        "and update vendor/SHA256SUMS")
