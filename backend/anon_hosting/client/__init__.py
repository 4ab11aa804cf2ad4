"""The ``anon-hosting`` command-line client.

Contract: the client speaks the public HTTP API (docs/openapi.yaml) and nothing
else. It imports only the standard library, tqdm and its own modules, never the
server side of this package, so it runs against any Anon Hosting server and
starts without Flask or the crypto. ``api`` holds the HTTP calls, ``inputs``
where tokens, passphrases and durations come from, ``files`` how a download is
written, ``output`` what is printed, and ``cli`` the commands and their exit
codes.
"""
