"""Web pages of the open exports: an ELN file of ticked items (list and search pages' Export
action), an item's BattINFO JSON-LD, and the import of an .eln file (staff).

They call the same functions as the API (`lims.eln`, `lims.battinfo`), so a page and a
script get the same file and the same refusals."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import projects
from core.audit import acting_as
from core.downloads import attachment
from core.forms import project_field
from core.views import staff_required
from measurements import storage

from . import eln, exports

EXPORT_PARAMETERS = {"items"}


def _refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "lims/export_refused.html", {"message": message}, status=status)


@require_GET
def export_selection(request: HttpRequest) -> HttpResponse:
    """The ticked items (`?items=A&items=B`, the selection forms' checkboxes) with their
    ancestry as one .eln file."""
    unknown = sorted(set(request.GET) - EXPORT_PARAMETERS)
    if unknown:
        return _refused(request, f"Unknown parameter {', '.join(unknown)}: this page takes items.")
    try:
        items = eln.items_for_codes(request.GET.getlist("items"), request.user)
    except eln.ExportRefused as exc:
        message = str(exc)
        if not request.GET.getlist("items"):
            message = "No item is ticked: tick the items to export, then press Export (.eln)."
        return _refused(request, message)
    try:
        handle = eln.export_file(items, base_url=request.build_absolute_uri("/"), user=request.user)
    except storage.Damaged as exc:
        return _refused(request, str(exc), status=409)
    return attachment(handle, f"{eln.export_name(items)}.eln")


@require_http_methods(["GET", "POST"])
@staff_required
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload an .eln file made by this LIMS (here or elsewhere); shows the codes it created
    (old code -> code here) or why it was refused."""
    # The project the items go into: a choice only for someone recording in several.
    chooser = forms.Form(request.POST if request.method == "POST" else None)
    chooser.fields["project"] = project_field(request.user)
    context: dict = {"report": None, "error": None, "chooser": chooser}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["error"], status = "File: choose an .eln file to import.", 400
        elif not chooser.is_valid():
            context["error"], status = f"Project: {chooser.errors['project'][0]}", 400
        else:
            try:
                with acting_as(request.user):
                    context["report"] = eln.import_eln(
                        upload, user=request.user, project=chooser.cleaned_data["project"]
                    )
            except eln.ImportRefused as exc:
                context["error"], status = f"{upload.name} was not imported: {exc}", 400
            else:
                context["filename"] = upload.name
    return render(request, "lims/eln_import.html", context, status=status)


# -- a whole project's export, written by a worker (lims.exports) --------------------------------


@require_POST
def project_export_start(request: HttpRequest, code: str) -> HttpResponse:
    """Ask for the project's .eln file; the project page then shows how far it is."""
    project = projects.project_by_code(request.user, code)
    try:
        export = exports.request_project_export(
            project, user=request.user, base_url=request.build_absolute_uri("/")
        )
    except eln.ExportRefused as exc:
        messages.error(request, f"Nothing exported: {exc}.")
    else:
        messages.success(
            request,
            f"The export of {project.code} is being written (export {export.pk}); this page "
            "shows when it is ready to download.",
        )
    return redirect(project)


@require_GET
def project_exports(request: HttpRequest, code: str) -> HttpResponse:
    """The project page's list of your exports (polled while one is being written)."""
    project = projects.project_by_code(request.user, code)
    context = {"project": project, "exports": projects.exports_of(request.user, project)[:3]}
    return render(request, "lims/_project_exports.html", context)


@require_GET
def project_export_download(request: HttpRequest, code: str, export_id: int) -> HttpResponse:
    project = projects.project_by_code(request.user, code)
    export = exports.export_of(request.user, project, export_id)
    if export is None:
        raise Http404(f"No export {export_id} of project {project.code} of yours.")
    try:
        handle = exports.open_export(export)
    except exports.ExportUnavailable as exc:
        return _refused(request, f"{exc}.", 409)
    return attachment(handle, export.filename)
