"""Connections to MySQL use TLS when DATABASE_TLS says so (Aurora, where the cluster requires it),
the server verified against the RDS CA bundle shipped in the package and its name against the
host. Locally MariaDB serves no TLS, so the setting is off there and nothing changes."""

from __future__ import annotations

import ssl

import pymysql
import pytest
from cryptography import x509

from chalicelib.core.settings import Settings, get_settings
from chalicelib.infra import db


@pytest.fixture
def captured(monkeypatch):
    """The keyword arguments db.connect hands to pymysql.connect (nothing is dialled)."""
    calls: list[dict] = []
    monkeypatch.setattr(pymysql, "connect", lambda **kwargs: calls.append(kwargs))
    return calls


def test_tls_is_off_unless_asked_for(captured):
    assert Settings(stage="local").database_tls is False
    db.connect()
    assert not {k for k in captured[0] if k.startswith("ssl")}


def test_with_tls_the_server_is_verified_against_the_shipped_rds_bundle(captured, monkeypatch):
    monkeypatch.setattr(get_settings(), "database_tls", True)
    db.connect(database=False)
    sent = captured[0]
    assert sent["ssl_ca"] == str(db.RDS_CA_BUNDLE) and db.RDS_CA_BUNDLE.is_file()
    assert sent["ssl_verify_cert"] is True and sent["ssl_verify_identity"] is True
    # what pymysql makes of them: a context that requires a certificate from those CAs, for that name
    conn = pymysql.connections.Connection(
        host="db.cluster-x.us-east-1.rds.amazonaws.com", defer_connect=True, **db.tls_params()
    )
    assert conn.ctx.verify_mode == ssl.CERT_REQUIRED and conn.ctx.check_hostname
    assert len(conn.ctx.get_ca_certs()) == len(x509.load_pem_x509_certificates(db.RDS_CA_BUNDLE.read_bytes()))


def test_a_ca_bundle_path_from_the_settings_wins(captured, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "database_tls", True)
    monkeypatch.setattr(get_settings(), "database_ca_bundle", str(tmp_path / "ca.pem"))
    db.connect()
    assert captured[0]["ssl_ca"] == str(tmp_path / "ca.pem")


def test_the_bundle_holds_the_rds_roots_of_every_generation():
    certs = x509.load_pem_x509_certificates(db.RDS_CA_BUNDLE.read_bytes())
    names = {c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in certs}
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        for kind in ("RSA2048", "RSA4096", "ECC384"):  # rds-ca-rsa2048-g1 and its siblings
            assert f"Amazon RDS {region} Root CA {kind} G1" in names
    assert all(
        c.issuer.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value
        == "Amazon Web Services, Inc."
        for c in certs
    )
