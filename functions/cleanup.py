"""Scheduled every hour: delete what retention says may go (see chalicelib/cleanup.py).

Locally: `python -m functions.cleanup`.
"""
from chalicelib import cleanup


def handler(event, context):
    return cleanup.run()


if __name__ == "__main__":
    print(handler({}, None))
