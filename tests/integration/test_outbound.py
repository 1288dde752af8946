"""Outbound calls (providers, webhook deliveries): one total deadline, a capped body, and the
connection goes to the address that was checked (SSRF)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import outbound, url_guard
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.webhooks import repository as webhooks_db
from tests.fakes.hostile_server import HostileServer

MB = 1024 * 1024


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.setattr(get_settings(), "stage", "prod")


# ---- total deadline and size cap ---------------------------------------------------------------
def test_a_server_trickling_bytes_forever_is_cut_at_the_total_deadline():
    with HostileServer("trickle") as server, pytest.raises(outbound.OutboundError) as caught:
        outbound.request("POST", server.url, json={}, deadline_s=1.0, max_bytes=MB)
    assert caught.value.kind == "timeout"
    assert server.bytes_sent > 0  # it was sending all along: per-read timeouts never fired


def test_an_endless_body_is_abandoned_past_the_cap():
    with HostileServer("endless") as server, pytest.raises(outbound.OutboundError) as caught:
        outbound.request("POST", server.url, json={}, deadline_s=60, max_bytes=MB)
    assert caught.value.kind == "too_large"


def test_a_declared_length_over_the_cap_is_refused_before_reading(tmp_path):
    class Big(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.send_header("Content-Length", str(10 * MB))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(outbound.OutboundError) as caught:
            outbound.request(
                "POST", f"http://127.0.0.1:{server.server_address[1]}/", deadline_s=30, max_bytes=MB
            )
        assert caught.value.kind == "too_large"
    finally:
        server.shutdown()
        server.server_close()


def test_a_trickling_provider_fails_the_call_instead_of_holding_the_worker(monkeypatch):
    monkeypatch.setattr(get_settings(), "provider_timeout_s", 1.0)
    with HostileServer("trickle") as server, pytest.raises(ProviderError) as caught:
        OpenAIClient("sk-test-1234", server.url, max_retries=0).post("chat/completions", {})
    assert caught.value.code == "provider_unavailable" and caught.value.transient


def test_an_endless_provider_answer_is_bad_output_not_memory(monkeypatch):
    monkeypatch.setattr(get_settings(), "provider_max_response_bytes", MB)
    with HostileServer("endless") as server, pytest.raises(ProviderError) as caught:
        OpenAIClient("sk-test-1234", server.url, max_retries=0).post("images/generations", {})
    assert caught.value.code == "provider_bad_output"


def _delivery(api, user, url: str):
    from chalicelib.webhooks import service as webhooks

    endpoint = api.call("POST", "/v1/webhook-endpoints", {"url": url}, token=user["token"]).json
    job = SimpleNamespace(
        data={
            "endpoint_id": endpoint["id"],
            "message_id": "msg_test",
            "payload": {"type": "job.succeeded", "data": {}},
        }
    )
    return endpoint["id"], lambda: asyncio.run(webhooks.deliver(job, "token"))


def test_a_webhook_receiver_with_an_endless_body_is_delivered_without_reading_it(api, user):
    with HostileServer("endless") as server:
        endpoint_id, deliver = _delivery(api, user, server.url + "/hook")
        assert deliver() == "delivered (200)"
    assert webhooks_db.sealed(endpoint_id) is not None


def test_a_trickling_webhook_receiver_is_cut_at_the_deadline_and_retried(api, user, monkeypatch):
    from chalicelib.webhooks import service as webhooks

    monkeypatch.setattr(get_settings(), "webhook_timeout_s", 1.0)

    class Trickle(BaseHTTPRequestHandler):  # headers never finish: a byte of one every 50 ms
        def do_POST(self):
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            try:
                while not stop.is_set():
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    stop.wait(0.05)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    stop = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, deliver = _delivery(api, user, f"http://127.0.0.1:{server.server_address[1]}/hook")
        with pytest.raises(webhooks.DeliveryFailed):
            deliver()
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


# ---- SSRF: which addresses, and connecting to the checked one ---------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "198.18.0.1",
        "::1",
        "fc00::1",
        "fe80::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:a00:1::1",
        "::",
    ],
)
def test_every_non_global_address_is_refused_when_deployed(address):
    assert not url_guard.allowed(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address):
    assert url_guard.allowed(ipaddress.ip_address(address), allow_loopback=False)


def test_the_local_stage_allows_loopback_only():
    assert url_guard.checked_address("127.0.0.1") == "127.0.0.1"
    for address in ("10.0.0.5", "100.64.0.1", "169.254.169.254"):
        with pytest.raises(url_guard.UnsafeDestination):
            url_guard.checked_address(address)


def test_a_failed_lookup_refuses_the_call(deployed, monkeypatch):
    def no_answer(host):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(url_guard, "_resolve", no_answer)
    with pytest.raises(url_guard.UnsafeDestination):
        url_guard.checked_address("hooks.example.com")
    with pytest.raises(outbound.OutboundError) as caught:
        outbound.request("POST", "https://hooks.example.com/x", deadline_s=5, max_bytes=MB)
    assert caught.value.kind == "blocked"


def test_a_name_resolving_to_any_internal_address_is_refused(deployed, monkeypatch):
    monkeypatch.setattr(url_guard, "_resolve", lambda host: ["93.184.216.34", "100.64.12.1"])
    with pytest.raises(url_guard.UnsafeDestination):
        url_guard.checked_address("rebinding.example.com")


def test_the_call_connects_to_the_checked_address_and_keeps_the_host_name(monkeypatch):
    lookups: list[str] = []

    def resolve(host):  # the name exists only here: httpx resolving it itself would fail
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(url_guard, "_resolve", resolve)
    with HostileServer("endless") as server:
        url = f"http://hooks.example.test:{server.port}/hook"
        with pytest.raises(outbound.OutboundError):
            outbound.request("POST", url, json={}, deadline_s=30, max_bytes=1024)
    assert lookups == ["hooks.example.test"]  # resolved once, by the check
    assert server.hosts == [f"hooks.example.test:{server.port}"]


def _certificate(tmp_path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_to_the_pinned_address_sends_the_name_and_verifies_it(tmp_path, monkeypatch):
    name = "hooks.example.test"
    cert_path, key_path = _certificate(tmp_path, name)
    seen: list[str | None] = []

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers["host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    server_ctx.sni_callback = lambda sock, server_name, ctx: seen.append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(url_guard, "_resolve", lambda host: ["127.0.0.1"])
    client_ctx = ssl.create_default_context(cafile=str(cert_path))
    port = server.server_address[1]
    try:
        reply = outbound.request(
            "POST", f"https://{name}:{port}/hook", deadline_s=30, max_bytes=1024, verify=client_ctx
        )
        assert reply.status == 204 and seen == [name, f"{name}:{port}"]  # SNI, then Host
        monkeypatch.setattr(url_guard, "_resolve", lambda host: ["127.0.0.1"])
        with pytest.raises(outbound.OutboundError):  # a certificate for another name fails
            outbound.request(
                "POST",
                f"https://other.example.test:{port}/hook",
                deadline_s=30,
                max_bytes=1024,
                verify=client_ctx,
            )
    finally:
        server.shutdown()
        server.server_close()
