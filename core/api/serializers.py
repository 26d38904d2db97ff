"""Serializer pieces every app's API uses: a strict base (unknown and read-only fields, loose
types and unknown choices are 400s naming the field), item codes and names as references, the
common item fields, process steps, lineage rows."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework import serializers

from core import permissions
from core.models import Item, ItemKind, ProcessStep, Project, SignatureMeaning
from core.selectors import MAX_DEPTH
from core.services import STEP_FIELDS
from core.validators import AtLeast, AtMost

from .exceptions import validation_detail

# A process has a handful of steps; the cap keeps a runaway script from writing thousands.
MAX_STEPS = 50
# Longest input echoed back in an error message.
_ECHO = 40


def _echo(value) -> str:
    text = str(value)
    return text if len(text) <= _ECHO else f"{text[:_ECHO]}..."


# --- fields ------------------------------------------------------------------------------


class ChoiceField(serializers.ChoiceField):
    """A choice matched case-insensitively (`EIS` is `eis`); a wrong one lists the valid ones."""

    default_error_messages = {"invalid_choice": "{input} is not a choice; use one of: {choices}."}

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, str):
            folded = {key.casefold(): value for key, value in self.choice_strings_to_values.items()}
            if data.strip().casefold() in folded:
                return folded[data.strip().casefold()]
        choices = ", ".join(key for key in self.choice_strings_to_values if key != "")
        shown = f"'{_echo(data)}'" if isinstance(data, str) else _echo(data)
        self.fail("invalid_choice", input=shown, choices=choices)


def _readable_bounds(field: serializers.Field) -> None:
    """DRF words its own bound messages ("Ensure this value is less than or equal to
    1300.0."); use the models' ("Must be at most 1300.") so web and API say the same."""
    readable = []
    for validator in field.validators:
        if type(validator) is MaxValueValidator:
            validator = AtMost(validator.limit_value)
        elif type(validator) is MinValueValidator:
            validator = AtLeast(validator.limit_value)
        readable.append(validator)
    field.validators = readable


class CharField(serializers.CharField):
    """Text, and only text: in JSON a number for a text field is a mistake (DRF would store
    `5` as "5"). Form values are text anyway."""

    default_error_messages = {"invalid": "Must be text (a JSON string), not {type}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", type=_json_type(data))
        return super().to_internal_value(data)


class _StrictNumber:
    """A number: `true` is not 1 (DRF would take it); a numeric string is accepted, as form
    values are strings. Bounds read "Must be at most 1300."."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _readable_bounds(self)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class FloatField(_StrictNumber, serializers.FloatField):
    default_error_messages = {"invalid": "Must be a number."}


class IntegerField(_StrictNumber, serializers.IntegerField):
    default_error_messages = {"invalid": "Must be a whole number."}


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


class NaturalKeyField(serializers.SlugRelatedField):
    """A reference to a record by a name people use (a chemical's name, a username), matched
    case-insensitively; an exact match wins when names differ only in case."""

    default_error_messages = {
        "does_not_exist": "No {what} named {value!r}.",
        "invalid": "Give the {what}'s name as text.",
    }

    def __init__(self, *, what: str, **kwargs):
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid", what=self.what)
        name = data.strip()
        matches = list(self.get_queryset().filter(**{f"{self.slug_field}__iexact": name})[:10])
        if not matches:
            self.fail("does_not_exist", what=self.what, value=_echo(name))
        exact = [match for match in matches if getattr(match, self.slug_field) == name]
        return (exact or matches)[0]


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

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def get_queryset(self):
        # Only what the user's projects hold can be named (as a parent, a measured item):
        # another project's code reads as unknown.
        queryset = super().get_queryset()
        user = self._user()
        return queryset if user is None else permissions.scope(queryset, user)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        code = data.strip()
        queryset = self.get_queryset()
        try:
            return queryset.get(code__iexact=code)
        except ObjectDoesNotExist:
            others = Item.objects.all()
            if self._user() is not None:
                others = permissions.scope(others, self._user())
            other = others.filter(code__iexact=code).first()
            if other is None:
                self.fail("does_not_exist", value=_echo(code))
            self.fail(
                "wrong_kind",
                code=other.code,
                kind=other.get_kind_display(),
                expected=queryset.model._meta.verbose_name,
            )


# --- the strict base ---------------------------------------------------------------------


# What every write serializer of the API does: a field it does not know, or one it only shows,
# is a 400 naming it (DRF ignores both, so a typo like `thickness_um` for `thickness_mm` would
# answer 200 and change nothing). Nested serializers (cell layers, precursors, steps) use this
# base too, so their fields are checked the same way. `field_hints` gives a better answer than
# "unknown" for a field that exists elsewhere (a pellet set's `count` is only for creating).
# No docstrings on these classes: the OpenAPI schema would show them as every record's
# description.
class StrictMixin:
    field_hints: dict[str, str] = {}

    def to_internal_value(self, data):
        unexpected = self.unexpected_fields(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unexpected and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unexpected}) from None
            raise
        if unexpected:
            raise serializers.ValidationError(unexpected)
        return value

    def unexpected_fields(self, data: Mapping) -> dict[str, list[str]]:
        writable = [name for name, field in self.fields.items() if not field.read_only]
        errors = {}
        for key in data:
            if key in writable:
                continue
            if key in self.field_hints:
                errors[key] = [self.field_hints[key]]
            elif key in self.fields:
                errors[key] = ["Read-only field: the LIMS sets it; leave it out."]
            else:
                errors[key] = [f"Unknown field: the fields you can send are {', '.join(writable)}."]
        return errors


class Serializer(StrictMixin, serializers.Serializer):
    serializer_choice_field = ChoiceField


class ModelSerializer(StrictMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CharField,
        models.TextField: CharField,
        models.FloatField: FloatField,
        models.IntegerField: IntegerField,
        models.PositiveIntegerField: IntegerField,
        models.PositiveSmallIntegerField: IntegerField,
        models.SmallIntegerField: IntegerField,
    }
    serializer_choice_field = ChoiceField


class DerivedFloatField(FloatField):
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


class StepSerializer(ModelSerializer):
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


class ProjectField(serializers.SlugRelatedField):
    """The project of a new item, by code; only projects the user sees can be named."""

    default_error_messages = {
        "does_not_exist": "No project {value!r} of yours.",
        "invalid": "Give a project code, e.g. LAB.",
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Project.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return Project.objects.all() if user is None else permissions.visible_projects(user)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        found = self.get_queryset().filter(code__iexact=data.strip()).first()
        if found is None:
            self.fail("does_not_exist", value=_echo(data.strip()))
        return found


class ItemSerializer(ModelSerializer):
    """Fields every tracked item has; `code`, `kind` and `summary` are set by the services."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    project = ProjectField(
        required=False,
        help_text="code of the project the item belongs to; on create, needed only when you "
        "record in more than one project; an item stays in its project",
    )

    supersedes = ItemCodeField(
        queryset=Item.objects.all(),
        required=False,
        write_only=True,
        help_text="on create: the code of the signed (locked) record this new one corrects; "
        "the new record is its new version (a cell's new version may hold the old one's "
        "pellet, membrane piece and disks)",
    )

    class Meta:
        model = Item
        fields = [
            "code",
            "kind",
            "summary",
            "notes",
            "created_at",
            "updated_at",
            "created_by",
            "project",
            "supersedes",
        ]
        read_only_fields = ["code", "kind", "summary", "created_at", "updated_at"]

    def validate_supersedes(self, value):
        if self.instance is not None:
            raise serializers.ValidationError(
                "A new version is a new record: send `supersedes` when you create it."
            )
        return value

    def validate_project(self, value):
        current = getattr(self.instance, "project_id", None)
        if current is not None and value.pk != current:
            raise serializers.ValidationError(
                "An item stays in the project it was recorded in (its measurements and files "
                "belong to it there)."
            )
        return value


def steps_field() -> StepSerializer:
    return StepSerializer(
        many=True,
        required=False,
        max_length=MAX_STEPS,
        help_text="in order; left out on create: the lab's protocol; on update: unchanged",
    )


class MadeTogether:
    """Items made in one request (disks punched from one coating) as one object to answer
    with: their shared fields are read from the first, `items` lists them all."""

    def __init__(self, items):
        self.items = list(items)

    def __getattr__(self, name):
        return getattr(self.items[0], name)


def _members(instance, attribute: str) -> list:
    members = getattr(instance, attribute)
    return list(members.all()) if hasattr(members, "all") else list(members)


class _SetItemsField(serializers.ListField):
    def __init__(self, attribute: str, **kwargs):
        self.attribute = attribute
        super().__init__(child=serializers.CharField(), read_only=True, **kwargs)

    def get_attribute(self, instance):
        return [item.code for item in _members(instance, self.attribute)]


class _SetCountField(IntegerField):
    def get_attribute(self, instance):
        return len(self.parent.fields["items"].get_attribute(instance))


class ItemSetSerializer(ModelSerializer):
    """Items made together with shared fields (pellets pressed as a set, disks punched from
    one coating). Creating takes the shared fields and `count`; the answer is the shared
    fields, `count` and `items`, the codes of the items made. Subclasses declare both with
    the helpers below."""

    @staticmethod
    def count_field(maximum: int, what: str, **kwargs) -> IntegerField:
        return _SetCountField(
            min_value=1, max_value=maximum, help_text=f"how many {what}", **kwargs
        )

    @staticmethod
    def items_field(attribute: str, help_text: str) -> serializers.ListField:
        return _SetItemsField(attribute, help_text=help_text)


def item_fields(*fields: str, versioned: bool = True) -> list[str]:
    """The common item fields followed by a kind's own; without `supersedes` for kinds not
    made one by one (set `supersedes = None` on their serializer too)."""
    common = [f for f in ItemSerializer.Meta.fields if versioned or f != "supersedes"]
    return [*common, *fields]


class LineageRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    summary = serializers.CharField()
    depth = serializers.IntegerField(help_text="edges between this item and the one asked about")


class QuerySerializer(serializers.Serializer):
    """Query parameters validated like a body: a value that cannot be read, and a parameter
    the endpoint does not take, are 400s naming it (a typo such as `?evry=10` would otherwise
    quietly answer something else). `format` is the renderer's and always allowed."""

    also_allowed: tuple[str, ...] = ("format",)

    def to_internal_value(self, data):
        known = [*self.fields, *self.also_allowed]
        unknown = sorted(set(data) - set(known))
        if unknown:
            message = f"No such parameter; this endpoint takes: {', '.join(known)}."
            raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class LineageQuerySerializer(serializers.Serializer):
    """Query parameters, not a body: other parameters (`format`) may come along."""

    direction = ChoiceField(
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
    expires = serializers.DateTimeField(
        allow_null=True, help_text="when the token stops working; null: until revoked"
    )


class TokenRequestSerializer(Serializer):
    password = CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        max_length=4096,
        help_text=(
            "your password: required when this request is authenticated by a token (a token "
            "cannot make its own replacement); a logged-in browser session needs none"
        ),
    )
    expires_in_days = IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="days the new token works; default and upper limit: the setting LIMS_TOKEN_DAYS",
    )


class SignRequestSerializer(Serializer):
    password = CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=4096,
        help_text="your login password, re-entered: a signature needs it every time",
    )
    meaning = ChoiceField(choices=SignatureMeaning.choices, help_text="what you declare by signing")
    comment = CharField(required=False, allow_blank=True, max_length=2000)


class SupersedeRequestSerializer(Serializer):
    supersedes = ItemCodeField(
        queryset=Item.objects.all(),
        help_text="the code of the locked record this one corrects (this record is its new "
        "version)",
    )


class SignatureChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="where in the signed record, e.g. fields.thickness_mm")
    old = serializers.JSONField(help_text="the value when it was signed")
    new = serializers.JSONField(help_text="the value now")


class SignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.CharField(
        help_text="the record signed (a batch's signature covers its pellets)"
    )
    meaning = serializers.CharField()
    signer = serializers.CharField()
    signed_at = serializers.DateTimeField()
    comment = serializers.CharField()
    sha256 = serializers.CharField(help_text="SHA-256 of the canonical JSON signed")
    sha256_now = serializers.CharField(help_text="SHA-256 of the record's canonical JSON now")
    intact = serializers.BooleanField()
    changes = SignatureChangeSerializer(many=True)


class ChangedInputSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="code of an input (a lineage parent)")
    changed_at = serializers.DateTimeField(help_text="when it was last saved, after the signing")


class VerificationSerializer(serializers.Serializer):
    item = serializers.CharField()
    locked = serializers.BooleanField()
    intact = serializers.BooleanField(help_text="every signature still matches the record")
    signatures = SignatureSerializer(many=True)
    inputs_changed = ChangedInputSerializer(
        many=True,
        help_text="inputs saved after the first signature: the record stays as signed (derived "
        "values are not recomputed), so it may no longer match its inputs",
    )
    supersedes = serializers.CharField(allow_null=True)
    superseded_by = serializers.ListField(child=serializers.CharField())
