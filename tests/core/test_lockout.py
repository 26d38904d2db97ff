"""Repeated wrong passwords lock the account for a while (django-axes, core/accounts.py): the
login page says so and until when, the right password is refused meanwhile, the lock and unlock
are in the audit log, and a staff member can unlock."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client

from core.models import AuditEvent

LOGIN = "/accounts/login/"
RIGHT = "pw-alice-123"  # tests/conftest.py's staff user "alice"


def _login(client: Client, password: str, username: str = "alice", **headers):
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _let_the_lock_run_out(username: str = "alice") -> None:
    # Time passing for the lock: its attempts are moved back by the lock period and a minute.
    passed = timedelta(minutes=settings.LIMS_LOGIN_LOCK_MINUTES + 1)
    AccessAttempt.objects.filter(username=username).update(attempt_time=F("attempt_time") - passed)


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert settings.LIMS_LOGIN_FAILURE_LIMIT == 5 and settings.AXES_FAILURE_LIMIT == 5
    assert settings.LIMS_LOGIN_LOCK_MINUTES == 15
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_meanwhile(client, staff):
    answers = [_login(client, f"wrong-{n}").status_code for n in range(4)]
    assert answers == [200, 200, 200, 200]  # the form again, "please enter a correct ..."
    locking = _login(client, "wrong-5")
    assert locking.status_code == 429
    page = locking.content.decode()
    assert "This account is locked after 5 wrong passwords in a row" in page
    assert "Try again in 15 minutes" in page
    assert 'name="username"' in page  # still the login page, not an error page

    # 300 wrong passwords used to be answered one by one; now every later try is refused ...
    for n in range(10):
        assert _login(client, f"again-{n}").status_code == 429
    # ... and so is the right password, while the lock lasts.
    refused = _login(client, RIGHT)
    assert refused.status_code == 429 and not _logged_in(client)
    assert "Try again in 15 minutes" in refused.content.decode()
    # Failures during the lock do not extend it: still the first lock's end.
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5

    _let_the_lock_run_out()
    assert _login(client, RIGHT).status_code == 302
    assert _logged_in(client)


def test_a_successful_login_resets_the_count(client, staff):
    for n in range(4):
        _login(client, f"wrong-{n}")
    assert _login(client, RIGHT).status_code == 302
    client.logout()
    for n in range(4):
        assert _login(client, f"wrong-again-{n}").status_code == 200
    assert _login(client, RIGHT).status_code == 302


def test_other_browsers_and_addresses_add_up_for_one_username(client, staff):
    # Why axes.W006 is silenced: the lock is per username, whatever the agent or address.
    for n in range(5):
        _login(client, "wrong", HTTP_USER_AGENT=f"agent-{n}", REMOTE_ADDR=f"10.0.0.{n}")
    assert _login(client, RIGHT, HTTP_USER_AGENT="fresh", REMOTE_ADDR="10.9.9.9").status_code == 429


def test_the_lock_is_of_the_account_not_of_the_lab(client, staff, viewer):
    for n in range(5):
        _login(client, f"wrong-{n}")
    assert _login(Client(), "pw-victor-123", username="victor").status_code == 302


def test_the_admin_login_is_locked_too(client, staff):
    staff.is_superuser = True
    staff.save()
    for n in range(5):
        client.post("/admin/login/", {"username": "alice", "password": f"wrong-{n}"})
    response = client.post("/admin/login/", {"username": "alice", "password": RIGHT})
    assert response.status_code == 429 and not _logged_in(client)


def test_lock_and_expiry_are_audited(client, staff):
    for n in range(7):
        _login(client, f"wrong-{n}")
    locks = AuditEvent.objects.filter(action="lock")
    assert locks.count() == 1  # the locking failure only, not each refused try after it
    lock = locks.get()
    assert (lock.model, lock.object_pk, lock.object_repr) == ("auth.user", str(staff.pk), "alice")
    assert lock.after["failures"] == 5 and lock.after["locked_until"]
    assert lock.user is None and lock.who == "system"
    assert "pw-alice" not in str(lock.after) and "wrong" not in str(lock.after)

    _let_the_lock_run_out()
    _login(client, RIGHT)
    unlock = AuditEvent.objects.get(action="unlock")
    assert unlock.after == {"username": "alice", "reason": "the lock period ended"}
    assert unlock.user is None


def test_a_staff_member_unlocks_in_the_admin_and_it_is_audited(client, staff, db):
    for n in range(5):
        _login(client, f"wrong-{n}")
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    admin_client = Client()
    admin_client.force_login(admin)
    attempts = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "alice" in attempts  # staff see who is locked
    attempt = AccessAttempt.objects.get(username="alice")
    response = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    unlock = AuditEvent.objects.get(action="unlock")
    assert unlock.user == admin and unlock.after["reason"] == "unlocked by staff"
    assert _login(client, RIGHT).status_code == 302
    # The lock and unlock are listed in the admin's audit events.
    events = admin_client.get("/admin/lims/auditevent/?model=auth.user").content.decode()
    assert "Locked" in events and "Unlocked" in events


def test_an_unknown_username_is_answered_like_any_other(client, db):
    for n in range(5):
        _login(client, f"wrong-{n}", username="nobody")
    response = _login(client, "anything", username="nobody")
    assert response.status_code == 429
    assert AuditEvent.objects.get(action="lock").object_pk == ""


def test_a_lock_without_an_end_says_a_staff_member_unlocks_it(client, staff, settings):
    # LIMS_LOGIN_LOCK_MINUTES=0
    settings.AXES_COOLOFF_TIME = None
    for n in range(5):
        _login(client, f"wrong-{n}")
    page = _login(client, RIGHT).content.decode()
    assert "A staff member can unlock it." in page


def test_the_test_clients_login_without_a_request_still_works(staff):
    # Client.login() calls authenticate() without a request, which axes alone refuses.
    assert Client().login(username="alice", password=RIGHT)
    assert not Client().login(username="alice", password="wrong")
