"""Helpers for the alert tests: a local webhook receiver, an SMTP server with STARTTLS,
users and accounts inserted straight into the tables."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers the first ``fail_first`` requests of each
    ``webhook-id`` with 500 (or every one with the ``redirect_to`` 302), then 200, and
    keeps every request."""

    fail_first: int = 0
    redirect_to: str | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, message_id: str | None) -> int:
        if self.redirect_to is not None:
            return 302
        with self.lock:
            seen = sum(1 for r in self.requests if r.headers.get("webhook-id") == message_id)
            return 500 if seen < self.fail_first else 200

    def successes(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answered == 200]


@contextmanager
def webhook_receiver(
    fail_first: int = 0,
    redirect_to: str | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; with ``tls`` (certificate, key) it speaks HTTPS."""
    receiver = Receiver(fail_first=fail_first, redirect_to=redirect_to)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            status = receiver.answer(self.headers.get("webhook-id"))
            with receiver.lock:
                receiver.requests.append(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                    )
                )
            self.send_response(status)
            if receiver.redirect_to is not None:
                self.send_header("Location", receiver.redirect_to)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def make_user(url_or_conn: str | psycopg.Connection[Any], *, email_alerts: bool = False) -> UUID:
    email = f"trader-{uuid4().hex[:10]}@example.com"
    query = "INSERT INTO users (email, email_alerts) VALUES (%s, %s) RETURNING id"
    if isinstance(url_or_conn, str):
        with psycopg.connect(url_or_conn) as conn:
            row = conn.execute(query, (email, email_alerts)).fetchone()
    else:
        row = url_or_conn.execute(query, (email, email_alerts)).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def user_email(conn: psycopg.Connection[Any], user_id: UUID) -> str:
    row = conn.execute("SELECT email FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row[0])


def make_account(conn: psycopg.Connection[Any], owner_id: UUID | None) -> str:
    account_id = f"ACC-{uuid4().hex[:12]}"
    conn.execute(
        "INSERT INTO accounts (account_id, owner_id, ruleset, initial_balance, currency) "
        "VALUES (%s, %s, 'ftmo-2step', 100000, 'USD')",
        (account_id, owner_id),
    )
    return account_id


def breach_event(account_id: str, level: int = 3, breach_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "breach",
        "breach_id": breach_id or f"br-{uuid4().hex}",
        "account_id": account_id,
        "rule": "max_daily_loss",
        "level": level,
        "ts": "2026-03-02T10:12:03Z",
        "value": 5150.0,
        "limit": 5000.0,
        "threshold": 94850.0,
        "message": "Daily loss 5,150.00 reached the limit 5,000.00",
    }


def self_signed_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A certificate for ``host`` and 127.0.0.1, and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{host}-cert.pem", folder / f"{host}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
