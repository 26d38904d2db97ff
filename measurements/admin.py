from django.contrib import admin

from core.admin import AuditedDeleteAdmin, LockAwareAdmin

from .models import (
    CycleRow,
    Measurement,
    MeasurementFile,
    RawFile,
    Result,
    SeriesPointOverride,
    TemperatureSeries,
)


class MeasurementFileInline(LockAwareAdmin, admin.TabularInline):
    model = MeasurementFile
    extra = 0
    raw_id_fields = ("raw_file",)
    readonly_fields = ("parser", "parsed_path", "parsed_rows", "warnings")


@admin.register(Measurement)
class MeasurementAdmin(LockAwareAdmin, admin.ModelAdmin):
    list_display = ("code", "item", "technique", "temperature_c", "status", "created_at")
    list_filter = ("technique", "status")
    search_fields = ("code", "item__code")
    raw_id_fields = ("item",)
    readonly_fields = ("code", "status", "status_detail", "progress", "run", "processed_at")
    inlines = [MeasurementFileInline]


@admin.register(RawFile)
class RawFileAdmin(admin.ModelAdmin):
    """Raw files are immutable: they can be looked at, not edited or deleted."""

    list_display = ("original_name", "sha256", "size_bytes", "uploaded_at", "uploaded_by")
    search_fields = ("original_name", "sha256")
    readonly_fields = [f.name for f in RawFile._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Result)
class ResultAdmin(AuditedDeleteAdmin, LockAwareAdmin, admin.ModelAdmin):
    list_display = ("kind", "item", "measurement", "algorithm_version", "computed_at")
    list_filter = ("kind", "algorithm_version")
    search_fields = ("item__code", "measurement__code")
    readonly_fields = [f.name for f in Result._meta.fields]


@admin.register(CycleRow)
class CycleRowAdmin(AuditedDeleteAdmin, LockAwareAdmin, admin.ModelAdmin):
    list_display = (
        "measurement",
        "cycle",
        "charge_mAh_g",
        "discharge_mAh_g",
        "coulombic_efficiency",
        "c_rate",
    )
    search_fields = ("measurement__code",)
    readonly_fields = [f.name for f in CycleRow._meta.fields]


@admin.register(TemperatureSeries)
class TemperatureSeriesAdmin(admin.ModelAdmin):
    """Written by the worker; a point is included or excluded on the item's page or the API."""

    list_display = ("item", "status", "run", "computed_at")
    list_filter = ("status",)
    search_fields = ("item__code",)
    readonly_fields = [f.name for f in TemperatureSeries._meta.fields]


@admin.register(SeriesPointOverride)
class SeriesPointOverrideAdmin(admin.ModelAdmin):
    """Set on the item's page or through the API, which also recompute the series."""

    list_display = ("measurement", "choice", "set_by", "set_at")
    readonly_fields = [f.name for f in SeriesPointOverride._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
