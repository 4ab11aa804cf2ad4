"""Run the CLI on a pseudo-terminal, as a person would: answer its prompts, read its screen.

``Terminal(args, cwd, env)`` starts the process in a new session whose
controlling terminal is a fresh pty (stdin and stderr on it, so getpass and the
progress bar see a terminal); stdout stays a pipe for the results.
``expect(text)`` waits until ``text`` appears on the screen (after the last match), ``send(line)``
types a line, ``finish()`` returns (exit code, stdout, screen).
"""

import fcntl
import os
import select
import subprocess
import termios
import time


class Terminal:
    def __init__(self, args: list[str], cwd, env: dict[str, str]):
        self._master, slave = os.openpty()

        def _take_terminal():  # runs in the child: a new session whose controlling terminal is the pty
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                                        preexec_fn=_take_terminal, close_fds=True)
        os.close(slave)
        self.screen, self._seen = "", 0

    def expect(self, text: str, timeout: float = 60) -> None:
        """Wait for ``text`` after the previous match (type only once a prompt is up: getpass flushes input)."""
        deadline = time.monotonic() + timeout
        while (found := self.screen.find(text, self._seen)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen}")
        self._seen = found + len(text)

    def send(self, line: str) -> None:
        os.write(self._master, (line + "\n").encode())

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Wait for the exit, reading the screen meanwhile so a chatty child never blocks on a full pty."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the CLI did not finish; the screen shows:\n{self.screen}")
            self._read(0.1)
        while self._read(0.1):
            pass
        os.close(self._master)
        return self.process.returncode, self.process.stdout.read().decode(), self.screen

    def _read(self, timeout: float) -> bool:
        if not select.select([self._master], [], [], timeout)[0]:
            return False
        try:
            data = os.read(self._master, 65536)
        except OSError:  # the child closed its side
            return False
        self.screen += data.decode(errors="replace")
        return bool(data)
