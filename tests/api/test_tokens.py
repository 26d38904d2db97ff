"""API tokens end (LIMS_TOKEN_DAYS, or fewer days on request), an expired one is refused saying
so, a token cannot renew itself without the password, and every token event is audited
without its key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.api.tokens import token_rotate
from core.models import AuditEvent, TokenExpiry

PASSWORD = "pw-alice-123"  # tests/conftest.py's staff user "alice"


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _expire(token: Token) -> None:
    TokenExpiry.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_a_new_token_works_for_the_default_90_days(staff):
    token = token_rotate(staff)
    assert token.expiry.expires_at - token.created == timedelta(days=90)


def test_no_end_date_when_the_setting_is_zero(staff, settings):
    settings.LIMS_TOKEN_DAYS = 0
    assert token_rotate(staff).expiry.expires_at is None


def test_an_expired_token_is_refused_saying_it_expired_and_audited_once(staff):
    token = token_rotate(staff)
    client = _with_token(token.key)
    assert client.get("/api/cells/").status_code == 200
    _expire(token)
    for _ in range(2):
        response = client.get("/api/cells/")
        assert response.status_code == 401
        detail = response.json()["detail"]
        assert detail.startswith("Token expired on ")
        assert "/account/token/" in detail and "password" in detail
    expired = AuditEvent.objects.filter(action="expire", model="authtoken.token")
    assert expired.count() == 1
    assert expired.get().object_repr == "API token of alice" and expired.get().user is None


def test_a_token_cannot_renew_itself_without_the_password(staff):
    old = token_rotate(staff)
    client = _with_token(old.key)

    missing = client.post("/api/tokens/", {}, format="json")
    assert missing.status_code == 400
    assert "a token cannot make its own replacement" in missing.json()["password"][0]

    wrong = client.post("/api/tokens/", {"password": "guess"}, format="json")
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Wrong password: the token was not replaced."
    assert Token.objects.get(user=staff).key == old.key  # nothing was replaced

    made = client.post("/api/tokens/", {"password": PASSWORD, "expires_in_days": 7}, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["token"] != old.key and body["username"] == "alice"
    assert (
        Token.objects.get(user=staff).expiry.expires_at.isoformat().startswith(body["expires"][:16])
    )
    assert _with_token(old.key).get("/api/cells/").status_code == 401
    assert _with_token(body["token"]).get("/api/cells/").status_code == 200


def test_a_browser_session_renews_without_the_password(staff_client, staff):
    made = staff_client.post(
        "/api/tokens/", {"expires_in_days": 30}, content_type="application/json"
    )
    assert made.status_code == 201
    expiry = Token.objects.get(user=staff).expiry.expires_at
    assert abs(expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_wrong_passwords_through_a_token_count_towards_the_lockout(staff):
    client = _with_token(token_rotate(staff).key)
    for n in range(4):
        assert (
            client.post("/api/tokens/", {"password": f"guess-{n}"}, format="json").status_code
            == 403
        )
    locked = client.post("/api/tokens/", {"password": "guess-5"}, format="json")
    assert locked.status_code == 429
    assert "locked after 5 wrong passwords" in locked.json()["detail"]
    right = client.post("/api/tokens/", {"password": PASSWORD}, format="json")
    assert right.status_code == 429  # refused while locked, even with the right password


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"expires_in_days": 91}, "expires_in_days", "at most 90 days"),
        ({"expires_in_days": 0}, "expires_in_days", "at least 1"),
        ({"expires_in_days": 10**30}, "expires_in_days", "at most 3650"),
        ({"expires_in_days": "soon"}, "expires_in_days", "whole number"),
        ({"expires": "2030-01-01"}, "expires", "Unknown field"),
        ({"password": 12345}, "password", "Must be text"),
    ],
)
def test_a_wrong_request_body_is_a_400_naming_the_field(staff_client, body, field, message):
    response = staff_client.post("/api/tokens/", body, content_type="application/json")
    assert response.status_code == 400
    assert message.lower() in " ".join(response.json()[field]).lower()


def test_token_events_are_audited_without_the_key(staff_client, staff):
    first = staff_client.post("/api/tokens/").json()["token"]
    second = staff_client.post("/api/tokens/").json()["token"]
    staff_client.delete("/api/tokens/")
    events = list(
        AuditEvent.objects.filter(model="authtoken.token")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert events == ["create", "rotate", "delete"]
    for event in AuditEvent.objects.filter(model="authtoken.token"):
        assert event.user == staff and event.object_pk == str(staff.pk)
        assert first not in str(event.after) and second not in str(event.after)


def test_the_token_page_shows_when_the_token_ends(staff_client, staff):
    made = staff_client.post("/account/token/", {"action": "create", "days": "10"})
    assert made.status_code == 200
    expires = timezone.localtime(Token.objects.get(user=staff).expiry.expires_at)
    assert f"It works until {expires:%Y-%m-%d %H:%M}" in made.content.decode()
    _expire(Token.objects.get(user=staff))
    page = staff_client.get("/account/token/").content.decode()
    assert "It expired on" in page and "no longer works" in page
    too_long = staff_client.post("/account/token/", {"action": "create", "days": "365"})
    assert too_long.status_code == 400
    assert "Days valid: Must be at most 90 days" in too_long.content.decode()


def test_the_token_page_without_an_end_date(staff_client, staff, settings):
    settings.LIMS_TOKEN_DAYS = 0
    staff_client.post("/account/token/", {"action": "create"})
    page = staff_client.get("/account/token/").content.decode()
    assert "It works until you revoke it" in page


def test_a_token_made_in_the_admin_gets_the_default_lifetime(staff):
    token = Token.objects.create(user=staff)  # DRF's own admin makes tokens like this
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=91))
    response = _with_token(token.key).get("/api/cells/")
    assert response.status_code == 401 and response.json()["detail"].startswith("Token expired")
    fresh = Token.objects.create(user=get_user_model().objects.create_user("carol"))
    assert _with_token(fresh.key).get("/api/cells/").status_code == 200
    assert fresh.expiry.expires_at - fresh.created == timedelta(days=90)
