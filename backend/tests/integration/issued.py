"""``IssuedTokens``: the client side that GunicornServer and ComposeSite share.

Every token a server hands out through ``session()`` (or ``record_answer``) is kept in
``issued``, and every passphrase sent through a session in ``passphrases``, so the log audit
can check at the end that none of them, nor any file key inside them, ever reached the log.
"""

import contextlib
import json
from urllib.parse import unquote

import requests


class IssuedTokens:
    issued: list[tuple[str, str]]  # (answer field, token) of every token handed out, oldest first
    passphrases: set[str]  # every passphrase sent through a session

    @property
    def tokens(self) -> list[str]:
        """The download tokens issued so far, oldest first."""
        return [value for field, value in self.issued if field == "token"]

    def session(self) -> requests.Session:
        """A requests session that records every token the server issues to it."""
        session = requests.Session()
        session.hooks["response"].append(self._record_response)
        return session

    def record_answer(self, answer: object) -> None:
        """Keep every ``*token`` field of an upload's JSON answer (the download token, the owner token)."""
        if isinstance(answer, dict):
            self.issued.extend((field, value) for field, value in answer.items()
                               if field.endswith("token") and isinstance(value, str))

    def _record_response(self, response: requests.Response, *args, **kwargs) -> None:
        self._record_passphrase(response.request)
        if response.status_code == 201 and response.headers.get("Content-Type", "").startswith("application/json"):
            self.record_answer(response.json())

    def _record_passphrase(self, request: requests.PreparedRequest) -> None:
        """The passphrase of a request: its X-Passphrase header (percent-encoded) or its JSON body's field."""
        if request.headers.get("X-Passphrase"):
            self.passphrases.add(unquote(request.headers["X-Passphrase"]))
        if request.headers.get("Content-Type") == "application/json" and request.body:
            with contextlib.suppress(ValueError, TypeError):
                body = json.loads(request.body)
                if isinstance(body, dict) and isinstance(body.get("passphrase"), str) and body["passphrase"]:
                    self.passphrases.add(body["passphrase"])
