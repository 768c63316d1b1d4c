"""Connection strings are printed with their passwords hidden."""

from __future__ import annotations

import pytest

from infra.db.pool import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/aetheris", "postgresql://app:***@db:5432/aetheris"),
        ("postgresql://app@db/aetheris", "postgresql://app@db/aetheris"),
        ("postgresql://db/aetheris?password=s3cret", "postgresql://db/aetheris?password=***"),
        ("host=db user=app password=s3cret dbname=x", "host=db user=app password=*** dbname=x"),
        ("host=db password='a b' dbname=x", "host=db password=*** dbname=x"),
        (
            "postgresql://postgres:@/aetheris?host=/srv/.aetheris/pgdata",
            "postgresql://postgres:***@/aetheris?host=/srv/.aetheris/pgdata",
        ),
    ],
)
def test_passwords_are_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown
