"""`chalice local`, with a listen backlog fit for parallel clients.

The stdlib HTTPServer accepts 5 pending connections; a browser or a burst of API calls opens
more, and the rest are reset. Same CLI as `chalice local` (arguments are passed through).
"""
import sys

from chalice import local
from chalice.cli import main

local.ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    sys.exit(main())
