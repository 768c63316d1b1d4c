"""E-mail over SMTP (the standard library's ``smtplib``), STARTTLS on by default.

The server's certificate is verified against the system's authorities, or against
``ca_file`` when the server uses a private one. Every call has a timeout.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from pydantic import SecretStr

from infra.notify.outcome import AttemptOutcome


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    timeout_seconds: float = 10.0
    ca_file: Path | None = None


class SmtpMailer:
    """Sends one message per connection (alerts are rare; no idle connection to babysit)."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self._config.ca_file) if self._config.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def send(self, to_address: str, subject: str, text: str) -> AttemptOutcome:
        config = self._config
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = to_address
        message["Subject"] = subject
        message.set_content(text)
        started = time.perf_counter()
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if config.user is not None and config.password is not None:
                    smtp.login(config.user, config.password.get_secret_value())
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            return AttemptOutcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                status_code=exc.smtp_code,
                error=f"SMTP {exc.smtp_code}: {_reply_text(exc.smtp_error)}",
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return AttemptOutcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                status_code=code,
                error=f"recipient refused: SMTP {code}: {_reply_text(reply)}",
            )
        except (smtplib.SMTPException, OSError) as exc:
            return AttemptOutcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        if refused:
            code, reply = next(iter(refused.values()))
            return AttemptOutcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                status_code=code,
                error=f"recipient refused: SMTP {code}: {_reply_text(reply)}",
            )
        return AttemptOutcome(succeeded=True, duration_ms=_elapsed_ms(started), status_code=250)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return text[:300]


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
