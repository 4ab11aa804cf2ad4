"""Fault injection for tests/faults, imported by Python at start-up when this folder is on PYTHONPATH.

While the file named by ANON_HOSTING_FAULT_SWITCH exists, what it holds picks the fault:
- "blob": os.fsync of a regular file over 4 KiB (the encrypted blob) raises ENOSPC, like a file
  system that finds out it is full only when it writes back. Folders are never failed, and neither
  is the index: SQLite calls fsync from C.
- "kill-finished-record": the process kills itself with SIGKILL as it is about to store a
  resumable upload's record marked finished (``"done"`` set to a time), so after its blob was
  stored: locally at the fsync of the record's temp file, on S3 at its PutObject (a botocore
  event handler on every client). It removes the switch first, so it fires once.
Nothing happens without the variable.
"""

import errno
import os
import re
import signal
import stat

_SWITCH = os.environ.get("ANON_HOSTING_FAULT_SWITCH")
_FINISHED_RECORD = re.compile(rb'"done":[0-9]')
_RECORD_MAX = 65536  # bytes: a record is far smaller


def _mode() -> str:
    try:
        with open(_SWITCH) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _die_before_finished_record(data: bytes) -> None:
    if _mode() == "kill-finished-record" and b'"verifier"' in data and _FINISHED_RECORD.search(data):
        os.unlink(_SWITCH)
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync(fd):
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        if _mode() == "blob" and st.st_size > 4096:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if st.st_size < _RECORD_MAX and "/.uploads/" in os.readlink(f"/proc/self/fd/{fd}"):
            with open(f"/proc/self/fd/{fd}", "rb") as f:  # the temp file is open write-only
                _die_before_finished_record(f.read())
    return _real_fsync(fd)


def _on_put_object(params, **kwargs):
    body = params.get("Body")
    if isinstance(body, bytes) and params.get("Key", "").endswith(".json"):
        _die_before_finished_record(body)


def _hook_s3_clients() -> None:
    try:
        import botocore.session
    except ImportError:
        return
    create_client = botocore.session.Session.create_client

    def hooked(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.s3.PutObject", _on_put_object)
        return client

    botocore.session.Session.create_client = hooked


if _SWITCH:
    _real_fsync = os.fsync
    os.fsync = _fsync
    _hook_s3_clients()
