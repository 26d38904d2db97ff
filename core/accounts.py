"""Login lockout: after `LIMS_LOGIN_FAILURE_LIMIT` wrong passwords in a row an account is locked
for `LIMS_LOGIN_LOCK_MINUTES` (0: until a staff member unlocks it).

django-axes counts the failures and refuses the locked account on every path that calls
`authenticate()` (the login page, the admin's login, the API's password check when a token asks
for its replacement); DRF's token authentication never calls it, so scripts are unaffected. This
module adds what the lab needs on top: the answer in the user's words (when the lock ends), and
the lock and unlock as events of the audit log, shown to staff in the admin's audit events.
"""

from __future__ import annotations

from datetime import datetime

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Sum
from django.db.models.signals import post_delete
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from .audit import SYSTEM, record_event
from .models import AuditAction

LOCKED_STATUS = 429  # Too Many Requests


class LockoutBackend(AxesStandaloneBackend):
    """Axes' backend, minus its error for a call without a request (the test client's
    `login()`, a shell): axes cannot count those, so they are left to the password check.
    Every web path (login page, admin, API) passes its request and is counted."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _failures(username: str) -> tuple[int, datetime | None]:
    found = AccessAttempt.objects.filter(username=username).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    return found["failures"] or 0, found["last"]


def locked_until(username: str) -> datetime | None:
    """When the lock of `username` ends (None: locked until a staff member unlocks it)."""
    _, last = _failures(username)
    cool_off = get_cool_off()
    return last + cool_off if last is not None and cool_off is not None else None


def lock_message(username: str) -> str:
    limit = settings.AXES_FAILURE_LIMIT
    until = locked_until(username)
    if until is None:
        return (
            f"This account is locked after {limit} wrong passwords in a row. "
            "A staff member can unlock it."
        )
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    local = timezone.localtime(until)
    return (
        f"This account is locked after {limit} wrong passwords in a row. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''} (after {local:%H:%M %Z}), "
        "or ask a staff member to unlock it."
    )


def lockout_response(request: HttpRequest, original_response, credentials) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: the login page again, saying the account is locked
    and until when; JSON for the API."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    message = lock_message(username)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=LOCKED_STATUS)
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "locked": message, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=LOCKED_STATUS)


def _account(username: str):
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})
    return user.first()


def _record_account_event(action: str, username: str, after: dict, *, by_staff: bool) -> None:
    account = _account(username)
    record_event(
        action,
        model="auth.user",
        object_pk=str(account.pk) if account is not None else "",
        object_repr=username,
        after={"username": username, **after},
        # The one who failed to log in is nobody yet; an unlock is by whoever deleted the
        # attempts (the admin's user).
        **({} if by_staff else {"user": SYSTEM}),
    )


def _on_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    # Axes sends this again for every attempt while the account is locked; only the failure
    # that locked it has counted the failures.
    if getattr(request, "axes_failures_since_start", None) is None or not username:
        return
    until = locked_until(username)
    _record_account_event(
        AuditAction.LOCK,
        username,
        {
            "failures": request.axes_failures_since_start,
            "locked_until": until.isoformat() if until else None,
            "ip_address": ip_address,
        },
        by_staff=False,
    )


def _on_attempt_deleted(sender, instance: AccessAttempt, **kwargs) -> None:
    """An unlock: by a staff member (the admin's Access attempts, `axes_reset_username`) or
    because the lock period ended (axes deletes the old attempts at the next login)."""
    if not instance.username:
        return
    left, _ = _failures(instance.username)
    limit = settings.AXES_FAILURE_LIMIT
    if not (left < limit <= left + instance.failures_since_start):
        return  # it was not locked, or still is
    cool_off = get_cool_off()
    expired = cool_off is not None and instance.attempt_time + cool_off <= timezone.now()
    _record_account_event(
        AuditAction.UNLOCK,
        instance.username,
        {"reason": "the lock period ended" if expired else "unlocked by staff"},
        by_staff=not expired,
    )


def connect_signals() -> None:
    user_locked_out.connect(_on_locked_out, dispatch_uid="lims_account_locked")
    post_delete.connect(_on_attempt_deleted, sender=AccessAttempt, dispatch_uid="lims_unlock")
