"""Identity on the real services, tried as an attacker would: forged, expired, unsigned and
foreign tokens; replayed refresh tokens and TOTP codes; recovery codes used twice."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pyotp
from limits import parse

from api.services import ApiLimits
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from tests.integration.api.conftest import (
    AUDIENCE,
    ISSUER,
    PASSWORD,
    SECRET_KEY,
    Api,
    User,
    build_api,
    sign_up,
)

ME = "/api/v1/auth/me"


def _login(api: Api, email: str, password: str = PASSWORD, **extra: str) -> dict[str, object]:
    response = api.client.post(
        "/api/v1/auth/login", json={"email": email, "password": password, **extra}
    )
    return {"status": response.status_code, **response.json()}


# Register and login -----------------------------------------------------------------------


def test_register_login_and_me(api: Api) -> None:
    user = sign_up(api.client, email="Trader.One+x@Example.com")
    me = api.client.get(ME, headers=user.auth)
    assert me.status_code == 200
    assert me.json() == {"id": user.id, "email": "trader.one+x@example.com", "totp_enabled": False}


def test_a_taken_email_is_409_in_any_case(api: Api, alice: User) -> None:
    again = api.client.post(
        "/api/v1/auth/register", json={"email": alice.email.upper(), "password": PASSWORD}
    )
    assert again.status_code == 409


def test_weak_passwords_are_422_with_the_reason(api: Api) -> None:
    for password, reason in (
        ("short", "at least 10 characters"),
        ("aaaaaaaaaaaaaa", "5 different characters"),
        ("abcabcabca@example.com", "not be the e-mail"),
    ):
        email = password if "@" in password else f"{uuid4().hex}@example.com"
        response = api.client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        assert response.status_code == 422
        assert reason in str(response.json()["detail"])


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(api: Api, alice: User) -> None:
    wrong = _login(api, alice.email, "not the password at all")
    unknown = _login(api, "nobody-here@example.com")
    assert wrong == unknown == {"status": 401, "detail": "wrong e-mail or password"}


def test_an_extra_field_is_refused_not_stored(api: Api) -> None:
    """No mass assignment: a body naming a role, an id or an owner is a 422."""
    for extra in ({"role": "admin"}, {"id": str(uuid4())}, {"is_active": False}):
        response = api.client.post(
            "/api/v1/auth/register",
            json={"email": f"{uuid4().hex}@example.com", "password": PASSWORD, **extra},
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "extra_forbidden"


def test_an_old_hash_is_upgraded_at_login(api: Api, pool: Pool) -> None:
    user = sign_up(api.client)
    with pool.connection() as conn:
        before = conn.execute(
            "SELECT password_hash FROM users WHERE email = %s", (user.email,)
        ).fetchone()
    assert before is not None and "m=1024,t=1" in before[0]
    from api.security import Passwords  # noqa: PLC0415

    api.services.passwords = Passwords(memory_kib=2_048, time_cost=1)
    assert _login(api, user.email)["status"] == 200
    with pool.connection() as conn:
        after = conn.execute(
            "SELECT password_hash FROM users WHERE email = %s", (user.email,)
        ).fetchone()
    assert after is not None and "m=2048,t=1" in after[0]
    assert _login(api, user.email)["status"] == 200


# Access tokens -------------------------------------------------------------------------


def _claims(user: User) -> dict[str, object]:
    return jwt.decode(user.access, options={"verify_signature": False})


def _forge(claims: dict[str, object], key: str = SECRET_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _status(api: Api, token: str) -> int:
    status: int = api.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code
    return status


def test_the_access_token_carries_every_checked_claim(alice: User) -> None:
    claims = _claims(alice)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == alice.id
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_expired_tampered_unsigned_and_foreign_tokens_are_401(api: Api, alice: User) -> None:
    claims = _claims(alice)
    now = datetime.now(UTC)
    assert _status(api, alice.access) == 200
    assert _status(api, _forge(claims)) == 200  # the forger needs our key: sanity check

    expired = {**claims, "iat": now - timedelta(hours=1), "exp": now - timedelta(minutes=1)}
    assert _status(api, _forge(expired)) == 401

    header, payload, signature = alice.access.split(".")
    other = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other["sub"] = str(uuid4())
    tampered_payload = base64.urlsafe_b64encode(json.dumps(other).encode()).rstrip(b"=").decode()
    assert _status(api, f"{header}.{tampered_payload}.{signature}") == 401

    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    assert _status(api, f"{unsigned_header.decode()}.{payload}.") == 401

    assert _status(api, _forge({**claims, "iss": "someone-else"})) == 401
    assert _status(api, _forge({**claims, "aud": "another-api"})) == 401
    assert _status(api, _forge(claims, key="a-different-key-" + "x" * 40)) == 401
    assert _status(api, _forge(claims, algorithm="HS512")) == 401
    missing_sid = {k: v for k, v in claims.items() if k != "sid"}
    assert _status(api, _forge(missing_sid)) == 401
    assert _status(api, "not-a-jwt") == 401
    assert api.client.get(ME).status_code == 401


# Refresh tokens ------------------------------------------------------------------------


def _refresh(api: Api, token: str) -> tuple[int, dict[str, object]]:
    response = api.client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    return response.status_code, response.json()


def test_refresh_rotates_and_a_replayed_token_revokes_the_whole_family(
    api: Api, alice: User
) -> None:
    status, second = _refresh(api, alice.refresh)
    assert status == 200
    assert second["refresh_token"] != alice.refresh
    status, third = _refresh(api, str(second["refresh_token"]))
    assert status == 200

    # The first token, already spent, comes back (stolen): the family is revoked...
    status, body = _refresh(api, alice.refresh)
    assert status == 401
    assert "already used" in str(body["detail"])
    # ...so the newest refresh token and the access tokens of that session stop working.
    assert _refresh(api, str(third["refresh_token"]))[0] == 401
    assert _status(api, str(third["access_token"])) == 401
    assert _status(api, alice.access) == 401
    # Another login of the same user is another family, untouched.
    assert _login(api, alice.email)["status"] == 200


def test_unknown_refresh_tokens_are_401(api: Api) -> None:
    assert _refresh(api, "made-up-token")[0] == 401
    assert _refresh(api, "x" * 201)[0] == 422


def test_logout_ends_the_session_only(api: Api, alice: User) -> None:
    other = _login(api, alice.email)
    assert api.client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 204
    assert _status(api, alice.access) == 401
    assert _refresh(api, alice.refresh)[0] == 401
    assert _status(api, str(other["access_token"])) == 200


def test_a_password_change_ends_every_session(api: Api, alice: User) -> None:
    other = _login(api, alice.email)
    new_password = "a whole new passphrase"
    wrong = api.client.post(
        "/api/v1/auth/password",
        headers=alice.auth,
        json={"current_password": "not it at all", "new_password": new_password},
    )
    assert wrong.status_code == 401
    changed = api.client.post(
        "/api/v1/auth/password",
        headers=alice.auth,
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 204
    assert _status(api, alice.access) == 401
    assert _status(api, str(other["access_token"])) == 401
    assert _refresh(api, str(other["refresh_token"]))[0] == 401
    assert _login(api, alice.email)["status"] == 401
    assert _login(api, alice.email, new_password)["status"] == 200


# TOTP ----------------------------------------------------------------------------------


def _enable_totp(api: Api, user: User) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = api.client.post("/api/v1/auth/totp/enrol", headers=user.auth)
    assert enrolment.status_code == 200
    body = enrolment.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/AETHERIS:")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and "</svg>" in body["qr_svg"]
    totp = pyotp.TOTP(body["secret"])
    # Not on before it is confirmed.
    assert _login(api, user.email)["status"] == 200
    confirmed = api.client.post(
        "/api/v1/auth/totp/confirm", headers=user.auth, json={"code": totp.at(api.clock.now)}
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    return totp, codes


def test_totp_enrol_confirm_then_login_needs_a_fresh_code(api: Api, alice: User) -> None:
    totp, _ = _enable_totp(api, alice)
    assert api.client.get(ME, headers=alice.auth).json()["totp_enabled"] is True

    missing = _login(api, alice.email)
    assert missing == {"status": 401, "detail": "a TOTP code is required: send totp_code"}
    # The code that confirmed enrolment was used: it does not log in (RFC 6238 5.2).
    used = _login(api, alice.email, totp_code=totp.at(api.clock.now))
    assert used["status"] == 401
    assert "already used" in str(used["detail"])

    api.clock.advance(30)
    code = totp.at(api.clock.now)
    assert _login(api, alice.email, "wrong password!", totp_code=code)["status"] == 401
    assert _login(api, alice.email, totp_code=code)["status"] == 200
    replay = _login(api, alice.email, totp_code=code)
    assert replay["status"] == 401 and "already used" in str(replay["detail"])
    wrong = _login(api, alice.email, totp_code="000000" if code != "000000" else "111111")
    assert wrong == {"status": 401, "detail": "the TOTP code is wrong"}


def test_one_step_of_clock_drift_is_accepted_two_are_not(api: Api, alice: User) -> None:
    totp, _ = _enable_totp(api, alice)
    api.clock.advance(300)
    now = api.clock.now
    # The phone runs 30 s slow: its code is from the previous step.
    assert _login(api, alice.email, totp_code=totp.at(now - timedelta(seconds=30)))["status"] == 200
    # A later step (phone 30 s fast) is still after the last one accepted.
    assert _login(api, alice.email, totp_code=totp.at(now + timedelta(seconds=30)))["status"] == 200
    api.clock.advance(300)
    now = api.clock.now
    for skew in (-60, 60):
        stale = _login(api, alice.email, totp_code=totp.at(now + timedelta(seconds=skew)))
        assert stale == {"status": 401, "detail": "the TOTP code is wrong"}


def test_an_earlier_step_is_refused_after_a_later_one_was_used(api: Api, alice: User) -> None:
    totp, _ = _enable_totp(api, alice)
    api.clock.advance(300)
    now = api.clock.now
    assert _login(api, alice.email, totp_code=totp.at(now))["status"] == 200
    earlier = _login(api, alice.email, totp_code=totp.at(now - timedelta(seconds=30)))
    assert earlier["status"] == 401 and "already used" in str(earlier["detail"])


def test_each_recovery_code_works_once(api: Api, alice: User) -> None:
    _, codes = _enable_totp(api, alice)
    assert _login(api, alice.email, totp_code=codes[0])["status"] == 200
    assert _login(api, alice.email, totp_code=codes[0])["status"] == 401
    # Written without dashes and in lower case, another code still works, once.
    relaxed = codes[1].replace("-", "").lower()
    assert _login(api, alice.email, totp_code=relaxed)["status"] == 200
    assert _login(api, alice.email, totp_code=codes[1])["status"] == 401


def test_disabling_totp_needs_a_current_code(api: Api, alice: User) -> None:
    totp, codes = _enable_totp(api, alice)
    refused = api.client.post(
        "/api/v1/auth/totp/disable", headers=alice.auth, json={"code": codes[0]}
    )
    assert refused.status_code == 400
    replayed = api.client.post(
        "/api/v1/auth/totp/disable", headers=alice.auth, json={"code": totp.at(api.clock.now)}
    )
    assert replayed.status_code == 400  # the confirming code, already used
    api.clock.advance(30)
    done = api.client.post(
        "/api/v1/auth/totp/disable", headers=alice.auth, json={"code": totp.at(api.clock.now)}
    )
    assert done.status_code == 204
    assert _login(api, alice.email)["status"] == 200
    assert api.client.get(ME, headers=alice.auth).json()["totp_enabled"] is False


def test_the_totp_secret_is_stored_encrypted(api: Api, alice: User, pool: Pool) -> None:
    enrolment = api.client.post("/api/v1/auth/totp/enrol", headers=alice.auth).json()
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT totp_secret_ciphertext FROM users WHERE id = %s", (alice.id,)
        ).fetchone()
    assert row is not None
    stored = bytes(row[0])
    assert enrolment["secret"].encode() not in stored
    assert api.services.cipher.decrypt(stored) == enrolment["secret"].encode()


def test_a_second_enrolment_while_on_is_refused(api: Api, alice: User) -> None:
    _enable_totp(api, alice)
    assert api.client.post("/api/v1/auth/totp/enrol", headers=alice.auth).status_code == 409


# Rate limits ---------------------------------------------------------------------------


def test_login_is_rate_limited_per_email_and_per_ip(
    pool: Pool, kafka: KafkaBus, topics: object, redis_url: str, redis_prefix: str
) -> None:
    from infra.bus import Topics  # noqa: PLC0415

    assert isinstance(topics, Topics)
    limits = ApiLimits(
        login=parse("3/minute"), register=parse("100/minute"), totp=parse("3/minute")
    )
    api = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=limits)
    with api.client:
        alice = sign_up(api.client)  # one login
        assert _login(api, alice.email, "wrong password 1")["status"] == 401
        assert _login(api, alice.email, "wrong password 2")["status"] == 401
        limited = api.client.post(
            "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # The IP (the test client's) has used its three too: another e-mail is limited.
        bob = api.client.post(
            "/api/v1/auth/login", json={"email": "bob@example.com", "password": PASSWORD}
        )
        assert bob.status_code == 429

    # Another API process on the same Redis shares the counts.
    again = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=limits)
    with again.client:
        assert _login(again, alice.email)["status"] == 429


def test_registration_is_rate_limited(
    pool: Pool, kafka: KafkaBus, topics: object, redis_url: str, redis_prefix: str
) -> None:
    from infra.bus import Topics  # noqa: PLC0415

    assert isinstance(topics, Topics)
    limits = ApiLimits(register=parse("2/minute"))
    api = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=limits)
    with api.client:
        statuses = [
            api.client.post(
                "/api/v1/auth/register",
                json={"email": f"{uuid4().hex}@example.com", "password": PASSWORD},
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [201, 201, 429]


def test_guessing_totp_codes_is_rate_limited(
    pool: Pool, kafka: KafkaBus, topics: object, redis_url: str, redis_prefix: str
) -> None:
    from infra.bus import Topics  # noqa: PLC0415

    assert isinstance(topics, Topics)
    limits = ApiLimits(login=parse("100/minute"), totp=parse("3/minute"))
    api = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=limits)
    with api.client:
        alice = sign_up(api.client)
        totp, _ = _enable_totp(api, alice)  # the confirmation is one attempt
        guesses = [_login(api, alice.email, totp_code="000000")["status"] for _ in range(3)]
        api.clock.advance(30)
        right_code_too_late = _login(api, alice.email, totp_code=totp.at(api.clock.now))
    assert guesses == [401, 401, 429]
    assert right_code_too_late["status"] == 429
