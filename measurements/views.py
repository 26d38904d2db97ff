from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import permissions
from core.downloads import attachment
from core.forms import apply_service_errors
from core.selectors import items_by_codes
from core.services import RecordChanged
from core.signatures import audit_if_locked, locking_signature
from core.tables import Column
from core.views import TableView, changed_meanwhile, posted_version, staff_required

from . import canonical, dashboard, filters, forms, selectors, services, storage
from .models import Measurement, Status, TemperatureSeries
from .parsers import ParseError, generic_csv
from .plot_payload import PlotInputError


class MeasurementList(TableView):
    """Every measurement, doubtful and waiting ones first unless sorted by a column."""

    filterset_class = filters.MeasurementFilter
    template_name = "measurements/list.html"
    rows_template_name = "measurements/_list_rows.html"
    csv_name = "measurements"

    def get_columns(self):
        return [
            Column("code", "code"),
            Column("sample", "item"),
            Column("what", "item.summary", order="item__summary"),
            Column("technique", "get_technique_display"),
            Column("T (°C)", "temperature_c"),
            Column("status", "get_status_display"),
            Column("created", "created_at"),
        ]

    def get_queryset(self):
        return selectors.attention_first(selectors.with_related())


measurement_list = MeasurementList.as_view()


@staff_required
def measurement_create(request: HttpRequest) -> HttpResponse:
    initial = {"item": request.GET.get("item", ""), "technique": request.GET.get("technique")}
    form = forms.MeasurementForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        item, uploads = data.pop("item"), data.pop("files")
        permissions.check_write(request.user, item)
        try:
            measurement = services.measurement_create(
                user=request.user, item=item, fields=data, uploads=uploads
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except services.storage.TooLarge as exc:
            form.add_error("files", str(exc))
        else:
            messages.success(request, f"Saved {measurement.code}; processing has been queued.")
            return redirect(measurement)
    if request.method == "POST" and request.FILES.getlist("files") and "files" not in form.errors:
        # A browser never refills a file input: say so, or the next save has no raw file.
        names = ", ".join(f.name for f in request.FILES.getlist("files"))
        form.add_error("files", f"Nothing was saved: choose the file(s) again ({names}).")
    status = 400 if request.method == "POST" else 200
    return render(request, "measurements/form.html", {"form": form}, status=status)


def _measurement(request: HttpRequest, code: str, queryset=None, *, write: bool = False):
    """The measurement with this code among those of the user's projects (else 404); with
    `write`, 403 unless the user records in its project."""
    queryset = Measurement.objects.all() if queryset is None else queryset
    queryset = permissions.scope(queryset, request.user, "item__project")
    measurement = get_object_or_404(queryset, code__iexact=code)
    if write:
        permissions.check_write(request.user, measurement)
    return measurement


def _detail_context(
    measurement: Measurement, sheet: str | None = None, cycles: str | None = None
) -> dict:
    try:
        plot, plot_error = selectors.plot_data(measurement, cycles), None
    except PlotInputError as exc:
        # The plots with the default cycles, and why the cycles asked for are not shown.
        plot, plot_error = selectors.plot_data(measurement), exc
    context = {
        "m": measurement,
        "files": measurement.files.select_related("raw_file"),
        "results": selectors.results_by_kind(measurement),
        "warnings": selectors.warnings_of(measurement),
        "plot": plot,
        "plot_error": plot_error,
        "cycles_asked": cycles,
        "cycles": measurement.cycles.all()[:30],
        "n_cycles": measurement.cycles.count(),
        "settings_form": forms.MeasurementSettingsForm(instance=measurement),
        "add_form": forms.AddFilesForm(),
        # A signed record's measurement: no write controls, the signature named instead.
        "locked": locking_signature(measurement.item_id),
    }
    if (
        measurement.status == Status.FAILED
        and "needs a column mapping" in measurement.status_detail
    ):
        context["mapping"] = _mapping_form(measurement, sheet=sheet)
    return context


def measurement_detail(request: HttpRequest, code: str) -> HttpResponse:
    measurement = _measurement(request, code, selectors.with_related())
    context = _detail_context(
        measurement, sheet=request.GET.get("sheet") or None, cycles=request.GET.get("cycles")
    )
    context["may_write"] = permissions.can_write(request.user, measurement)
    status = 400 if context["plot_error"] else 200
    return render(request, "measurements/detail.html", context, status=status)


def measurement_status(request: HttpRequest, code: str) -> HttpResponse:
    """HTMX partial polled while a measurement is queued or processing; reloads when done."""
    measurement = _measurement(request, code)
    return _polled(request, "measurements/_status.html", {"m": measurement}, measurement.status)


def _polled(request: HttpRequest, template: str, context: dict, status: str) -> HttpResponse:
    """A status partial; once the state it was polled for (queued, processing) is over, the
    page reloads to show the results."""
    response = render(request, template, context)
    running = (Status.QUEUED, Status.PROCESSING)
    if status not in running and request.GET.get("was") in running:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@staff_required
def measurement_rerun(request: HttpRequest, code: str) -> HttpResponse:
    measurement = _measurement(request, code, write=True)
    services.measurement_reprocess(measurement)
    messages.success(request, "Re-run queued.")
    return redirect(measurement)


@require_POST
@staff_required
def measurement_settings(request: HttpRequest, code: str) -> HttpResponse:
    measurement = _measurement(request, code, write=True)
    form = forms.MeasurementSettingsForm(request.POST, instance=measurement)
    if form.is_valid():
        try:
            services.measurement_update(
                measurement, fields=form.cleaned_data, expected_version=posted_version(request)
            )
        except RecordChanged as exc:
            # The page is shown again with the current version: saving again overwrites.
            messages.error(request, changed_meanwhile(exc.current, exc.current.code))
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Settings saved; results are being recomputed.")
            return redirect(measurement)
    measurement.refresh_from_db()
    context = {**_detail_context(measurement), "settings_form": form}
    return render(request, "measurements/detail.html", context, status=400)


@require_POST
@staff_required
def measurement_add_files(request: HttpRequest, code: str) -> HttpResponse:
    measurement = _measurement(request, code, write=True)
    form = forms.AddFilesForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.measurement_add_files(
                measurement, form.cleaned_data["files"], user=request.user
            )
        except services.storage.TooLarge as exc:
            form.add_error("files", str(exc))
        else:
            return redirect(measurement)
    context = {**_detail_context(measurement), "add_form": form}
    return render(request, "measurements/detail.html", context, status=400)


@require_POST
@staff_required
def measurement_remove_file(request: HttpRequest, code: str, link_id: int) -> HttpResponse:
    measurement = _measurement(request, code, write=True)
    try:
        services.measurement_remove_file(measurement, link_id)
    except ValidationError as exc:
        audit_if_locked(exc, action="web detach file")
        messages.error(request, " ".join(exc.messages))
    return redirect(measurement)


def _mapping_form(measurement: Measurement, data=None, sheet: str | None = None) -> dict:
    """The mapping form over a preview of the measurement's first file; for a spreadsheet, of
    the sheet asked for (``?sheet=`` on the page, the form's ``sheet`` when posted)."""
    link = measurement.files.select_related("raw_file").first()
    sheet = (data.get("sheet") if data is not None else None) or sheet
    try:  # the columns proposed must be the file's, not a damaged copy's
        with storage.local_raw(link.raw_file.sha256, link.filename) as path:
            try:
                preview = generic_csv.preview(path, options={"sheet": sheet} if sheet else None)
            except ParseError as exc:
                if not sheet:
                    return {"error": exc.message}
                # An unknown sheet (a stale link): show the default sheet and say why.
                preview = generic_csv.preview(path)
                preview["problem"] = exc.message
    except storage.Damaged as exc:
        return {"error": str(exc)}
    canonical_names = [
        *canonical.CYCLING_COLUMNS,
        *canonical.EIS_COLUMNS,
        canonical.TEMPERATURE_C,
        canonical.MASS_MG,
        canonical.MASS_PCT,
        *canonical.XRD_COLUMNS,
    ]
    initial = {f"map_{k}": v for k, v in preview["suggested_mapping"].items()}
    initial["kind"] = preview["suggested_kind"] or "cycling"
    initial["sheet"] = preview["sheet"] or ""
    form = forms.ColumnMappingForm(
        data,
        initial=initial,
        columns=preview["columns"],
        canonical=list(dict.fromkeys(canonical_names)),
        sheets=preview["sheets"],
    )
    return {"form": form, "preview": preview}


@require_POST
@staff_required
def measurement_mapping(request: HttpRequest, code: str) -> HttpResponse:
    """Confirm the column mapping of a generic CSV file (or a sheet of a spreadsheet) and
    process it with that mapping."""
    measurement = _measurement(request, code, write=True)
    mapping = _mapping_form(measurement, request.POST)
    # A sheet that cannot be read previews the default sheet instead: saving nothing then.
    refused = "form" not in mapping or "problem" in mapping["preview"]
    if refused or not mapping["form"].is_valid():
        context = {**_detail_context(measurement), "mapping": mapping}
        return render(request, "measurements/detail.html", context, status=400)
    options = mapping["form"].options()
    services.measurement_set_mapping(
        measurement,
        kind=options["kind"],
        mapping=options["mapping"],
        sheet=options.get("sheet"),
    )
    return redirect(measurement)


def raw_file_download(request: HttpRequest, sha256: str) -> HttpResponse:
    """The raw file for a browser (scripts use `/api/raw-files/<sha256>/` with a token)."""
    try:
        raw, handle = selectors.raw_file_for_download(sha256, request.user)
    except storage.Damaged as exc:
        context = {"reason": str(exc), "measurements": selectors.measurements_using(exc.sha256)}
        return render(request, "measurements/raw_file_damaged.html", context, status=409)
    return attachment(handle, raw.original_name)


def dashboard_running(request: HttpRequest) -> HttpResponse:
    """HTMX partial of the home page: what is being processed, polled while anything is; the
    home page reloads (new results, plots) once it is all done."""
    context = dashboard.running_context(request)
    status = Status.PROCESSING if context["rows"] else Status.DONE
    return _polled(request, "measurements/_dash_running.html", context, status)


def series_status(request: HttpRequest, code: str) -> HttpResponse:
    """HTMX partial polled while an item's temperature series is queued or processing."""
    series = get_object_or_404(
        permissions.scope(
            TemperatureSeries.objects.select_related("item"), request.user, "item__project"
        ),
        item__code__iexact=code,
    )
    return _polled(request, "measurements/_series_status.html", {"ts": series}, series.status)


@require_POST
@staff_required
def series_points(request: HttpRequest, code: str) -> HttpResponse:
    """Include, exclude or hand back to the outlier check one point of an item's series."""
    item = get_object_or_404(permissions.visible_items(request.user), code__iexact=code)
    permissions.check_write(request.user, item)
    measurement = request.POST.get("measurement", "")
    choice = request.POST.get("choice", "")
    try:
        services.temperature_series_set_points(item, {measurement: choice}, user=request.user)
    except ValidationError as exc:
        audit_if_locked(exc, action="web series point")
        messages.error(request, " ".join(exc.messages))
    else:
        words = {"include": "included", "exclude": "excluded", "auto": "left to the outlier check"}
        messages.success(
            request,
            f"{measurement.upper()} {words[choice.strip().lower()]}; the fits are being recomputed.",
        )
    return redirect(f"{item.get_absolute_url()}#temperature-series")


@require_POST
@staff_required
def measure_again(request: HttpRequest, code: str) -> HttpResponse:
    """The new version of a record measured again from its earlier version's raw files."""
    item = get_object_or_404(permissions.visible_items(request.user), code__iexact=code)
    try:  # the service checks the user records in the item's project
        made = services.measurements_measure_again(item, user=request.user)
    except ValidationError as exc:
        audit_if_locked(exc, action="web measure again")
        messages.error(request, " ".join(exc.messages))
    else:
        codes = ", ".join(m.code for m in made)
        messages.success(
            request,
            f"{len(made)} measurement{'s' if len(made) != 1 else ''} ({codes}) queued with the "
            f"raw files of {made[0].carried_from.item.code}, computed with {item.code}'s values.",
        )
    return redirect(item)


# The comparison page draws every item's curves in one browser tab: 100 is plenty to compare.
MAX_COMPARE_ITEMS = 100


def _compare_query(request: HttpRequest) -> tuple[list[str], int | None, dict[str, str]]:
    """(codes, cycle, errors by field) from `?items=A,B` (or repeated `items`, as checkboxes
    send them) and `?cycle=N`."""
    errors = {}
    codes = [c for text in request.GET.getlist("items") for c in text.replace(" ", ",").split(",")]
    codes = [c for c in codes if c.strip()]
    if len(codes) > MAX_COMPARE_ITEMS:
        errors["items"] = f"At most {MAX_COMPARE_ITEMS} items at once ({len(codes)} chosen)."
        codes = codes[:MAX_COMPARE_ITEMS]
    raw = request.GET.get("cycle", "").strip() or "1"
    cycle = int(raw) if raw.isdigit() and 1 <= int(raw) <= 1_000_000 else None
    if cycle is None:
        errors["cycle"] = f"'{raw}' is not a cycle number: a whole number from 1 to 1000000."
    return codes, cycle, errors


def compare(request: HttpRequest) -> HttpResponse:
    """Several items side by side: capacity, retention and voltage profiles of cells, Nyquist
    plots, Arrhenius plots, from whatever measurements the items have."""
    codes, cycle, errors = _compare_query(request)
    items, unknown = items_by_codes(codes, request.user)
    if unknown:
        errors["items"] = "No item with code " + ", ".join(unknown) + "."
    data = selectors.comparison(items, cycle) if items and cycle is not None else None
    context = {
        "items": items,
        "codes": ",".join(i.code for i in items),
        "cycle": request.GET.get("cycle", "1") if cycle is None else cycle,
        "errors": errors,
        "error_list": list(errors.items()),
        "data": data,
    }
    status = 400 if errors and not data else 200
    return render(request, "measurements/compare.html", context, status=status)
