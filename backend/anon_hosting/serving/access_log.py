"""gunicorn's access logger, building only the atoms our access_log_format uses and writing the line itself.

Contract: ``AccessLogger`` writes the same line as gunicorn's ``glogging.Logger`` for our format
(tests/test_gunicorn_conf.py compares the two), its path scrubbed of anything shaped like a token or
a storage name (a resumable upload's id becomes its file's storage name), or with LOG_FORMAT=json one JSON object
(anon_hosting/logs.py), to the same handlers' streams under each handler's lock (which a log
reopen takes too), without a ``LogRecord``; with syslog or a logging config it is the stock
logger. Its ``setup`` formats gunicorn's other lines as LOG_FORMAT says. It costs a third of the
stock path's instructions per line (docs/performance.md, "What is kept").

gunicorn internals it relies on (``gunicorn.glogging.Logger``, not documented API):
- ``access(self, resp, req, environ, request_time)`` and ``atoms(self, resp, req, environ, request_time)``;
- ``self.access_log`` (a ``logging.Logger``), ``self.access_log_enabled``, ``self.atoms_wrapper_class``,
  ``self.cfg.access_log_format`` and ``self.error``;
- ``resp.status`` (an int or a status line), ``resp.sent`` (the body bytes sent) and ``resp.headers``
  (a list of name and value pairs).
"""

import logging
import traceback

from gunicorn import glogging

from anon_hosting import logs

_PLAIN = (logging.StreamHandler, logging.FileHandler)


class AccessLogger(glogging.Logger):
    def setup(self, cfg):
        """gunicorn's handlers, formatting every line as LOG_FORMAT says."""
        super().setup(cfg)
        from anon_hosting import config
        from anon_hosting.errors import ConfigError
        try:
            log_format = config.log_format()
        except ConfigError:  # on_starting reports it and stops
            log_format = "text"
        logs.configure(log_format)

    def access(self, resp, req, environ, request_time):
        handlers = self.access_log.handlers
        if not self.access_log_enabled or not all(type(h) in _PLAIN and h.stream for h in handlers):
            return super().access(resp, req, environ, request_time)  # syslog or a logging config: stock path
        try:
            atoms = self.atoms(resp, req, environ, request_time)
            if logs.json_lines():
                line = logs.access_json(request_id=atoms["{x-request-id}o"], client=atoms["h"], method=atoms["m"],
                                        route=environ.get("anon_hosting.route", "-"), status=str(atoms["s"]),
                                        sent=atoms["B"], duration_ms=atoms["M"]) + "\n"
            else:
                line = self.cfg.access_log_format % self.atoms_wrapper_class(atoms) + "\n"
            for handler in handlers:
                with handler.lock:
                    handler.stream.write(line)
                    handler.stream.flush()
        except Exception:  # noqa: BLE001 - as gunicorn's own access(): a log line never fails a request
            self.error(traceback.format_exc())

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {"h": environ.get("REMOTE_ADDR", "-"), "m": environ.get("REQUEST_METHOD"),
                "U": logs.scrub(environ.get("PATH_INFO") or ""), "H": environ.get("SERVER_PROTOCOL"), "s": status,
                "B": getattr(resp, "sent", None),
                "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
                "{x-request-id}o": next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")}
