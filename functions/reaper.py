"""Scheduled every minute: re-enqueue jobs the queue lost, fail jobs past their deadline.

Locally: `python -m functions.reaper` (and the local scheduler runs it every minute).
"""

from chalicelib.core import observability
from chalicelib.runtime import reaper


def handler(event, context):
    observability.setup()
    return reaper.reconcile()


if __name__ == "__main__":
    print(handler({}, None))
