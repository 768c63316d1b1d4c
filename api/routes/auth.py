"""Identity: register, login (with TOTP once enabled), refresh-token rotation, logout,
password change, TOTP enrolment (``/api/v1/auth/...``)."""

from __future__ import annotations

import hashlib
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from limits import RateLimitItem

from api.deps import Claims, CurrentUser, Services, unauthorised
from api.realtime import announce_ended
from api.security import (
    AccessClaims,
    new_recovery_codes,
    new_refresh_token,
    new_totp_secret,
    normalise_recovery_code,
    password_problem,
    qr_svg,
    token_digest,
    totp_step,
    totp_uri,
)
from api.services import ApiServices
from schemas.api import (
    CodeBody,
    LoginBody,
    PasswordChangeBody,
    RecoveryCodes,
    RefreshBody,
    RegisterBody,
    RegisteredUser,
    TokenPair,
    TotpEnrolment,
    UserRecord,
    UserView,
)

router = APIRouter(prefix="/api/v1/auth", tags=["identity"])

WRONG_LOGIN = "wrong e-mail or password"


def client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _email_key(email: str) -> str:
    """Rate-limit keys name an e-mail by its hash, never in clear."""
    return hashlib.sha256(email.casefold().encode("utf-8")).hexdigest()[:32]


def enforce(services: ApiServices, limit: RateLimitItem, *keys: tuple[str, ...]) -> None:
    """Count one attempt under each key; 429 with ``Retry-After`` if any is over."""
    waits = [services.limiter.hit(limit, *key) for key in keys]
    longest = max((wait for wait in waits if wait is not None), default=None)
    if longest is not None:
        raise HTTPException(
            429,
            "too many attempts: wait before trying again",
            headers={"Retry-After": str(int(longest))},
        )


def issue_pair(services: ApiServices, user_id: UUID) -> TokenPair:
    refresh = new_refresh_token()
    session_id = services.users.start_session(
        user_id, token_digest(refresh), services.limits.refresh_lifetime
    )
    return _pair(services, user_id, session_id, refresh)


def _pair(services: ApiServices, user_id: UUID, session_id: UUID, refresh: str) -> TokenPair:
    access = services.tokens.issue(AccessClaims(user_id=user_id, session_id=session_id))
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(services.tokens.lifetime.total_seconds()),
    )


def _totp_secret(services: ApiServices, user: UserRecord) -> str | None:
    if user.totp_secret_ciphertext is None:
        return None
    return services.cipher.decrypt(user.totp_secret_ciphertext).decode("ascii")


def second_factor_problem(services: ApiServices, user: UserRecord, code: str) -> str | None:
    """Why ``code`` does not pass as the user's second factor now (``None``: it does).

    A TOTP code counts once (its time step is stored); a recovery code counts once.
    """
    secret = _totp_secret(services, user)
    if secret is None:
        return "TOTP is not set up"
    step = totp_step(secret, code, services.clock())
    if step is not None:
        if services.users.accept_totp_step(user.id, step):
            return None
        return "the TOTP code was already used: wait for the next one"
    recovery = normalise_recovery_code(code)
    if recovery is not None and services.users.use_recovery_code(user.id, token_digest(recovery)):
        return None
    return "the TOTP code is wrong"


@router.post("/register", status_code=201, responses={409: {}, 422: {}, 429: {}})
def register(body: RegisterBody, request: Request, services: Services) -> RegisteredUser:
    enforce(
        services,
        services.limits.register,
        ("register", "ip", client_ip(request)),
        ("register", "email", _email_key(body.email)),
    )
    problem = password_problem(body.password, body.email)
    if problem is not None:
        raise HTTPException(422, problem)
    user = services.users.create(body.email, services.passwords.hash(body.password))
    if user is None:
        raise HTTPException(409, "this e-mail address is already registered")
    return RegisteredUser(id=user.id, email=user.email)


@router.post("/login", responses={401: {}, 429: {}})
def login(body: LoginBody, request: Request, services: Services) -> TokenPair:
    enforce(
        services,
        services.limits.login,
        ("login", "ip", client_ip(request)),
        ("login", "email", _email_key(body.email)),
    )
    user = services.users.by_email(body.email)
    stored = user.password_hash if user is not None else None
    if not services.passwords.verify(stored, body.password) or user is None or not user.is_active:
        raise unauthorised(WRONG_LOGIN)
    assert stored is not None
    if services.passwords.needs_rehash(stored):
        services.users.set_password_hash(
            user.id, services.passwords.hash(body.password), changed=False
        )
    if user.totp_enabled:
        if body.totp_code is None:
            raise unauthorised("a TOTP code is required: send totp_code")
        enforce(
            services,
            services.limits.totp,
            ("totp", "user", str(user.id)),
            ("totp", "ip", client_ip(request)),
        )
        problem = second_factor_problem(services, user, body.totp_code)
        if problem is not None:
            raise unauthorised(problem)
    return issue_pair(services, user.id)


@router.post("/refresh", responses={401: {}})
def refresh(body: RefreshBody, services: Services) -> TokenPair:
    successor = new_refresh_token()
    outcome = services.users.rotate_refresh(
        token_digest(body.refresh_token),
        token_digest(successor),
        services.limits.refresh_lifetime,
    )
    if outcome.outcome == "reused":
        announce_ended(services.revocations, session_id=outcome.session_id)
        raise unauthorised(
            "this refresh token was already used: its session is ended, sign in again"
        )
    if outcome.outcome != "fresh" or outcome.user_id is None or outcome.session_id is None:
        raise unauthorised("the refresh token is not valid")
    return _pair(services, outcome.user_id, outcome.session_id, successor)


@router.post("/logout", status_code=204, responses={401: {}})
def logout(claims: Claims, user: CurrentUser, services: Services) -> Response:
    services.users.revoke_session(claims.session_id, "logout")
    announce_ended(services.revocations, session_id=claims.session_id)
    return Response(status_code=204)


@router.get("/me", responses={401: {}})
def me(user: CurrentUser) -> UserView:
    return UserView(id=user.id, email=user.email, totp_enabled=user.totp_enabled)


@router.post("/password", status_code=204, responses={401: {}, 422: {}, 429: {}})
def change_password(
    body: PasswordChangeBody, request: Request, user: CurrentUser, services: Services
) -> Response:
    """Change the password; every session of the user ends (sign in again)."""
    enforce(services, services.limits.login, ("login", "ip", client_ip(request)))
    if not services.passwords.verify(user.password_hash, body.current_password):
        raise unauthorised("the current password is wrong")
    problem = password_problem(body.new_password, user.email)
    if problem is not None:
        raise HTTPException(422, problem)
    services.users.set_password_hash(
        user.id, services.passwords.hash(body.new_password), changed=True
    )
    services.users.revoke_all_sessions(user.id, "password change")
    announce_ended(services.revocations, user_id=user.id)
    return Response(status_code=204)


# TOTP -----------------------------------------------------------------------------------

totp = APIRouter(prefix="/api/v1/auth/totp", tags=["identity"])


@totp.post("/enrol", responses={401: {}, 409: {}})
def enrol(user: CurrentUser, services: Services) -> TotpEnrolment:
    """A new secret, not active until confirmed with a first code."""
    if user.totp_enabled:
        raise HTTPException(409, "TOTP is already on: disable it first")
    secret = new_totp_secret()
    if not services.users.set_pending_totp(user.id, services.cipher.encrypt(secret.encode())):
        raise HTTPException(409, "TOTP is already on: disable it first")
    uri = totp_uri(secret, user.email)
    return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))


def _code_step(services: ApiServices, user: UserRecord, code: str) -> int:
    enforce(services, services.limits.totp, ("totp", "user", str(user.id)))
    secret = _totp_secret(services, user)
    if secret is None:
        raise HTTPException(409, "no TOTP secret: call /auth/totp/enrol first")
    step = totp_step(secret, code, services.clock())
    if step is None:
        raise HTTPException(400, "the TOTP code is wrong")
    return step


@totp.post("/confirm", responses={400: {}, 401: {}, 409: {}, 429: {}})
def confirm(body: CodeBody, user: CurrentUser, services: Services) -> RecoveryCodes:
    """Turn TOTP on with a first code; answers the ten one-time recovery codes (shown once)."""
    if user.totp_enabled:
        raise HTTPException(409, "TOTP is already on")
    step = _code_step(services, user, body.code)
    codes = new_recovery_codes()
    hashes = [token_digest(normalise_recovery_code(code) or code) for code in codes]
    if not services.users.enable_totp(user.id, step, hashes):
        raise HTTPException(409, "the TOTP code was already used: wait for the next one")
    return RecoveryCodes(recovery_codes=codes)


@totp.post("/disable", status_code=204, responses={400: {}, 401: {}, 409: {}, 429: {}})
def disable(body: CodeBody, user: CurrentUser, services: Services) -> Response:
    """Turn TOTP off; needs a current code (not a recovery code)."""
    if not user.totp_enabled:
        raise HTTPException(409, "TOTP is not on")
    step = _code_step(services, user, body.code)
    if not services.users.accept_totp_step(user.id, step):
        raise HTTPException(400, "the TOTP code was already used: wait for the next one")
    services.users.disable_totp(user.id)
    return Response(status_code=204)
