"""`chalice local`, with a listen backlog fit for parallel clients and no Nagle delay, serving
the web console too.

The stdlib HTTPServer accepts 5 pending connections; a browser or a burst of API calls opens
more, and the rest are reset. Any other HTTP method (TRACE, QUERY, ...) goes through the app too
(a 405 in our error envelope, as behind API Gateway) instead of the stdlib's 501. Same CLI as
`chalice local`.

One origin, as CloudFront gives in AWS: `/v1/*` goes to the app; any other GET or HEAD is the
built console (`web/dist`): a file when one exists there, else `index.html`, so the SPA's own
routes (/jobs/abc) load on a reload. Without a build, every path goes to the app as before.
The console's files carry its Content-Security-Policy and security headers
(chalicelib.http.security_headers), as CloudFront's response headers policy gives them in AWS.
"""

import mimetypes
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chalice import local
from chalice.cli import main

CONSOLE = Path(__file__).resolve().parent.parent / "web" / "dist"
local.ThreadedHTTPServer.request_queue_size = 128
# Headers and body leave in two writes: with Nagle's algorithm the body waited for the client's
# delayed ACK (~40 ms on Linux) on every response of a kept-alive connection, events included.
local.ChaliceRequestHandler.disable_nagle_algorithm = True


def _any_method(handler, name):
    if name.startswith("do_"):  # the stdlib looks up do_<METHOD> and answers 501 when missing
        return handler._generic_handle
    raise AttributeError(name)


def console_file(path: str) -> Path | None:
    """The console's file for a non-API path (index.html for the SPA's routes), or None."""
    clean = unquote(urlsplit(path).path)
    if clean == "/v1" or clean.startswith("/v1/") or not (CONSOLE / "index.html").is_file():
        return None
    root = CONSOLE.resolve()
    wanted = (root / clean.lstrip("/")).resolve()
    if wanted.is_file() and wanted.is_relative_to(root):
        return wanted
    return root / "index.html"


def _console_or_api(self: local.ChaliceRequestHandler) -> None:
    found = console_file(self.path)
    if found is None:
        return self._generic_handle()
    # imported here: chalice puts the project on sys.path when it loads the app
    from chalicelib.core.settings import get_settings
    from chalicelib.http import security_headers

    body = found.read_bytes()
    hashed = found.parent.name == "assets"  # Vite fingerprints these: cache them for good
    self.send_response(200)
    self.send_header("Content-Type", mimetypes.guess_type(found.name)[0] or "application/octet-stream")
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "public, max-age=31536000, immutable" if hashed else "no-cache")
    self.send_header("Content-Security-Policy", security_headers.console_csp(get_settings().aws_endpoint_url))
    for name, value in security_headers.CONSOLE_HEADERS.items():
        self.send_header(name, value)
    self.end_headers()
    if self.command != "HEAD":
        self.wfile.write(body)


_STREAM_TOKEN = re.compile(r"(stream_token=)[^&\s]+")
_log_message = local.ChaliceRequestHandler.log_message


def _log_without_tokens(handler, fmt, *args) -> None:
    """The access log, with an EventSource's stream token left out of the request line."""
    _log_message(
        handler, fmt, *(_STREAM_TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in args)
    )


local.ChaliceRequestHandler.__getattr__ = _any_method
local.ChaliceRequestHandler.log_message = _log_without_tokens
local.ChaliceRequestHandler.do_GET = local.ChaliceRequestHandler.do_HEAD = _console_or_api

if __name__ == "__main__":
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    sys.exit(main())
