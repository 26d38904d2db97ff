"""Who may see and change what: the one place the web pages and the API both ask.

A user sees the items of the projects they are a member of (any role) and nothing else; a
`member` or `manager` records (creates and changes items of the project), a `manager` also
manages the members and signs. Superusers see and do everything. `is_staff` only means "may use
the admin"; it grants no data.

Measurements, results, raw files and cycles belong to their item's project: scope their
querysets with `scope(queryset, user, "item__project")` (the path to the project).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404

from .models import DEFAULT_PROJECT_CODE, Item, Membership, Project, ProjectRole

WRITE_ROLES = (ProjectRole.MEMBER, ProjectRole.MANAGER)

# A write into a project the user only reads (or a user who reads only): 403 with this.
READ_ONLY_MESSAGE = (
    "You are read-only in project {project} (a viewer): you can read its records, not change them."
)
NO_WRITE_MESSAGE = (
    "Your account is read-only: you record in no project. A project's manager can make you "
    "a member who does."
)


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_superuser(user) -> bool:
    return _active(user) and user.is_superuser


def _cache(user) -> dict[int, str]:
    """project id -> role, read once per user object (one request)."""
    cached = getattr(user, "_lims_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
        user._lims_roles = cached
    return cached


def forget(user) -> None:
    """Drop the roles read for this user object (after their memberships changed)."""
    if user is not None and hasattr(user, "_lims_roles"):
        del user._lims_roles


def project_ids(user, roles=None) -> list[int] | None:
    """Ids of the projects where `user` has one of `roles` (any role when None); None means
    every project (a superuser)."""
    if is_superuser(user):
        return None
    if not _active(user):
        return []
    return [pid for pid, role in _cache(user).items() if roles is None or role in roles]


def scope(queryset: QuerySet, user, path: str | None = "project") -> QuerySet:
    """`queryset` cut to the rows `user` may see; `path` leads from its model to the project
    (`project` for items, `item__project` for measurements and results); "auto": found
    from the model (`path_to_project`); None: shared, not cut."""
    if path == "auto":
        path = path_to_project(queryset.model)
    if path is None or is_superuser(user):
        return queryset
    if not _active(user):
        return queryset.none()
    # A subquery, not a list read first: a scoped list costs no query more than before.
    ids = Membership.objects.filter(user=user).values("project_id")
    if path == "pk":
        return queryset.filter(pk__in=ids)
    return queryset.filter(**{f"{path}__in": ids})


def visible_items(user) -> QuerySet:
    return scope(Item.objects.all(), user)


def visible_projects(user) -> QuerySet:
    ids = project_ids(user)
    projects = Project.objects.all()
    return projects if ids is None else projects.filter(pk__in=ids)


def writable_projects(user) -> QuerySet:
    ids = project_ids(user, WRITE_ROLES)
    projects = Project.objects.all()
    return projects if ids is None else projects.filter(pk__in=ids)


def project_of(obj) -> Project | int | None:
    """The project (or its id) `obj` belongs to: a project, an item, or a record of an item
    (a measurement, result or series through `item`, a pellet set through `batch`); None for
    shared records (chemicals)."""
    if isinstance(obj, Project):
        return obj
    if isinstance(obj, Item):
        return obj.project_id
    for attr in ("item", "batch"):  # a measurement, result, series; a pellet set
        owner = getattr(obj, attr, None)
        if isinstance(owner, Item):
            return owner.project_id
    return None


def _project_id(obj) -> int | None:
    if isinstance(obj, int):
        return obj
    project = project_of(obj)
    return project.pk if isinstance(project, Project) else project


def role(user, project: Project | int) -> str | None:
    """`user`'s role in the project ("viewer", "member", "manager"), "manager" for a
    superuser, None when not a member."""
    if is_superuser(user):
        return ProjectRole.MANAGER
    if not _active(user):
        return None
    pid = project.pk if isinstance(project, Project) else project
    return _cache(user).get(pid)


def can_view(user, obj) -> bool:
    """Whether `user` sees the item (or project, or measurement/result of an item)."""
    pid = _project_id(obj)
    return pid is not None and role(user, pid) is not None


def can_write(user, obj) -> bool:
    """Whether `user` may create and change records in the project of `obj` (an item, a
    project, a measurement)."""
    pid = _project_id(obj)
    return pid is not None and role(user, pid) in WRITE_ROLES


def can_write_any(user) -> bool:
    """Whether `user` records in at least one project (shows the "New" buttons)."""
    ids = project_ids(user, WRITE_ROLES)
    return ids is None or bool(ids)


def can_manage(user, project: Project | int) -> bool:
    return role(user, project) == ProjectRole.MANAGER


def can_sign(user, item) -> bool:
    """A manager of the item's project signs it; so may its author (a member who created it)
    where the lab allows that (`LIMS_AUTHOR_MAY_SIGN=1`)."""
    pid = _project_id(item)
    if pid is None:
        return False
    if can_manage(user, pid):
        return True
    author_id = getattr(item, "created_by_id", None)
    return bool(
        getattr(settings, "LIMS_AUTHOR_MAY_SIGN", False)
        and _active(user)
        and author_id == user.pk
        and can_write(user, pid)
    )


# --- checks that answer the way the pages and the API must ----------------------------------


def check_view(user, obj) -> None:
    """404 (not 403) for an object the user cannot see: its existence is not told."""
    if not can_view(user, obj):
        raise Http404("No such record.")


def write_refusal(obj) -> str:
    project = project_of(obj)
    if not isinstance(project, Project):
        project = Project.objects.get(pk=project)
    return READ_ONLY_MESSAGE.format(project=project.code)


def check_write(user, obj) -> None:
    """404 for what the user cannot see, 403 naming their role for what they only read."""
    check_view(user, obj)
    if not can_write(user, obj):
        raise PermissionDenied(write_refusal(obj))


def path_to_project(model) -> str | None:
    """The lookup from `model` to its project ("project", "item__project", ...), None for a
    model that belongs to no project (chemicals, users)."""
    if issubclass(model, Item):
        return "project"
    if issubclass(model, Project):
        return "pk"
    fields = {f.name: f for f in model._meta.get_fields() if f.is_relation and f.related_model}
    item = fields.get("item") or fields.get("batch")
    if item is not None and issubclass(item.related_model, Item):
        return f"{item.name}__project"
    if "measurement" in fields:  # a measurement's file or cycle row
        return "measurement__item__project"
    return None


def check_write_any(user) -> None:
    if not can_write_any(user):
        raise PermissionDenied(NO_WRITE_MESSAGE)


def check_manage(user, project: Project) -> None:
    check_view(user, project)
    if not can_manage(user, project):
        raise PermissionDenied(f"Only a manager of project {project.code} can change its members.")


def default_project() -> Project:
    """The lab's default project (made again if a test database was emptied)."""
    project, _ = Project.objects.get_or_create(code=DEFAULT_PROJECT_CODE, defaults={"name": "Lab"})
    return project


def project_for_new_item(user, project: Project | None) -> Project:
    """The project a new item goes into: the one named, which the user must record in; else
    the user's only such project; without a user (demo loader, worker, shell) the default
    one. A user recording in several projects must name one (a clear error on "project")."""
    if project is not None:
        if user is not None and _active(user) and not can_write(user, project):
            if can_view(user, project):
                raise PermissionDenied(READ_ONLY_MESSAGE.format(project=project.code))
            raise ValidationError({"project": f"No project {project.code} of yours."})
        return project
    if user is None or not _active(user):
        return default_project()
    if is_superuser(user):
        ids = list(
            Membership.objects.filter(user=user, role__in=WRITE_ROLES).values_list(
                "project_id", flat=True
            )
        )
        return Project.objects.get(pk=ids[0]) if len(ids) == 1 else default_project()
    ids = project_ids(user, WRITE_ROLES)
    if len(ids) == 1:
        return Project.objects.get(pk=ids[0])
    if not ids:
        raise PermissionDenied(NO_WRITE_MESSAGE)
    codes = ", ".join(writable_projects(user).values_list("code", flat=True))
    raise ValidationError({"project": f"Choose the project this record belongs to ({codes})."})


def context(request) -> dict:
    """Template context: `may_write`, whether the user records in some project (the "New"
    buttons; an item's page sets it for that item's project). Lazy: a page that never asks
    costs no query."""
    from django.utils.functional import SimpleLazyObject

    return {"may_write": SimpleLazyObject(lambda: can_write_any(getattr(request, "user", None)))}
