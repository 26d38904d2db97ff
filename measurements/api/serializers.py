from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from lims.models import Item
from measurements import parsers
from measurements.models import Measurement, MeasurementFile, Result
from measurements.services import EDITABLE


class ResultSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    measurement = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Result
        fields = [
            "kind",
            "item",
            "measurement",
            "values",
            "inputs",
            "algorithm_version",
            "computed_at",
        ]


class FileSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    sha256 = serializers.CharField(source="raw_file.sha256", read_only=True)
    size_bytes = serializers.IntegerField(source="raw_file.size_bytes", read_only=True)
    download = serializers.SerializerMethodField()

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
        return reverse("measurements:raw", args=[obj.raw_file.sha256])


def _parser_names() -> list[tuple[str, str]]:
    return [("", "detect")] + [(p.name, p.label) for p in parsers.PARSERS]


class MeasurementSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", queryset=Item.objects.all())
    parser = serializers.ChoiceField(choices=_parser_names(), required=False, allow_blank=True)
    files = FileSerializer(many=True, read_only=True)
    results = ResultSerializer(many=True, read_only=True)

    class Meta:
        model = Measurement
        fields = [
            "code",
            "item",
            *EDITABLE,
            "status",
            "status_detail",
            "progress",
            "run",
            "processed_at",
            "created_at",
            "files",
            "results",
        ]
        read_only_fields = [
            "code",
            "status",
            "status_detail",
            "progress",
            "run",
            "processed_at",
            "created_at",
        ]


class MeasurementUpdateSerializer(MeasurementSerializer):
    """The sample of a measurement is fixed once it exists."""

    item = serializers.SlugRelatedField(slug_field="code", read_only=True)


class StatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Measurement
        fields = ["code", "status", "status_detail", "progress", "run", "processed_at"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
