from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import ChoiceField, ItemCodeField, ModelSerializer, Serializer
from core.models import Item
from core.validators import UNSTORABLE_MESSAGE, unstorable_paths
from measurements import parsers
from measurements.models import Measurement, MeasurementFile, Result, TemperatureSeries
from measurements.services import EDITABLE

NOT_A_FILE = (
    "Not a file: send raw files as multipart/form-data (or POST them to "
    "/api/measurements/<code>/files/ once the measurement exists)."
)


class WarningSerializer(Serializer):
    """A doubt about a computed number, in words a scientist acts on."""

    code = serializers.CharField(help_text="snake_case id, e.g. capacity_above_theoretical")
    message = serializers.CharField(help_text="one sentence with the numbers and the limit")
    parameter = serializers.CharField(
        required=False, help_text="the input or value the warning is about, e.g. active_mass_mg"
    )
    point = serializers.CharField(required=False, help_text="a measurement's code")


class MeasurementWarningSerializer(WarningSerializer):
    result = serializers.CharField(help_text="the kind of result it belongs to, e.g. conductivity")


class ResultSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    measurement = serializers.SlugRelatedField(slug_field="code", read_only=True)
    warnings = WarningSerializer(many=True, read_only=True)

    class Meta:
        model = Result
        fields = [
            "kind",
            "item",
            "measurement",
            "values",
            "inputs",
            "warnings",
            "algorithm_version",
            "computed_at",
        ]


class FileSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    sha256 = serializers.CharField(source="raw_file.sha256", read_only=True)
    size_bytes = serializers.IntegerField(source="raw_file.size_bytes", read_only=True)
    download = serializers.SerializerMethodField(
        help_text="the raw bytes, with the same token (the web page has its own link)"
    )

    class Meta:
        model = MeasurementFile
        fields = [
            "id",
            "filename",
            "sha256",
            "size_bytes",
            "parser",
            "parsed_rows",
            "warnings",
            "download",
        ]

    def get_download(self, obj) -> str:
        return reverse("api:rawfile-detail", args=[obj.raw_file.sha256])


def _parser_names() -> list[tuple[str, str]]:
    return [("", "detect")] + [(p.name, p.label) for p in parsers.PARSERS]


def uploads_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(error_messages={"invalid": NOT_A_FILE}), **kwargs
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "parser options, e.g. a generic CSV's column mapping "
        '{"kind": "cycling", "mapping": {"time_s": "Time [s]", ...}} (and "sheet" for a '
        "spreadsheet); each format accepts its own",
    }
)
class OptionsField(serializers.JSONField):
    """Parser options: a JSON object (in a multipart upload, as JSON text). Which keys a
    format accepts is the service's rule (`measurements.services`)."""

    # Braces doubled: DRF formats its messages.
    default_error_messages = {"not_an_object": 'Must be a JSON object, e.g. {{"kind": "eis"}}.'}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_an_object")
        for path in unstorable_paths(value):
            raise serializers.ValidationError(f"{'.'.join(path)}: {UNSTORABLE_MESSAGE}")
        return value


class MeasurementSerializer(ModelSerializer):
    item = ItemCodeField(queryset=Item.objects.all(), help_text="code of the sample")
    parser = ChoiceField(choices=_parser_names(), required=False, allow_blank=True)
    options = OptionsField(required=False)
    files = FileSerializer(many=True, read_only=True)
    results = ResultSerializer(many=True, read_only=True)
    warnings = serializers.SerializerMethodField(
        help_text="every warning of the measurement's results (status done_with_warnings)"
    )
    carried_from = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="the measurement of the item's earlier version whose settings and raw files "
        "this one took (measure again), else null",
    )

    class Meta:
        model = Measurement
        fields = [
            "code",
            "item",
            *EDITABLE,
            "carried_from",
            "status",
            "status_detail",
            "progress",
            "run",
            "processed_at",
            "created_at",
            "files",
            "results",
            "warnings",
        ]
        read_only_fields = [
            "code",
            "carried_from",
            "status",
            "status_detail",
            "progress",
            "run",
            "processed_at",
            "created_at",
        ]

    @extend_schema_field(MeasurementWarningSerializer(many=True))
    def get_warnings(self, obj) -> list[dict]:
        return measurement_warnings(obj)


def measurement_warnings(measurement) -> list[dict]:
    """The results' warnings, each with the kind of result it belongs to (`result`)."""
    return [{**w, "result": r.kind} for r in measurement.results.all() for w in (r.warnings or [])]


class MeasurementCreateSerializer(MeasurementSerializer):
    """A new measurement, with its raw files when sent as multipart."""

    files = uploads_field(required=False, write_only=True, help_text="raw instrument files")


class MeasurementUpdateSerializer(MeasurementSerializer):
    """The sample of a measurement is fixed once it exists."""

    item = serializers.SlugRelatedField(slug_field="code", read_only=True)


class StatusSerializer(serializers.ModelSerializer):
    warnings = serializers.SerializerMethodField(help_text="every warning of the results")

    class Meta:
        model = Measurement
        fields = ["code", "status", "status_detail", "progress", "run", "processed_at", "warnings"]
        read_only_fields = fields

    @extend_schema_field(MeasurementWarningSerializer(many=True))
    def get_warnings(self, obj) -> list[dict]:
        return measurement_warnings(obj)


class UploadSerializer(Serializer):
    files = uploads_field(allow_empty=False, help_text="raw instrument files")


# --- temperature series ------------------------------------------------------------------


class SeriesPointSerializer(serializers.Serializer):
    measurement = serializers.CharField(help_text="code of the EIS measurement")
    temperature_c = serializers.FloatField(allow_null=True)
    conductivity_s_cm = serializers.FloatField(allow_null=True)
    included = serializers.BooleanField(help_text="used in the fits")
    usable = serializers.BooleanField(
        help_text="the measurement gives a point (processed, with temperature and conductivity)"
    )
    choice = serializers.ChoiceField(
        choices=["auto", "include", "exclude"],
        help_text="a user's decision, or auto (the leave-one-out outlier check decides)",
    )
    outlier = serializers.BooleanField(help_text="off the fit of the other points")
    check = serializers.JSONField(
        allow_null=True,
        help_text="leave-one-out: factor (sigma / the others' fit), times_off, "
        "studentised_residual",
    )
    why = serializers.CharField(help_text="why the point is included or not, in words")


class SeriesFitSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="arrhenius, arrhenius_sigma_t or vft")
    label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Result
        fields = ["kind", "label", "values", "inputs", "warnings", "algorithm_version"]


class TemperatureSeriesSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    points = SeriesPointSerializer(many=True, read_only=True)
    fits = serializers.SerializerMethodField()

    class Meta:
        model = TemperatureSeries
        fields = [
            "item",
            "status",
            "status_detail",
            "run",
            "computed_at",
            "updated_at",
            "warnings",
            "points",
            "fits",
        ]
        read_only_fields = fields

    @extend_schema_field(SeriesFitSerializer(many=True))
    def get_fits(self, obj) -> list:
        fits = Result.objects.filter(item_id=obj.item_id, measurement__isnull=True)
        return SeriesFitSerializer(fits, many=True).data


class SeriesPointsUpdateSerializer(Serializer):
    points = serializers.DictField(
        child=ChoiceField(choices=["include", "exclude", "auto"]),
        allow_empty=False,
        help_text='measurement code -> include, exclude or auto, e.g. {"MEAS-0007": "exclude"}',
    )


class MeasureAgainSerializer(Serializer):
    item = ItemCodeField(
        queryset=Item.objects.all(),
        help_text="code of the new version whose earlier version's measurements to take",
    )
