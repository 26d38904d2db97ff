"""Who may do what to a record beyond reading and writing it."""

from __future__ import annotations

from django.conf import settings


def can_sign(user, item) -> bool:
    """Staff (the lab's managers) sign finished records; the record's author too when the lab
    allows it (`LIMS_AUTHOR_MAY_SIGN`)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.is_staff:
        return True
    return bool(settings.LIMS_AUTHOR_MAY_SIGN and item.created_by_id == user.pk)
