"""Known-vulnerability audit of the hash-locked requirements, honest about what it could check.

    python scripts/audit_deps.py --runtime backend/requirements.lock --dev backend/requirements-dev.lock
                                 [--exceptions backend/audit-exceptions.txt] [--reviewed backend/audit-reviewed.txt]

Contract: it prints one line per pin with the pin's role (runtime: in the
runtime lock, which the server image and the client install; dev: test, lint
and bench tools only) and the source that checked it, then a summary. It exits
1 only when a known advisory affects a pinned version of a runtime dependency
and is not in the exceptions file (one ``ID  reason`` per line; an ID without a
reason is an error). A finding on a dev-only pin, and a pin no source could
check, are reported and never fail: the verdict of a change must not turn on
what a registry publishes next week, but a vulnerable server dependency must.

Sources, in order:

1. ``pip-audit -r LOCK --require-hashes --disable-pip -f json`` (PyPI's
   per-release JSON API, ``/pypi/NAME/VERSION/json``). Where that endpoint is
   not served, pip-audit skips every package and still prints "No known
   vulnerabilities found"; this script counts those as not checked.
2. PyPI's per-project JSON (``/pypi/NAME/json``), whose ``vulnerabilities``
   list is the advisories of the *latest* release only: used when the pin is
   that latest release.
3. ``backend/audit-reviewed.txt``: a review by hand of exactly that version
   (``name==version  date  what was checked and found``).

Anything else is "not covered". When neither service answers at all, it prints
"audit skipped: no advisory source reachable" and exits 0: a skip, never a
pass. Standard library only (besides calling pip-audit, found next to the
running interpreter).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\\]+)", re.MULTILINE)
INDEX = "https://pypi.org/pypi"
TIMEOUT = 30

PIP_AUDIT, LATEST, BY_HAND, NOT_COVERED = "pip-audit", "PyPI latest release", "reviewed by hand", "not covered"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> set[tuple[str, str]]:
    """Every (name, version) pinned; a universal lock may pin one name twice under different markers."""
    return {(canonical(name), version) for name, version in PIN.findall(lock.read_text())}


def _entries(path: Path):
    """(line number, first word, the rest) of each line that is not blank or a ``#`` comment; none without a file."""
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            first, _, rest = line.partition(" ")
            yield number, first, rest.strip()


def read_exceptions(path: Path) -> dict[str, str]:
    exceptions = {}
    for number, vuln_id, reason in _entries(path):
        if not reason:
            raise SystemExit(f"{path}:{number}: {vuln_id} has no reason; every exception needs one")
        exceptions[vuln_id] = reason
    return exceptions


def read_reviewed(path: Path) -> dict[tuple[str, str], str]:
    """{(name, version): "date  findings"} of the pins reviewed by hand; each needs a date and a finding."""
    reviewed = {}
    for number, pin, rest in _entries(path):
        name, _, version = pin.partition("==")
        date, _, finding = rest.partition(" ")
        if not (name and version and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) and finding.strip()):
            raise SystemExit(f"{path}:{number}: expected 'name==version  YYYY-MM-DD  what was checked and found'")
        reviewed[(canonical(name), version)] = f"{date}  {finding.strip()}"
    return reviewed


def run_pip_audit(lock: Path, exceptions: dict[str, str]) -> tuple[dict[tuple, list[str]], set[tuple]]:
    """Findings {(name, version): [ids]} and the pins pip-audit really audited; ({}, set()) if it cannot run."""
    pip_audit = Path(sys.executable).parent / "pip-audit"
    if not pip_audit.exists():
        return {}, set()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "audit.json"
        command = [str(pip_audit), "-r", str(lock), "--require-hashes", "--disable-pip", "-f", "json", "-o", str(out),
                   "--progress-spinner", "off"]
        for vuln_id in exceptions:
            command += ["--ignore-vuln", vuln_id]
        try:
            subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603 - fixed tool
            report = json.loads(out.read_text())
        except (OSError, ValueError, subprocess.SubprocessError):
            return {}, set()
    findings, audited = {}, set()
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            continue
        pin = (canonical(dep["name"]), dep.get("version", ""))
        audited.add(pin)
        ids = [v["id"] for v in dep.get("vulns", []) if v["id"] not in exceptions]
        if ids:
            findings[pin] = ids
    return findings, audited


def latest_release_advisories(name: str) -> tuple[str | None, list[dict] | None]:
    """(latest version, its advisories) from the per-project JSON, or (None, None) when unreachable."""
    try:
        with urllib.request.urlopen(f"{INDEX}/{name}/json", timeout=TIMEOUT) as response:  # noqa: S310 - fixed https URL
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None, None
    return data.get("info", {}).get("version"), data.get("vulnerabilities") or []


def audit(runtime_lock: Path, dev_lock: Path, exceptions: dict[str, str],
          reviewed: dict[tuple[str, str], str]) -> int:
    runtime = read_pins(runtime_lock)
    pins = runtime | read_pins(dev_lock)
    findings, by_pip_audit = run_pip_audit(dev_lock, exceptions)
    rest = sorted(pins - by_pip_audit)
    with ThreadPoolExecutor(8) as pool:
        answers = dict(zip(rest, pool.map(latest_release_advisories, [name for name, _ in rest]), strict=True))
    if not by_pip_audit and all(latest is None for latest, _ in answers.values()):
        print("audit skipped: no advisory source reachable (neither PyPI's JSON API nor pip-audit answered)")
        return 0
    source = dict.fromkeys(by_pip_audit, PIP_AUDIT)
    for pin, (latest, advisories) in answers.items():
        if latest == pin[1]:
            source[pin] = LATEST
            ids = [a["id"] for a in advisories if a["id"] not in exceptions
                   and not set(a.get("aliases", [])) & set(exceptions)]
            if ids:
                findings[pin] = ids
        elif pin in reviewed:
            source[pin] = f"{BY_HAND} {reviewed[pin][:10]}"
        else:
            source[pin] = (f"{NOT_COVERED}: no answer from PyPI" if latest is None
                           else f"{NOT_COVERED}: advisories are served only for the latest release, {latest}")
    print(f"audit of {runtime_lock} (runtime) and {dev_lock} (dev-only beyond it): {len(pins)} pins")
    for pin in sorted(pins):
        role = "runtime" if pin in runtime else "dev"
        flag = f"  VULNERABLE: {', '.join(findings[pin])}" if pin in findings else ""
        print(f"  {pin[0]}=={pin[1]}  [{role}]  {source[pin]}{flag}")
    for vuln_id, reason in sorted(exceptions.items()):
        print(f"  exception: {vuln_id}: {reason}")
    kinds = (PIP_AUDIT, LATEST, BY_HAND, NOT_COVERED)
    counts = {kind: sum(s.startswith(kind) for s in source.values()) for kind in kinds}
    print("sources: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    blocking = sorted(pin for pin in findings if pin in runtime)
    reported = sorted(pin for pin in findings if pin not in runtime)
    uncovered_runtime = sum(pin in runtime and source[pin].startswith(NOT_COVERED) for pin in pins)
    if reported:
        print(f"reported, not failed: known advisories in {len(reported)} dev-only pin(s): "
              + ", ".join(f"{n}=={v}" for n, v in reported))
    if uncovered_runtime:
        print(f"reported, not failed: {uncovered_runtime} runtime pin(s) no source could check")
    if blocking:
        print("audit: FAILED: known advisories in runtime pins: " + ", ".join(f"{n}=={v}" for n, v in blocking))
        return 1
    print("audit: passed: no known advisory affects a runtime pin that a source could check")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=Path, default=Path("backend/requirements.lock"))
    parser.add_argument("--dev", type=Path, default=Path("backend/requirements-dev.lock"))
    parser.add_argument("--exceptions", type=Path, default=Path("backend/audit-exceptions.txt"))
    parser.add_argument("--reviewed", type=Path, default=Path("backend/audit-reviewed.txt"))
    args = parser.parse_args(argv)
    return audit(args.runtime, args.dev, read_exceptions(args.exceptions), read_reviewed(args.reviewed))


if __name__ == "__main__":
    sys.exit(main())
