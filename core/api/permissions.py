"""Who may do what through the API: the rules of `core.permissions`, as DRF permissions.

Reads: every logged-in user, of what their projects hold (the querysets are cut to it, so a
record of another project is a 404, not a 403). Writes: a member or manager of the record's
project; a viewer gets 403 naming their role."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from core import permissions


class ProjectRolePermission(BasePermission):
    message = permissions.NO_WRITE_MESSAGE

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or permissions.can_write_any(user)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or permissions.project_of(obj) is None:
            return True  # shared records (chemicals): the view-level rule decides
        if not permissions.can_write(request.user, obj):
            raise PermissionDenied(permissions.write_refusal(obj))
        return True


# The name other modules (and older branches) know it by.
StaffWritesOrReadOnly = ProjectRolePermission
