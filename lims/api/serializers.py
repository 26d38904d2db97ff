"""Serializer pieces every app's API uses: item codes as references, the common item fields,
process steps, lineage rows."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from lims.models import Item, ItemKind, ProcessStep
from lims.selectors import MAX_DEPTH
from lims.services import STEP_FIELDS

from .exceptions import validation_detail


class ItemCodeField(serializers.SlugRelatedField):
    """A reference to a tracked item by its code (`PEL-0042`), never by database id.

    Codes match case-insensitively, as in the web forms; the queryset limits the kind.
    """

    default_error_messages = {
        "does_not_exist": "No item with code {value!r}.",
        "wrong_kind": "{code} is a {kind}, not a {expected}.",
        "invalid": "Give an item code, e.g. PEL-0001.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip() or "\x00" in data:
            self.fail("invalid")
        code = data.strip()
        queryset = self.get_queryset()
        try:
            return queryset.get(code__iexact=code)
        except ObjectDoesNotExist:
            other = Item.objects.filter(code__iexact=code).first()
            if other is None:
                self.fail("does_not_exist", value=code)
            self.fail(
                "wrong_kind",
                code=other.code,
                kind=other.get_kind_display(),
                expected=queryset.model._meta.verbose_name,
            )


class DerivedFloatField(serializers.FloatField):
    """A read-only number computed from a record (an area, a density). None where it cannot
    be computed (a diameter so large its square overflows) rather than a 500."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        try:
            return super().get_attribute(instance)
        except ArithmeticError:
            return None


class StepSerializer(serializers.ModelSerializer):
    """One process step; steps are given as an ordered list, first step first."""

    class Meta:
        model = ProcessStep
        fields = list(STEP_FIELDS)

    def validate(self, attrs):
        # The same per-kind rule the web form applies ("sintering needs a temperature").
        try:
            ProcessStep(**attrs).clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(validation_detail(exc)) from None
        return attrs


class ItemSerializer(serializers.ModelSerializer):
    """Fields every tracked item has; `code`, `kind` and `summary` are set by the services."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Item
        fields = ["code", "kind", "summary", "notes", "created_at", "updated_at", "created_by"]
        read_only_fields = ["code", "kind", "summary", "created_at", "updated_at"]


def item_fields(*fields: str) -> list[str]:
    """The common item fields followed by a kind's own."""
    return [*ItemSerializer.Meta.fields, *fields]


class LineageRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    summary = serializers.CharField()
    depth = serializers.IntegerField(help_text="edges between this item and the one asked about")


class LineageQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=["ancestors", "descendants"],
        default="ancestors",
        help_text="ancestors: what the item was made from; descendants: what it went into",
    )
    depth = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_DEPTH, help_text="at most this many edges away"
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send as the header `Authorization: Token <token>`")
    username = serializers.CharField()
    created = serializers.DateTimeField()
