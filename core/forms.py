"""Form pieces shared by every app: error messages in a lab's words, item pickers by code,
row grids (formsets) that refuse a broken management form, process steps, and mapping service
errors back onto the form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, BadRequest, FieldDoesNotExist, ValidationError
from django.forms.formsets import INITIAL_FORM_COUNT, TOTAL_FORM_COUNT
from django.utils.html import format_html

from . import permissions
from .audit import current_user
from .display import number
from .models import Item, ProcessStep, SignatureMeaning
from .services import STEP_FIELDS

# Django's "Ensure this value is less than or equal to 1.0." said the way a lab form says it.
BOUND_MESSAGES = {"min_value": "Must be at least {}.", "max_value": "Must be at most {}."}


def plain_error(error: ValidationError) -> ValidationError:
    """The same error with a bound stated plainly ("Must be at most 1."); others unchanged."""
    limit = (error.params or {}).get("limit_value")
    if error.code in BOUND_MESSAGES and isinstance(limit, int | float):
        return ValidationError(BOUND_MESSAGES[error.code].format(number(limit)), code=error.code)
    return error


class PlainErrorsMixin:
    """Rewrites bound errors after validation, whether a form field or a model validator (run
    by a ModelForm) raised them, so every form reads the same."""

    def full_clean(self):
        super().full_clean()
        for error_list in (self._errors or {}).values():
            for index, error in enumerate(error_list.as_data()):
                error_list[index] = plain_error(error)


class LabForm(PlainErrorsMixin, forms.Form):
    pass


class LabModelForm(PlainErrorsMixin, forms.ModelForm):
    pass


def field_label(model, name: str) -> str:
    """What a user reads for a field: its verbose name ("x (Al content)"), never its Python
    name; left as written, since "x" and "LiFSI" must keep their case."""
    try:
        return str(model._meta.get_field(name).verbose_name)
    except (AttributeError, FieldDoesNotExist):
        return name.replace("_", " ")


class BadFormData(BadRequest):
    """Posted rows that the page we rendered cannot have sent (a row count out of range, a row
    naming a record from elsewhere): answered with a 400 page, before anything is written."""


class FixedChoice(forms.Select):
    """A choice the form makes, not the user (which precursor a row is for): shown as its
    label, posted back from a hidden input."""

    def render(self, name, value, attrs=None, renderer=None):
        value = "" if value is None else str(value)
        label = dict((str(k), v) for k, v in self.choices).get(value, value)
        attrs = self.build_attrs(self.attrs, attrs)
        return format_html(
            '<span class="fixed-choice">{}</span><input type="hidden" name="{}" value="{}" id="{}">',
            label,
            name,
            value,
            attrs.get("id", ""),
        )


class LabFormSetMixin:
    """Every grid of rows. A posted management form must be one the page could have sent:
    0 <= TOTAL_FORMS <= max_num and 0 <= INITIAL_FORMS <= TOTAL_FORMS. Django would otherwise
    take TOTAL_FORMS=-1 as "no rows" and save the record with its rows silently dropped."""

    title = ""  # heading above the grid

    def check_posted(self) -> None:
        if not self.is_bound:
            return
        management = self.management_form
        if not management.is_valid():
            raise BadFormData(f"The row counts of “{self.title or self.prefix}” are missing.")
        total = management.cleaned_data[TOTAL_FORM_COUNT]
        initial = management.cleaned_data[INITIAL_FORM_COUNT]
        if not 0 <= total <= self.max_num:
            raise BadFormData(
                f"“{self.title or self.prefix}” was sent with {total} rows; "
                f"it takes 0 to {self.max_num}."
            )
        if not 0 <= initial <= total:
            raise BadFormData(
                f"“{self.title or self.prefix}” was sent with {initial} existing rows "
                f"out of {total}."
            )

    def full_clean(self):
        self.check_posted()
        super().full_clean()


class LabFormSet(LabFormSetMixin, forms.BaseFormSet):
    pass


class LabModelFormSet(LabFormSetMixin, forms.BaseModelFormSet):
    """A grid of existing records (each pellet of a set): every posted row must name one of
    them, once; with edit_only no new record can be slipped in."""

    def check_posted(self) -> None:
        super().check_posted()
        if not self.is_bound:
            return
        initial, total = self.initial_form_count(), self.total_form_count()
        if self.edit_only and total != initial:
            raise BadFormData("Rows cannot be added to this table.")
        pk_name = self.model._meta.pk.name
        known = {str(pk) for pk in self.get_queryset().values_list("pk", flat=True)}
        posted = [str(self.data.get(f"{self.add_prefix(i)}-{pk_name}", "")) for i in range(initial)]
        if len(set(posted)) != len(posted) or not set(posted) <= known:
            raise BadFormData(
                f"A row names a {self.model._meta.verbose_name} that is not on this page."
            )


class ItemCodeField(forms.CharField):
    """A text box that takes an item code (`PEL-0042`) and cleans to the item itself."""

    def __init__(self, *, kinds: tuple[str, ...] | None = None, **kwargs):
        self.kinds = kinds
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", "code, e.g. PEL-0001")
        self.widget.attrs.setdefault("list", "item-codes")

    def prepare_value(self, value):
        return value.code if isinstance(value, Item) else value

    def clean(self, value):
        code = super().clean(value)
        if not code:
            return None
        # Only items of the user's projects can be named (web requests and service calls set
        # the acting user).
        user = current_user()
        items = Item.objects.all() if user is None else permissions.visible_items(user)
        item = items.filter(code__iexact=code.strip()).first()
        if item is None:
            raise ValidationError(f"No item with code {code.strip()!r}.", code="unknown_code")
        if self.kinds and item.kind not in self.kinds:
            raise ValidationError(
                f"{item.code} is a {item.get_kind_display()}, not one of: "
                + ", ".join(Item(kind=k).get_kind_display() for k in self.kinds),
                code="wrong_kind",
            )
        return item.specific


def project_field(user) -> forms.ModelChoiceField:
    """The "Project" of a new record: the projects the user records in; needed only when
    there is more than one (with one, it is that one)."""
    projects = permissions.writable_projects(user)
    only = list(projects[:2])
    return forms.ModelChoiceField(
        queryset=projects,
        to_field_name="code",
        required=len(only) != 1,
        initial=only[0].code if len(only) == 1 else None,
        label="Project",
        empty_label="(choose)" if len(only) != 1 else None,
        error_messages={
            "required": "Choose the project this record belongs to.",
            "invalid_choice": "Not a project you record in.",
        },
    )


class StepForm(LabModelForm):
    class Meta:
        model = ProcessStep
        fields = list(STEP_FIELDS)
        labels = {"kind": "step"}

    def clean(self):
        data = super().clean()
        if data.get("kind") and not self.errors:
            step = ProcessStep(**{k: data.get(k) for k in self.Meta.fields if k in data})
            try:
                step.clean()
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class StepFormSet(
    forms.formset_factory(StepForm, formset=LabFormSet, extra=0, max_num=30, can_delete=True)
):
    title = "Process steps"


def step_data(formset) -> list[dict]:
    return [
        f.cleaned_data
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("kind")
    ]


def apply_service_errors(form: forms.Form, exc: ValidationError, formsets=None) -> None:
    """Put a service's ValidationError where the user looks: on the field it names, on the grid
    it names (`layers`, `precursors`), else above the form prefixed with the field's label."""
    from .signatures import audit_if_locked

    audit_if_locked(exc, action="web form")
    formsets = formsets or {}
    model = getattr(getattr(form, "_meta", None), "model", None)
    if not hasattr(exc, "error_dict"):
        form.add_error(None, [plain_error(e) for e in exc.error_list])
        return
    for field, errors in exc.error_dict.items():
        errors = [plain_error(e) for e in errors]
        if field in form.fields:
            form.add_error(field, errors)
        elif field in formsets:
            formsets[field].non_form_errors().extend(" ".join(e.messages) for e in errors)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, errors)
        else:
            label = field_label(model, field)
            form.add_error(None, [f"{label}: {' '.join(e.messages)}" for e in errors])


class SignForm(forms.Form):
    """Sign a finished record: the password again (every time), and what the signature means."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="re-entered for every signature",
    )
    meaning = forms.ChoiceField(choices=SignatureMeaning.choices, initial=SignatureMeaning.REVIEWED)
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
