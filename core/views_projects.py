"""Project pages: my projects, a project's items and members, and (for its managers) adding,
removing and changing the roles of members. The writes are `core.projects`' services, which
the API calls too."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import permissions, projects
from .forms import LabForm, LabModelForm
from .models import Project, ProjectRole

# Items shown on a project's page; the lists (filtered by project) show all of them.
RECENT_ITEMS = 50


class MemberForm(LabForm):
    username = forms.CharField(label="User name", max_length=150)
    role = forms.ChoiceField(label="Role", choices=ProjectRole.choices)


class ProjectForm(LabModelForm):
    # A plain text box: the code's rule (length included) and its "already exists" are
    # core.projects' (the API's too), not the model's slug, length and unique messages.
    code = forms.CharField(
        label="Code",
        help_text="letters, digits, - or _; e.g. LAB",
        widget=forms.TextInput(attrs={"maxlength": projects.CODE_MAX}),
    )

    class Meta:
        model = Project
        fields = ["code", "name", "description"]

    def clean_code(self) -> str:
        return projects.clean_code(self.cleaned_data["code"])


def _apply(form, exc: ValidationError) -> None:
    """A service's refusal shown on the form's field ("user" is the form's user name)."""
    names = {"user": "username"}
    for field, errors in exc.message_dict.items():
        name = names.get(field, field)
        form.add_error(name if name in form.fields else None, errors)


def project_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"project": p, "role": permissions.role(request.user, p)}
        for p in projects.my_projects(request.user)
    ]
    form = ProjectForm() if projects.can_create(request.user) else None
    return render(request, "lims/projects.html", {"rows": rows, "form": form})


@require_POST
def project_new(request: HttpRequest) -> HttpResponse:
    if not projects.can_create(request.user):
        raise PermissionDenied(projects.CREATE_REFUSED)
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = projects.project_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, f"Project {project.code} made; you are its manager.")
            return redirect(project)
    rows = [
        {"project": p, "role": permissions.role(request.user, p)}
        for p in projects.my_projects(request.user)
    ]
    return render(request, "lims/projects.html", {"rows": rows, "form": form}, status=400)


def _detail(request, project, member_form=None, status=200) -> HttpResponse:
    context = {
        "project": project,
        "role": permissions.role(request.user, project),
        "may_manage": permissions.can_manage(request.user, project),
        "may_write": permissions.can_write(request.user, project),
        "members": projects.members(project),
        "items": project.items.order_by("-created_at", "-id")[:RECENT_ITEMS],
        "n_items": project.items.count(),
        "member_form": member_form or MemberForm(initial={"role": ProjectRole.VIEWER}),
        "roles": ProjectRole.choices,
        "exports": projects.exports_of(request.user, project)[:3],
    }
    return render(request, "lims/project_detail.html", context, status=status)


def project_detail(request: HttpRequest, code: str) -> HttpResponse:
    return _detail(request, projects.project_by_code(request.user, code))


@require_POST
def project_members(request: HttpRequest, code: str) -> HttpResponse:
    """Add a member or change a role (`username`, `role`), or remove one (`remove`)."""
    project = projects.project_by_code(request.user, code)
    permissions.check_manage(request.user, project)
    if "remove" in request.POST:
        username = request.POST.get("remove", "")
        try:
            projects.membership_remove(project, by=request.user, username=username)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{username} is no longer a member of {project.code}.")
        return redirect(project)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            membership = projects.membership_set(project, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply(form, exc)
        else:
            role = membership.get_role_display().lower()
            messages.success(request, f"{membership.user} is now a {role} of {project.code}.")
            return redirect(project)
    return _detail(request, project, member_form=form, status=400)
