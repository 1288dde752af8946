"""The local API server (scripts/chalice_local.py) as the benchmarks and the console use it."""

from __future__ import annotations

from chalice import local

import scripts.chalice_local  # noqa: F401  (it configures chalice's local server on import)


def test_responses_leave_without_waiting_for_the_clients_ack():
    # Headers and body are two writes: under Nagle's algorithm the body waited for a delayed
    # ACK (~40 ms) on every kept-alive response, every progress event's included.
    assert local.ChaliceRequestHandler.disable_nagle_algorithm is True
    assert local.ThreadedHTTPServer.request_queue_size >= 128
