"""Wiring of the alert side: the notify worker and the webhook service from the settings."""

from __future__ import annotations

from api.webhooks import WebhookService
from infra.bus.port import Bus
from infra.db.pool import Pool
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import cipher_from_secret_key
from infra.notify.http import WebhookHttpClient
from infra.notify.smtp import SmtpConfig, SmtpMailer
from infra.notify.ssrf import SystemResolver, parse_allowed_networks
from infra.notify.worker import NotifyConfig, NotifyWorker
from infra.settings import Settings


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


def notify_worker(settings: Settings, pool: Pool, bus: Bus | None) -> NotifyWorker:
    """A notify worker on the settings' topic, retry policy, allow-list, HTTP and SMTP."""
    config = NotifyConfig(
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
        cipher=cipher_from_secret_key(settings.secret_key),
        resolver=SystemResolver(),
        http=WebhookHttpClient(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        ),
        mailer=smtp_mailer(settings),
    )


def webhook_service(settings: Settings, pool: Pool) -> WebhookService:
    """The webhook use cases the API routes call, with the settings' cipher and allow-list."""
    return WebhookService(
        pool,
        cipher=cipher_from_secret_key(settings.secret_key),
        resolver=SystemResolver(),
        allowed_networks=parse_allowed_networks(settings.webhook_allowed_networks),
    )
