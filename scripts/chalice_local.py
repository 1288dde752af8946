"""`chalice local`, with a listen backlog fit for parallel clients.

The stdlib HTTPServer accepts 5 pending connections; a browser or a burst of API calls opens
more, and the rest are reset. Any other HTTP method (TRACE, QUERY, ...) goes through the app too
(a 405 in our error envelope, as behind API Gateway) instead of the stdlib's 501. Same CLI as
`chalice local`.
"""
import sys

from chalice import local
from chalice.cli import main

local.ThreadedHTTPServer.request_queue_size = 128


def _any_method(handler, name):
    if name.startswith("do_"):  # the stdlib looks up do_<METHOD> and answers 501 when missing
        return handler._generic_handle
    raise AttributeError(name)


local.ChaliceRequestHandler.__getattr__ = _any_method

if __name__ == "__main__":
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    sys.exit(main())
