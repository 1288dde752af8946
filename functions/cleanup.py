"""Scheduled every hour: delete what retention says may go (see chalicelib/runtime/cleanup.py).

Locally: `python -m functions.cleanup` (and the local scheduler runs it hourly).
"""

from chalicelib.core import observability
from chalicelib.runtime import cleanup


def handler(event, context):
    observability.setup()
    return cleanup.run()


if __name__ == "__main__":
    print(handler({}, None))
