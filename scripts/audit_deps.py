"""Known-vulnerability audit of a hash-locked requirements file, honest about what it could check.

    python scripts/audit_deps.py backend/requirements-dev.lock [--exceptions backend/audit-exceptions.txt]
                                 [--reviewed backend/audit-reviewed.txt]

Contract: exit 1 when a pinned version has a known advisory that is not in the
exceptions file (one ``ID  reason`` per line; an ID without a reason is an
error); exit 0 otherwise, printing exactly how much was checked. Two sources,
in order:

1. ``pip-audit -r LOCK --require-hashes --disable-pip -f json`` (PyPI's
   per-release JSON API, ``/pypi/NAME/VERSION/json``). Where that endpoint is
   not served, pip-audit skips every package and still prints "No known
   vulnerabilities found"; this script counts those as *not audited*.
2. For each package pip-audit could not audit: PyPI's per-project JSON
   (``/pypi/NAME/json``), whose ``vulnerabilities`` list is the advisories of
   the *latest* release only. It is used when the pin is that latest release;
   otherwise the package is reported as not audited.

A pin neither source could check must be listed, at exactly its version, in
the reviewed file (``name==version  date  what was checked and found``: a review
by hand); one that is not fails the audit too, so every pin is covered and a
version bump needs a new review. When neither source answers at all, it prints
"audit skipped: no advisory source reachable" and exits 0: a skip, never a
pass. Standard library only
(besides calling pip-audit, found next to the running interpreter).
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


def audit(lock: Path, exceptions: dict[str, str], reviewed: dict[tuple[str, str], str]) -> int:
    pins = read_pins(lock)
    findings, by_pip_audit = run_pip_audit(lock, exceptions)
    rest = sorted(set(pins) - by_pip_audit)
    with ThreadPoolExecutor(8) as pool:
        answers = dict(zip(rest, pool.map(latest_release_advisories, [name for name, _ in rest]), strict=True))
    reachable = bool(by_pip_audit) or any(latest is not None for latest, _ in answers.values())
    if not reachable:
        print("audit skipped: no advisory source reachable (neither PyPI's JSON API nor pip-audit answered)")
        return 0
    by_latest, not_audited = set(), {}
    for pin, (latest, advisories) in answers.items():
        if latest is None:
            not_audited[pin] = "no answer from PyPI"
        elif latest != pin[1]:
            not_audited[pin] = f"advisories are only served for the latest release ({latest})"
        else:
            by_latest.add(pin)
            ids = [a["id"] for a in advisories if a["id"] not in exceptions
                   and not set(a.get("aliases", [])) & set(exceptions)]
            if ids:
                findings[pin] = ids
    by_hand = {pin: reviewed[pin] for pin in not_audited if pin in reviewed}
    uncovered = {pin: why for pin, why in not_audited.items() if pin not in reviewed}
    print(f"audit of {lock}: {len(pins)} pins; {len(by_pip_audit)} audited by pip-audit, "
          f"{len(by_latest)} against PyPI's advisories for the latest release, {len(by_hand)} reviewed by hand, "
          f"{len(uncovered)} not covered")
    if not by_pip_audit:
        print("  pip-audit audited nothing: PyPI's per-release JSON API is not served here "
              "(pip-audit itself would still print 'No known vulnerabilities found')")
    for (name, version), review in sorted(by_hand.items()):
        print(f"  reviewed by hand: {name}=={version}: {review[:10]}")
    for (name, version), why in sorted(uncovered.items()):
        print(f"  NOT COVERED: {name}=={version}: {why}, and no review of this version in the reviewed file")
    for vuln_id, reason in sorted(exceptions.items()):
        print(f"  exception: {vuln_id}: {reason}")
    for (name, version), ids in sorted(findings.items()):
        print(f"  VULNERABLE: {name}=={version}: {', '.join(ids)}")
    failed = bool(findings or uncovered)
    print("audit: FAILED" if failed else "audit: no known vulnerability; every pin checked or reviewed by hand")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--exceptions", type=Path, default=Path("backend/audit-exceptions.txt"))
    parser.add_argument("--reviewed", type=Path, default=Path("backend/audit-reviewed.txt"))
    args = parser.parse_args(argv)
    return audit(args.lock, read_exceptions(args.exceptions), read_reviewed(args.reviewed))


if __name__ == "__main__":
    sys.exit(main())
