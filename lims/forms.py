"""Form pieces shared by every app: item pickers by code, process-step formsets, and mapping
service errors back onto form fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .models import Item, ProcessStep
from .services import STEP_FIELDS


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
        item = Item.objects.filter(code__iexact=code.strip()).first()
        if item is None:
            raise ValidationError(f"No item with code {code.strip()!r}.", code="unknown_code")
        if self.kinds and item.kind not in self.kinds:
            raise ValidationError(
                f"{item.code} is a {item.get_kind_display()}, not one of: "
                + ", ".join(Item(kind=k).get_kind_display() for k in self.kinds),
                code="wrong_kind",
            )
        return item.specific


class StepForm(forms.ModelForm):
    class Meta:
        model = ProcessStep
        fields = list(STEP_FIELDS)

    def clean(self):
        data = super().clean()
        if data.get("kind") and not self.errors:
            step = ProcessStep(**{k: data.get(k) for k in self.Meta.fields if k in data})
            try:
                step.clean()
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


StepFormSet = forms.formset_factory(StepForm, extra=1, can_delete=True)


def step_data(formset) -> list[dict]:
    return [
        f.cleaned_data
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("kind")
    ]


def apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the fields it names, the rest on the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                message = " ".join(error.messages)
                if target is None and field != "__all__":
                    message = f"{field.replace('_', ' ')}: {message}"
                form.add_error(target, message)
    else:
        form.add_error(None, exc)
