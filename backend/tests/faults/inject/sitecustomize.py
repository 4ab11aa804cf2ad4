"""Fault injection for tests/faults, imported by Python at start-up when this folder is on PYTHONPATH.

While the file named by ANON_HOSTING_FAULT_SWITCH exists, os.fsync of a regular
file raises ENOSPC, like a file system that finds out it is full only when it
writes back: "blob" in the switch file fails files over 4 KiB (the encrypted
blob). Folders are never failed, and neither is the index: SQLite calls fsync
from C. Nothing happens without the variable.
"""

import errno
import os
import stat

_SWITCH = os.environ.get("ANON_HOSTING_FAULT_SWITCH")

if _SWITCH:
    _real_fsync = os.fsync

    def _fsync(fd):
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            try:
                with open(_SWITCH) as f:
                    mode = f.read().strip()
            except FileNotFoundError:
                mode = ""
            if mode == "blob" and st.st_size > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _real_fsync(fd)

    os.fsync = _fsync
