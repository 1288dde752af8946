"""A local fake of Whop's API (`POST /api/v1/checkout_configurations`) on 127.0.0.1.

It answers as Whop does: a bearer API key is required (401 otherwise), the body names an existing
`plan_id`, and the reply is the checkout configuration with its `purchase_url`. That URL points
back at this server (`GET /checkout/{id}`), a small page standing in for Whop's checkout, so a
browser test can follow it. `fail_next(status)` makes the next create answer that status.
Requests are recorded (path, Authorization header, JSON body) for assertions.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeWhop:
    def __init__(
        self, api_key: str = "whop_test_key", plans: tuple[str, ...] = ("plan_pro", "plan_business")
    ):
        self.api_key, self.plans = api_key, set(plans)
        self.requests: list[dict] = []
        self.checkouts: dict[str, dict] = {}
        self._fail: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._create(self)

            def do_GET(self):
                fake._page(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/v1"

    def __enter__(self) -> FakeWhop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int) -> None:
        self._fail.append(status)

    # ---- serving --------------------------------------------------------------------------
    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str = "application/json",
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _error(self, handler, status: int, message: str) -> None:
        self._send(
            handler, status, json.dumps({"error": {"type": "invalid_request", "message": message}}).encode()
        )

    def _create(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        auth = handler.headers.get("authorization", "")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        self.requests.append({"path": handler.path, "authorization": auth, "json": body})
        if handler.path != "/api/v1/checkout_configurations":
            return self._error(handler, 404, "Not found")
        if auth != f"Bearer {self.api_key}":
            return self._error(handler, 401, "Invalid API key")
        if self._fail:
            return self._error(handler, self._fail.pop(0), "Scripted failure")
        if not isinstance(body, dict) or body.get("plan_id") not in self.plans:
            return self._error(handler, 400, "plan_id must name an existing plan")
        checkout_id = f"ch_{secrets.token_hex(8)}"
        checkout = {
            "id": checkout_id,
            "company_id": "biz_fake",
            "mode": "payment",
            "currency": "usd",
            "plan": {"id": body["plan_id"], "plan_type": "renewal"},
            "affiliate_code": None,
            "metadata": body.get("metadata") or {},
            "redirect_url": body.get("redirect_url"),
            "purchase_url": f"{self.origin}/checkout/{checkout_id}",
        }
        self.checkouts[checkout_id] = checkout
        self._send(handler, 200, json.dumps(checkout).encode())

    def _page(self, handler: BaseHTTPRequestHandler) -> None:
        checkout = self.checkouts.get(handler.path.rsplit("/", 1)[-1])
        if not handler.path.startswith("/checkout/") or checkout is None:
            return self._send(handler, 404, b"not found", "text/plain")
        page = (
            f"<!doctype html><html lang=en><title>Whop checkout</title><main><h1>Whop checkout"
            f"</h1><p id=plan>{html.escape(checkout['plan']['id'])}</p></main></html>"
        )
        self._send(handler, 200, page.encode(), "text/html; charset=utf-8")
