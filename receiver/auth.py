"""Authentication as each sender does it, compared in constant time, never logged.

- Alertmanager and Grafana: ``Authorization: Bearer <token>`` or HTTP basic auth.
- PagerDuty v3: ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``, HMAC-SHA256 of the raw
  body; several signatures while PagerDuty rotates a secret, several secrets while we do.
- Slack: ``X-Slack-Signature: v0=<hex>`` over ``v0:<timestamp>:<body>``, refused when
  ``X-Slack-Request-Timestamp`` is outside the replay window (slack_sdk's verifier).
- Generic: a bearer token, or ``X-Firebreak-Signature: sha256=<hex>`` of the raw body.

Every configured credential is compared, match or not, so the time taken does not say
which one nearly matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

from pydantic import SecretStr
from slack_sdk.signature import Clock, SignatureVerifier

from receiver.refusal import Refusal
from receiver.settings import GenericAuth, HeaderAuth, SignedAuth, SlackSettings

__all__ = [
    "GENERIC_SIGNATURE_HEADER",
    "check_generic",
    "check_header_auth",
    "check_pagerduty",
    "check_slack",
    "sign_body",
]

GENERIC_SIGNATURE_HEADER = "x-firebreak-signature"


def _unauthenticated(message: str, scheme: str = "Bearer") -> Refusal:
    return Refusal(
        401,
        "unauthenticated",
        message,
        headers={"WWW-Authenticate": f'{scheme} realm="firebreak"'} if scheme else {},
    )


def _any_equal(given: bytes, expected: Iterable[bytes]) -> bool:
    matched = False
    for candidate in expected:
        matched |= hmac.compare_digest(given, candidate)
    return matched


def _secrets(values: Iterable[SecretStr]) -> list[bytes]:
    return [v.get_secret_value().encode() for v in values]


def check_header_auth(source: str, auth: HeaderAuth, headers: Mapping[str, str]) -> None:
    header = headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not header:
        raise _unauthenticated(
            f"no credentials: {source} must send the bearer token or basic auth configured "
            "for it (Authorization header)"
        )
    if scheme.lower() == "bearer":
        if _any_equal(credentials.encode(), _secrets(auth.bearer_tokens)) and auth.bearer_tokens:
            return
    elif scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise _unauthenticated("basic auth credentials are not valid base64") from None
        pairs = [(c.username.encode(), c.password.get_secret_value().encode()) for c in auth.basic]
        ok = False
        for known_user, known_password in pairs:
            ok |= hmac.compare_digest(user, known_user) & hmac.compare_digest(
                password, known_password
            )
        if ok:
            return
    else:
        raise _unauthenticated(f"unsupported Authorization scheme {scheme[:20]!r}: use Bearer")
    raise _unauthenticated(
        f"credentials for {source} are not valid: check the token in the sender's config"
    )


def sign_body(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_pagerduty(auth: SignedAuth, headers: Mapping[str, str], body: bytes) -> None:
    header = headers.get("x-pagerduty-signature", "")
    given = [
        part.strip()[3:].encode() for part in header.split(",") if part.strip().startswith("v1=")
    ]
    if not given:
        raise _unauthenticated(
            "no X-PagerDuty-Signature v1 signature: PagerDuty v3 webhooks sign every delivery",
            scheme="",
        )
    expected = [sign_body(s.get_secret_value(), body).encode() for s in auth.signing_secrets]
    ok = False
    for signature in given:
        ok |= _any_equal(signature, expected)
    if not ok:
        raise _unauthenticated(
            "X-PagerDuty-Signature does not match: check the subscription's signing secret",
            scheme="",
        )


def check_generic(auth: GenericAuth, headers: Mapping[str, str], body: bytes) -> None:
    signature = headers.get(GENERIC_SIGNATURE_HEADER, "")
    if signature:
        given = signature.removeprefix("sha256=").strip().encode()
        expected = [sign_body(s.get_secret_value(), body).encode() for s in auth.hmac_secrets]
        if expected and _any_equal(given, expected):
            return
        raise _unauthenticated(
            "X-Firebreak-Signature does not match the body: sign the exact bytes sent with "
            "HMAC-SHA256 and send sha256=<hex>",
            scheme="",
        )
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and auth.bearer_tokens:
        if _any_equal(token.strip().encode(), _secrets(auth.bearer_tokens)):
            return
        raise _unauthenticated("bearer token is not valid for the generic endpoint")
    raise _unauthenticated(
        "no credentials: send Authorization: Bearer <token> or X-Firebreak-Signature"
    )


def check_slack(
    slack: SlackSettings, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> None:
    assert slack.signing_secret is not None
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise _unauthenticated(
            "missing X-Slack-Request-Timestamp or X-Slack-Signature: not a request from Slack",
            scheme="",
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise _unauthenticated("X-Slack-Request-Timestamp is not a number", scheme="") from None
    current = time.time() if now is None else now
    window = slack.timestamp_tolerance.total_seconds()
    if abs(current - sent) > window:
        raise Refusal(
            401,
            "stale_timestamp",
            f"X-Slack-Request-Timestamp is more than {int(window)} s from now: refused as a "
            "possible replay (check the server clock if this is a fresh click)",
        )
    # The window was checked above with our tolerance; the SDK's own check sees no skew.
    verifier = SignatureVerifier(slack.signing_secret.get_secret_value(), clock=_At(sent))
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        raise Refusal(400, "not_utf8", "request body is not UTF-8") from None
    if not valid:
        raise _unauthenticated(
            "X-Slack-Signature does not match: check the app's signing secret", scheme=""
        )


class _At(Clock):
    def __init__(self, at: float) -> None:
        self._at = at

    def now(self) -> float:
        return self._at
