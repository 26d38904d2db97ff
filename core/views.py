"""Shared pages: home, search, the item detail page with lineage, and the base create/edit view
every record form uses."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst, slugify
from django.views import View

from . import display, headlines, labels, lineage_graph, permissions, selectors, signatures, tables
from .forms import (
    BadFormData,
    SignForm,
    StepFormSet,
    apply_service_errors,
    project_field,
    step_data,
)
from .history import history_rows
from .models import ITEM_MODELS, AuditEvent, Item, ItemKind
from .permissions import can_sign
from .services import WRITE_OPTIONS, RecordChanged, step_dicts
from .signatures import check_unlocked


def record_kinds() -> list[dict]:
    """Every kind of item with its names (the models' verbose names, so the nav, the home tiles
    and the list titles say "LAGP powder batches" alike) and its list and new-record URLs."""
    return [
        {
            "kind": kind,
            "name": capfirst(ITEM_MODELS[kind]._meta.verbose_name),
            "in_text": ITEM_MODELS[kind]._meta.verbose_name,  # "reagent lot", "SPE membrane"
            "plural": capfirst(ITEM_MODELS[kind]._meta.verbose_name_plural),
            "list_url": reverse(ITEM_MODELS[kind].LIST_URL),
            "new_url": reverse(ITEM_MODELS[kind].NEW_URL),
        }
        for kind in ItemKind.values
        if kind in ITEM_MODELS
    ]


def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: the panels apps register (core.headlines.register_panel; measurements:
    what needs a look, what is being processed, recent results), around the core's own
    record counts and recent records."""
    rendered = [
        {"name": p["name"], "html": render_to_string(p["template"], p["context"], request)}
        for p in headlines.panels(request)
    ]
    return render(request, "lims/home.html", {"panels": rendered})


def _record_counts(request: HttpRequest) -> dict:
    items = permissions.visible_items(request.user)
    counts = dict(items.values_list("kind").annotate(n=Count("id")))
    return {"kinds": [{**k, "count": counts.get(k["kind"], 0)} for k in record_kinds()]}


def _recent_records(request: HttpRequest) -> dict:
    items = permissions.visible_items(request.user)
    return {"recent": items.order_by("-created_at", "-id")[:15]}


headlines.register_panel(headlines.Panel("records", "lims/_home_records.html", _record_counts, 40))
headlines.register_panel(headlines.Panel("recent", "lims/_home_recent.html", _recent_records, 50))


def search(request: HttpRequest) -> HttpResponse:
    """Go to a code: typed, or scanned from a label (the scanner types the code or the QR
    code's URL, and Enter). A code that is no item's lists the codes that contain it."""
    query = labels.scanned_code(request.GET.get("q", ""))
    items = permissions.visible_items(request.user)
    exact = items.filter(code__iexact=query).first() if query else None
    if exact is not None:
        return redirect(exact)
    matches = items.filter(code__icontains=query)[:50] if query else []
    if len(matches) == 1:
        return redirect(matches[0])
    return render(request, "lims/search.html", {"query": query, "matches": matches})


def _depth_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("depth", "")
    return int(raw) if raw.isdigit() else None


def item_detail(request: HttpRequest, code: str) -> HttpResponse:
    item = selectors.item_by_code(code, request.user).specific
    depth = _depth_param(request)
    # Items of projects the user cannot see (a shared reagent lot) show as code and kind only.
    ancestors = selectors.redacted(selectors.lineage(item.pk, "ancestors", depth), request.user)
    descendants = selectors.redacted(selectors.lineage(item.pk, "descendants", depth), request.user)
    parents = list(selectors.direct_parents(item))
    for edge in parents:
        edge.visible = permissions.can_view(request.user, edge.parent)
    context = {
        "item": item,
        "facts": item_facts(item),
        # The results the item is known by (registered by the apps that compute them).
        "headlines": headlines.headlines(item),
        "steps": item.steps.all(),
        "ancestors": ancestors,
        "descendants": descendants,
        "graph": lineage_graph.build(item, ancestors, descendants),
        "parents": parents,
        "may_write": permissions.can_write(request.user, item),
        "history": history_rows(AuditEvent.objects.filter(item=item).select_related("user")[:50]),
        "part_template": select_template([f"parts/{item.kind}.html", "parts/none.html"]),
        "depth": depth,
        "copy_url": f"{reverse(item.NEW_URL)}?copy={item.code}",
        # Temperature-series fits (Arrhenius, VFT) belong to the sample, not to one measurement.
        "series": item.results.filter(measurement__isnull=True),
        # Its signatures, each verified now (a failed check is audited), and its versions.
        "signing": signatures.report(item),
        "can_sign": can_sign(request.user, item),
        "new_version_url": item.new_version_url(),
    }
    return render(request, "lims/item_detail.html", context)


PIECE_VERSION_REFUSED = (
    "{code} is one piece of a set (pressed, cut or punched with others): this form would make "
    "a new set. Its new version is made from its own page (new version)."
)


def item_sign(request: HttpRequest, code: str) -> HttpResponse:
    """Sign a finished record: password re-entered, a meaning, an optional comment. The same
    service as `POST /api/items/<code>/sign/`."""
    item = selectors.item_by_code(code, request.user).specific
    if not can_sign(request.user, item):
        raise PermissionDenied(
            f"You may not sign {item.code}: a manager of project {item.project.code} signs it."
        )
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signature = signatures.sign(
                item,
                user=request.user,
                password=form.cleaned_data["password"],
                meaning=form.cleaned_data["meaning"],
                comment=form.cleaned_data["comment"],
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"{signature.describe()}; it is now locked.")
            return redirect(item)
    status = 400 if request.method == "POST" else 200
    context = {"item": item, "form": form, "signing": signatures.report(item, audit=False)}
    return render(request, "lims/item_sign.html", context, status=status)


def item_edit(request: HttpRequest, code: str) -> HttpResponse:
    item = selectors.item_by_code(code, request.user)
    permissions.check_write(request.user, item)
    view = EDIT_VIEWS.get(item.kind)
    if view is None:
        raise Http404("This kind of item is edited through its set.")
    return view(request, code=item.code)


# kind -> edit view, filled by the apps' url modules (an app knows its own forms).
EDIT_VIEWS: dict[str, object] = {}

# Shown elsewhere on the page (code, notes, who and when) or bookkeeping (version, summary).
BASE_FIELDS = {
    "id",
    "item_ptr",
    "code",
    "kind",
    "notes",
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "summary",
    "project",
}


def item_facts(item: Item) -> list[tuple[str, object]]:
    """Every recorded field of an item with its verbose name (units included), then the values
    derived from them."""
    facts = []
    for field in item._meta.concrete_fields:
        if field.name in BASE_FIELDS:
            continue
        value = getattr(item, field.name)
        if field.choices:
            value = getattr(item, f"get_{field.name}_display")()
        elif isinstance(value, float) and field.editable:  # typed, not derived (active mass)
            value = display.recorded(value)
        facts.append((field.verbose_name, value))
    facts.extend(item.derived_facts() if hasattr(item, "derived_facts") else [])
    return facts


def bound_or_initial(formset_class, data, prefix: str, initial: list[dict]):
    """A posted formset must not get `initial`: Django would treat rows equal to their initial
    values as unchanged extra forms and silently drop them."""
    if data is not None:
        return formset_class(data, prefix=prefix)
    return formset_class(prefix=prefix, initial=initial)


READ_ONLY_MESSAGE = permissions.NO_WRITE_MESSAGE


def require_staff(request: HttpRequest) -> None:
    """Writes are for members who record in some project (the record's own project is checked
    where the record is known); a logged-in read-only user gets the 403 page, not the login
    form (logging in again would not help). The name is kept from when staff wrote."""
    permissions.check_write_any(request.user)


require_writer = require_staff


def staff_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        require_staff(request)
        return view(request, *args, **kwargs)

    return wrapper


class StaffRequiredMixin:
    def dispatch(self, request, *args, **kwargs):
        require_staff(request)
        return super().dispatch(request, *args, **kwargs)


# Submit buttons that re-render the form without saving: "Add a row" (its value is the
# prefix of the grid that grows) and the calculator's "Recalculate" (for browsers without JS).
ADD_ROW = "add_row"
REFRESH_ACTIONS = (ADD_ROW, "recalculate")


def with_added_row(data, formsets: dict) -> tuple[object, str | None]:
    """The posted data with one more row in the grid named by `add_row` (no-JS fallback of the
    grid's own button); unchanged, with a message, when the grid is full."""
    prefix = data.get(ADD_ROW)
    grid = next((fs for fs in formsets.values() if fs.prefix == prefix), None)
    if grid is None:
        return data, None
    total = grid.total_form_count()
    if total >= grid.max_num:
        return data, f"{grid.title or capfirst(prefix)}: no more rows, {grid.max_num} at most."
    data = data.copy()
    data[f"{prefix}-TOTAL_FORMS"] = str(total + 1)
    return data, None


class RecordFormView(StaffRequiredMixin, View):
    """Create or edit one kind of item: its form, its process steps and any part formsets,
    saved by the app's service in one transaction. `?copy=CODE` starts from an earlier record."""

    model: type[Item]
    form_class = None
    default_steps: list[dict] | None = None  # None: this kind has no process steps
    template_name = "lims/record_form.html"
    title = ""
    # A new record asks which project it belongs to (pieces and pellet sets take their
    # sheet's or batch's project instead).
    asks_project = True

    def get_instance(self):
        code = self.kwargs.get("code")
        if not code:
            return None
        item = selectors.item_by_code(code, self.request.user)
        permissions.check_write(self.request.user, item)
        # A signed record has no edit form: the 409 page names the signature.
        check_unlocked(item.pk)
        return item.specific

    def copy_source(self):
        code = self.request.GET.get("copy")
        if not code:
            return None
        source = permissions.visible_items(self.request.user).filter(code__iexact=code).first()
        if source is None or source.kind != self.model.KIND:
            messages.warning(self.request, f"No {self.model._meta.verbose_name} {code} to copy.")
            return None
        return source.specific

    def supersedes(self):
        """`?supersedes=CODE`: the new record is the new version of that (locked) record."""
        code = self.request.GET.get("supersedes")
        if not code or self.kwargs.get("code"):
            return None
        old = permissions.visible_items(self.request.user).filter(code__iexact=code).first()
        if old is None or old.kind != getattr(self.model, "KIND", None):
            messages.warning(self.request, f"No {self.model._meta.verbose_name} {code}.")
            return None
        if ITEM_MODELS[old.kind].IS_PIECE:
            # Pellets, membrane pieces and disks are made in sets: this form would make a
            # new set, not a new version of one piece.
            messages.warning(self.request, PIECE_VERSION_REFUSED.format(code=old.code))
            return None
        return old

    def initial(self, source) -> dict:
        if source is None:
            return {}
        return model_to_dict(source, fields=list(self.form_class.base_fields))

    def part_formsets(self, data, instance, source) -> dict:
        return {}

    def extra_context(self, form) -> dict:
        return {}

    def prepare_data(self, data):
        """Posted data as the form should see it (the batch form refills planned masses)."""
        return data

    def save(self, form, formsets, instance, steps):
        raise NotImplementedError

    def build(self, data=None):
        instance = self.get_instance()
        source = self.copy_source() if instance is None else None
        initial = self.initial(source)
        if source is not None and not self.request.GET.get("supersedes"):
            # A copy is another sample made the same way: the notes were about that one. A new
            # version is the same record corrected and keeps them.
            initial.pop("notes", None)
        form = self.form_class(data, instance=instance, initial=initial)
        if instance is None and self.asks_project:
            field = project_field(self.request.user)
            if source is not None and field.queryset.filter(pk=source.project_id).exists():
                # A copy (a new version too) goes into the project of what it copies.
                field.initial = source.project.code
            form.fields = {"project": field, **form.fields}
        formsets = self.part_formsets(data, instance, source)
        if self.default_steps is not None:
            origin = instance or source
            steps = step_dicts(origin) if origin is not None else self.default_steps
            formsets["steps"] = bound_or_initial(StepFormSet, data, "steps", steps)
        return instance, source, form, formsets

    def render_form(self, instance, source, form, formsets, status=200, quiet=False):
        context = {
            "form": form,
            "formsets": formsets,
            "instance": instance,
            "source": source,
            # A form shown again after an error keeps the version it was first loaded with, so
            # a change saved meanwhile is still noticed on the next submit.
            "form_version": getattr(self, "expected_version", None)
            or getattr(instance, "version", None),
            "loaded_at": getattr(self, "loaded_at", None)
            or self.request.POST.get("_loaded_at")
            or timezone.now().isoformat(),
            "changed_meanwhile": getattr(self, "changed_meanwhile", None),
            "supersedes": self.supersedes() if instance is None else None,
            "title": self.title
            or f"{'Edit' if instance else 'New'} {self.model._meta.verbose_name}",
            "model_name": self.model._meta.verbose_name,
            # A re-render for "Add a row" is not a failed save: no errors on it yet.
            "quiet": quiet,
            **self.extra_context(form),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, *args, **kwargs):
        return self.render_form(*self.build())

    def post(self, request, *args, **kwargs):
        data = self.prepare_data(request.POST)
        instance, source, form, formsets = self.build(data)
        self.expected_version = posted_version(request) if instance is not None else None
        for formset in formsets.values():
            formset.check_posted()  # a broken grid is a 400 page, before anything else
        if any(action in data for action in REFRESH_ACTIONS):
            data, problem = with_added_row(data, formsets)
            if problem:
                messages.warning(request, problem)
            return self.render_form(*self.build(data), quiet=True)
        valid = form.is_valid() and all(fs.is_valid() for fs in formsets.values())
        if valid:
            steps = step_data(formsets["steps"]) if "steps" in formsets else None
            try:
                old = self.supersedes() if instance is None else None
                with transaction.atomic(), signatures.making_version_of(old):
                    item = self.save(form, formsets, instance, steps)
                    if old is not None:
                        signatures.supersede(item, old, user=request.user)
            except RecordChanged as exc:
                # Keep what the user typed; the form now carries the current version, so
                # saving again (after comparing) is a deliberate overwrite.
                self.changed_meanwhile = selectors.changes_since(
                    exc.current, request.POST.get("_loaded_at", "")
                )
                instance, self.expected_version = exc.current, exc.current.version
                self.loaded_at = timezone.now().isoformat()
            except ValidationError as exc:
                apply_service_errors(form, exc, formsets)
                offer_overdraw(form, exc)
            else:
                messages.success(request, f"Saved {item.code}.")
                return redirect(item)
        return self.render_form(instance, source, form, formsets, status=400)

    def fields(self, form) -> dict:
        """The record's own values from the form (not the form's write options)."""
        return {k: v for k, v in form.cleaned_data.items() if k not in WRITE_OPTIONS}

    def write_options(self, form) -> dict:
        """How to save: against the version the form was loaded with; and, for records that
        take from reagent lots, whether the user confirmed a use beyond what a lot has left."""
        options = {"expected_version": getattr(self, "expected_version", None)}
        if "confirm_overdraw" in form.fields:
            options["confirm_overdraw"] = form.cleaned_data.get("confirm_overdraw", False)
        return options


def changed_meanwhile(record, name: str) -> str:
    """What a form says when its record was saved by someone else after it was loaded."""
    last = (
        AuditEvent.objects.filter(model=record._meta.label_lower, object_pk=str(record.pk))
        .select_related("user")
        .first()
    )
    who = f" by {last.user or 'the system'} at {timezone.localtime(last.at):%H:%M}" if last else ""
    return (
        f"{name} was changed{who} while you were editing it; nothing was saved. The form shows "
        "your entries against the current record: check them and save again to keep them."
    )


def posted_version(request: HttpRequest) -> int | None:
    """The record version a form was loaded with (its hidden `_version`)."""
    raw = request.POST.get("_version", "")
    return int(raw) if raw.isdigit() else None


def offer_overdraw(form, exc: ValidationError) -> None:
    """After a refusal because a reagent lot has too little left, show the box to confirm."""
    errors = exc.error_dict.values() if hasattr(exc, "error_dict") else [exc.error_list]
    if hasattr(form, "offer_overdraw") and any(
        e.code == "overdraw" for group in errors for e in group
    ):
        form.offer_overdraw()


def login_not_required_view(view):
    from django.contrib.auth.decorators import login_not_required

    return login_not_required(view)


EXPORT_PARAM = "export"
PROJECT_PARAM = "project"


class TableView(View):
    """A filterable, sortable, paginated list that exports what it shows as CSV.

    `?sort=<column>` or `?sort=-<column>` (descending) sorts by any column, in the database;
    `?export=csv` gives every row the filters match, in that order, with the same columns.
    """

    filterset_class = None
    paginate_by = 50
    template_name = ""
    rows_template_name = ""
    csv_name = "list"

    def get_columns(self) -> list[tables.Column]:
        raise NotImplementedError

    def get_queryset(self):
        raise NotImplementedError

    def get_context(self) -> dict:
        return {}

    def get_csv_name(self) -> str:
        return self.csv_name

    def export_format(self, request) -> str:
        """`?export=csv`; `?format=csv` (as the API says it) too, unless the list filters on
        a field called format (a cell's coin or pouch format)."""
        if EXPORT_PARAM in request.GET:
            return request.GET[EXPORT_PARAM]
        if "format" in self.filterset_class.base_filters:
            return ""
        return request.GET.get("format", "")

    def scoped(self, request, queryset):
        """Only what the user's projects hold; `?project=CODE` narrows to one of them."""
        path = permissions.path_to_project(queryset.model)
        if path is None:  # shared records (chemicals)
            return queryset
        queryset = permissions.scope(queryset, request.user, path)
        code = request.GET.get(PROJECT_PARAM, "")
        if code:
            lookup = "code__iexact" if path == "pk" else f"{path}__code__iexact"
            queryset = queryset.filter(**{lookup: code})
        return queryset

    def get(self, request, *args, **kwargs):
        columns = self.get_columns()
        queryset = tables.annotate(self.scoped(request, self.get_queryset()), columns)
        filterset = self.filterset_class(request.GET, queryset=queryset)
        rows = filterset.qs if filterset.is_valid() else queryset.none()
        sort_error = ""
        try:
            sort = tables.parse_sort(request.GET.get(tables.SORT_PARAM, ""), columns)
            rows = tables.apply_sort(rows, columns, sort)
        except tables.SortError as exc:
            sort, sort_error = tables.Sort("", False), str(exc)
        export = self.export_format(request)
        if export not in ("", "html", "csv"):
            sort_error = f"Export: “{export}” is not a format this list exports (csv)."
        elif export == "csv":
            if sort_error or not filterset.is_valid():
                problems = [sort_error] if sort_error else []
                fields = filterset.form.fields
                problems += [
                    f"{fields[k].label if k in fields else k}: {' '.join(v)}"
                    for k, v in filterset.errors.items()
                ]
                return HttpResponse(
                    "\n".join(problems) + "\n", status=400, content_type="text/plain"
                )
            return tables.csv_response(request, columns, rows, self.get_csv_name())
        page = Paginator(rows, self.paginate_by).get_page(request.GET.get("page"))
        csv_params = request.GET.copy()
        csv_params.pop("page", None)
        csv_params[EXPORT_PARAM] = "csv"
        context = {
            "filter": filterset,
            "page": page,
            "columns": columns,
            "headers": tables.headers(columns, sort),
            "sort": sort,
            "sort_error": sort_error,
            "csv_url": f"?{csv_params.urlencode()}",
            "projects": permissions.visible_projects(request.user),
            "project": request.GET.get(PROJECT_PARAM, ""),
            **self.get_context(),
        }
        template = self.rows_template_name if request.htmx else self.template_name
        return render(request, template, context, status=400 if sort_error else 200)


class ItemListView(TableView):
    """A filterable, sortable, paginated table of one kind of item, with the result columns
    other apps register for the kind (core.headlines.register_columns)."""

    model: type[Item]
    # Column, or (heading with unit, dotted attribute) or (heading, attribute, "pct") for a
    # fraction shown as a percentage (the heading says "(%)").
    columns: list = []
    select_related: tuple[str, ...] = ()
    template_name = "lims/item_list.html"
    rows_template_name = "lims/item_list_rows.html"

    def get_columns(self) -> list[tables.Column]:
        return [
            tables.Column("code", key="code"),
            *(tables.column(c) for c in self.columns),
            *headlines.columns(self.model.KIND),
        ]

    def get_queryset(self):
        return self.model.objects.select_related(*self.select_related).order_by("-id")

    def get_csv_name(self) -> str:
        return slugify(self.model._meta.verbose_name_plural)

    def get_context(self) -> dict:
        return {
            "title": capfirst(self.model._meta.verbose_name_plural),
            "create_url": reverse(self.model.NEW_URL),
        }


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """400 page; says what was wrong when we raised it ourselves (a broken grid of rows)."""
    reason = str(exception) if isinstance(exception, BadFormData) else ""
    return render(request, "400.html", {"reason": reason}, status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = str(exception) if isinstance(exception, PermissionDenied) and exception.args else ""
    return render(request, "403.html", {"reason": reason}, status=403)
