"""Wiring of the alert side: the notify worker and the webhook service from the settings."""

from __future__ import annotations

from api.webhooks import WebhookService
from infra.bus.port import Bus
from infra.db.pool import Pool
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import KEYBOX_KEY_ID, KeyBoxCipher, cipher_from_secret_key
from infra.notify.http import WebhookHttpClient
from infra.notify.smtp import SmtpConfig, SmtpMailer
from infra.notify.ssrf import SystemResolver, parse_allowed_networks
from infra.notify.worker import DEFAULT_CONSUMER, NotifyConfig, NotifyWorker
from infra.secrets import SecretBox, parse_keys
from infra.settings import Settings


def webhook_cipher(settings: Settings) -> KeyBoxCipher:
    """Endpoint secrets under the key box (``AETHERIS_ENCRYPTION_KEYS``); secrets stored
    under the older key derived from ``AETHERIS_SECRET_KEY`` still read until rotated."""
    legacy = cipher_from_secret_key(settings.secret_key) if settings.secret_key else None
    return KeyBoxCipher(SecretBox(parse_keys(settings.encryption_keys)), legacy)


def smtp_mailer(settings: Settings) -> SmtpMailer | None:
    """The SMTP mailer, or None when ``AETHERIS_SMTP_HOST`` is not set (no e-mail)."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
            ca_file=settings.smtp_ca_file,
        )
    )


def notify_worker(
    settings: Settings,
    pool: Pool,
    bus: Bus | None,
    *,
    cipher: KeyBoxCipher | None = None,
    consumer: str | None = None,
) -> NotifyWorker:
    """A notify worker on the settings' topic, retry policy, allow-list, HTTP and SMTP.

    ``cipher`` replaces the settings' key box (the demo's keys of this run); ``consumer``
    names the worker's saved offsets (the demo's in-process bus starts empty every run).
    """
    config = NotifyConfig(
        consumer=consumer or DEFAULT_CONSUMER,
        topic=settings.topic_breaches,
        retry=RetryPolicy(
            base_seconds=settings.notify_retry_base_seconds,
            cap_seconds=max(settings.notify_retry_max_seconds, settings.notify_retry_base_seconds),
            max_attempts=settings.notify_max_attempts,
        ),
        allowed_networks=parse_allowed_networks(settings.webhook_allowed_networks),
        # Longer than one attempt can take: an HTTP connect plus the whole answer, or an
        # SMTP session's steps (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA), each bounded.
        lease_seconds=max(settings.webhook_timeout_seconds * 2, settings.smtp_timeout_seconds * 7)
        + 5.0,
        poll_seconds=settings.notify_poll_seconds,
        concurrency=settings.notify_concurrency,
    )
    return NotifyWorker(
        pool=pool,
        bus=bus,
        config=config,
        cipher=cipher or webhook_cipher(settings),
        resolver=SystemResolver(),
        http=WebhookHttpClient(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        ),
        mailer=smtp_mailer(settings),
    )


def webhook_service(
    settings: Settings, pool: Pool, cipher: KeyBoxCipher | None = None
) -> WebhookService:
    """The webhook use cases the API routes call, with the key box and the allow-list."""
    return WebhookService(
        pool,
        cipher=cipher or webhook_cipher(settings),
        resolver=SystemResolver(),
        allowed_networks=parse_allowed_networks(settings.webhook_allowed_networks),
        key_id=KEYBOX_KEY_ID,
    )
