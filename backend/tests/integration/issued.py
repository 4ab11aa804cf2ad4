"""``IssuedTokens``: the client side that GunicornServer and ComposeSite share.

Every token a server hands out through ``session()`` (or ``record_answer``) is kept in
``issued``, so the log audit can check at the end that none of them, nor any file key
inside them, ever reached the server's log.
"""

import requests


class IssuedTokens:
    issued: list[tuple[str, str]]  # (answer field, token) of every token handed out, oldest first

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
        if response.status_code == 201 and response.headers.get("Content-Type", "").startswith("application/json"):
            self.record_answer(response.json())
