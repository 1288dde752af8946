"""Scheduled every minute (and callable after a submission): start the workers the queue needs.

Locally: `python -m functions.dispatcher` (and the local scheduler runs it every minute).
"""

from chalicelib.core import observability
from chalicelib.runtime import dispatcher


def handler(event, context):
    observability.setup()
    return dispatcher.dispatch()


if __name__ == "__main__":
    print(handler({}, None))
