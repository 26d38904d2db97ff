"""Projects and their members: the reads and writes the project pages and `/api/projects/`
share. Every change is a row of the audit log (Project and Membership are audited models); a
manager manages the members of their project, a user with the `lims.add_project` permission (a
superuser, or whom the admin gives it) makes new projects and becomes their manager."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet

from . import permissions
from .models import Membership, Project, ProjectExport, ProjectRole

ROLE_CHOICES = ", ".join(ProjectRole.values)
CREATE_REFUSED = (
    "Making projects needs the permission to add projects: ask an administrator to make the "
    "project or give you that permission."
)

# What a project code may hold, said once for the page, the API and the service (Django's own
# "valid slug" message means nothing at the bench). Codes are stored upper-case.
CODE_MAX = 20
CODE_PATTERN = re.compile(rf"[A-Z0-9_-]{{1,{CODE_MAX}}}")
CODE_RULE = (
    f"A project code is 1 to {CODE_MAX} letters (A-Z), digits, dashes or underscores, "
    "without spaces or accents, e.g. LAB or SSB-2027."
)


def code_taken(code: str) -> str:
    return f"There is already a project {code}; choose another code."


def clean_code(code: str) -> str:
    """A new project's code, upper-cased, or a ValidationError saying what a code may hold or
    that a project has it (in any case: LAB and lab are one code)."""
    code = (code or "").strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise ValidationError(CODE_RULE, code="invalid")
    if Project.objects.filter(code__iexact=code).exists():
        raise ValidationError(code_taken(code), code="unique")
    return code


# --- reads ---------------------------------------------------------------------------------


def exports_of(user, project: Project) -> QuerySet:
    """The user's exports of the project, newest first: only theirs, as each holds what its
    requester may see (lims/exports.py writes them)."""
    return ProjectExport.objects.filter(project=project, requested_by=user).select_related(
        "project"
    )


def my_projects(user) -> QuerySet:
    """The projects `user` sees, with their item and member counts."""
    return permissions.visible_projects(user).annotate(
        n_items=Count("items", distinct=True), n_members=Count("memberships", distinct=True)
    )


def project_by_code(user, code: str) -> Project:
    """The project with this code among those `user` sees; 404 otherwise."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(permissions.visible_projects(user), code__iexact=code.strip())


def members(project: Project) -> QuerySet:
    return project.memberships.select_related("user").order_by("user__username")


def managed_only_by(user) -> list[Project]:
    """The projects whose only active manager is `user`: those left without one if `user` is
    deactivated (a superuser then names a new manager)."""
    return [
        m.project
        for m in Membership.objects.filter(user=user, role=ProjectRole.MANAGER)
        .select_related("project")
        .order_by("project__code")
        if not _active_managers(m.project).exclude(user=user).exists()
    ]


def can_create(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm("lims.add_project"))


# --- writes --------------------------------------------------------------------------------


@transaction.atomic
def project_create(*, user, code: str, name: str, description: str = "") -> Project:
    """A new project, with `user` as its manager."""
    if not can_create(user):
        raise PermissionDenied(CREATE_REFUSED)
    try:
        code = clean_code(code)
    except ValidationError as exc:
        raise ValidationError({"code": exc.messages}) from exc
    project = Project(code=code, name=(name or "").strip(), description=description or "")
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=user, role=ProjectRole.MANAGER)
    permissions.forget(user)
    return project


@transaction.atomic
def project_update(project: Project, *, by, fields: dict) -> Project:
    permissions.check_manage(by, project)
    unknown = set(fields) - {"name", "description"}
    if unknown:
        raise ValidationError({name: "Cannot be changed." for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(project, name, value)
    project.full_clean()
    project.save()
    return project


def _user_named(username: str, *, active: bool = True):
    """The user called `username`; `active=False` also finds a deactivated one (whom a manager
    may still remove from the project)."""
    user = get_user_model().objects.filter(username__iexact=(username or "").strip()).first()
    if user is None or (active and not user.is_active):
        raise ValidationError({"user": f"No active user named {username!r}."})
    return user


def _check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ProjectRole.values:
        raise ValidationError({"role": f"{role!r} is not a role; use one of: {ROLE_CHOICES}."})
    return role


def _active_managers(project: Project) -> QuerySet:
    # A deactivated manager manages nothing (core.permissions ignores inactive users).
    return project.memberships.filter(role=ProjectRole.MANAGER, user__is_active=True)


def _keep_a_manager(project: Project, leaving: Membership) -> None:
    """A project keeps an active manager: refuse to remove or demote its last one (a
    deactivated manager may go, it manages nothing)."""
    if leaving.role != ProjectRole.MANAGER or not leaving.user.is_active:
        return
    if not _active_managers(project).exclude(pk=leaving.pk).exists():
        raise ValidationError(
            {
                "user": f"{leaving.user} is the last manager of {project.code}: make another "
                "member a manager first."
            }
        )


@transaction.atomic
def membership_set(project: Project, *, by, username: str, role: str) -> Membership:
    """Add `username` to the project with `role`, or change their role (managers only)."""
    permissions.check_manage(by, project)
    role = _check_role(role)
    user = _user_named(username)
    current = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if current is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
    else:
        if current.role != role and role != ProjectRole.MANAGER:
            _keep_a_manager(project, current)
        current.role = role
        current.save()
        membership = current
    permissions.forget(user)
    return membership


@transaction.atomic
def membership_remove(project: Project, *, by, username: str) -> None:
    permissions.check_manage(by, project)
    user = _user_named(username, active=False)
    current = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if current is None:
        raise ValidationError({"user": f"{user} is not a member of {project.code}."})
    _keep_a_manager(project, current)
    current.delete()  # one row, through the model: audited
    permissions.forget(user)
