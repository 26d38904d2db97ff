"""Who may do what through the API: everyone logged in reads, staff write."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission


class StaffWritesOrReadOnly(BasePermission):
    """Reads for any authenticated user; creates, changes and deletes for staff only
    (the same rule as the web forms: read-only accounts exist)."""

    message = "Only staff can change records; this account is read-only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff
