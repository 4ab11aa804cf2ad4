"""Supply chain: every locked requirement carries hashes, the locks cover pyproject, the audit is honest.

``make setup`` installs with ``pip --require-hashes`` and the Dockerfile does
too, so a lock entry without a hash would break them; these tests fail first,
with the line. The audit script (scripts/audit_deps.py, run by ``make audit``)
is exercised offline: a finding fails it, a reasoned exception does not, and no
reachable source is a loud skip, never a pass.
"""

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BACKEND = Path(__file__).resolve().parents[1]
REPO = BACKEND.parent
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


@pytest.fixture
def audit(monkeypatch, tmp_path):
    module = load_audit()
    lock = tmp_path / "req.lock"
    lock.write_text("flask==3.1.0 \\\n    --hash=sha256:" + "0" * 64 + "\njwcrypto==1.6.1 \\\n    --hash=sha256:"
                    + "1" * 64 + "\n")
    monkeypatch.setattr(module, "run_pip_audit", lambda lock, exceptions: ({}, set()))  # as here: audits nothing
    return module, lock


def serve_index(monkeypatch, module, answers):
    monkeypatch.setattr(module, "latest_release_advisories", lambda name: answers.get(name, (None, None)))


def test_an_advisory_for_the_pinned_release_fails_the_audit(audit, monkeypatch, capsys):
    module, lock = audit
    serve_index(monkeypatch, module, {"flask": ("3.1.0", [{"id": "GHSA-test-0001", "aliases": ["CVE-1"]}]),
                                      "jwcrypto": ("1.6.1", [])})
    assert module.audit(lock, {}, {}) == 1
    assert "VULNERABLE: flask==3.1.0: GHSA-test-0001" in capsys.readouterr().out


def test_a_reasoned_exception_passes_and_is_printed(audit, monkeypatch, capsys):
    module, lock = audit
    serve_index(monkeypatch, module, {"flask": ("3.1.0", [{"id": "GHSA-test-0001", "aliases": ["CVE-1"]}]),
                                      "jwcrypto": ("1.6.1", [])})
    assert module.audit(lock, {"CVE-1": "only affects the debug server, which we never run"}, {}) == 0
    assert "exception: CVE-1" in capsys.readouterr().out


def test_an_exception_needs_a_reason(audit, tmp_path):
    module, _ = audit
    path = tmp_path / "exceptions.txt"
    path.write_text("# comment\nGHSA-xxxx-yyyy-zzzz\n")
    with pytest.raises(SystemExit, match="no reason"):
        module.read_exceptions(path)


def test_an_older_pin_without_a_review_fails_as_not_covered(audit, monkeypatch, capsys):
    module, lock = audit
    serve_index(monkeypatch, module, {"flask": ("3.2.0", [{"id": "GHSA-new", "aliases": []}]),
                                      "jwcrypto": ("1.6.1", [])})
    assert module.audit(lock, {}, {}) == 1
    out = capsys.readouterr().out
    assert "NOT COVERED: flask==3.1.0" in out and "1 against PyPI's advisories" in out and "FAILED" in out


def test_an_older_pin_reviewed_by_hand_at_its_version_passes(audit, monkeypatch, capsys):
    module, lock = audit
    serve_index(monkeypatch, module, {"flask": ("3.2.0", []), "jwcrypto": ("1.6.1", [])})
    assert module.audit(lock, {}, {("flask", "3.1.0"): "2026-11-27  no advisory file"}) == 0
    assert "reviewed by hand: flask==3.1.0: 2026-11-27" in capsys.readouterr().out
    assert module.audit(lock, {}, {("flask", "3.0.9"): "2026-11-27  no advisory file"}) == 1  # another version


@pytest.mark.parametrize("line", ["flask==3.1.0", "flask==3.1.0  2026-11-27", "flask  2026-11-27  fine",
                                  "flask==3.1.0  yesterday  fine"])
def test_a_review_needs_a_pin_a_date_and_a_finding(audit, tmp_path, line):
    module, _ = audit
    path = tmp_path / "reviewed.txt"
    path.write_text(f"# comment\n{line}\n")
    with pytest.raises(SystemExit, match="expected"):
        module.read_reviewed(path)


def test_no_reachable_source_is_a_loud_skip(audit, monkeypatch, capsys):
    module, lock = audit
    serve_index(monkeypatch, module, {})
    assert module.audit(lock, {}, {}) == 0
    assert capsys.readouterr().out.startswith("audit skipped: no advisory source reachable")


def test_the_exceptions_file_is_valid():
    load_audit().read_exceptions(BACKEND / "audit-exceptions.txt")


def test_every_review_on_record_is_of_a_pin_in_the_dev_lock():
    module = load_audit()
    reviewed = module.read_reviewed(BACKEND / "audit-reviewed.txt")
    assert reviewed and set(reviewed) <= module.read_pins(BACKEND / "requirements-dev.lock")
