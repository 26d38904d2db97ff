"""Measurements on tracked items, their raw instrument files and the results computed from them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.models import Item, VersionedModel
from core.validators import (
    NOTES_MAX_LENGTH,
    MaxJsonSize,
    at_least,
    at_most,
    greater_than_zero,
    max_length,
)

# A column mapping of a wide CSV file fits in a few hundred characters.
OPTIONS_MAX_SIZE = 10_000
# The worker's reason for a failure (a file name, a line, what was wrong).
STATUS_DETAIL_MAX_LENGTH = 2000


class Technique(models.TextChoices):
    EIS = "eis", "Impedance (EIS)"
    CYCLING = "cycling", "Galvanostatic cycling"
    STRIPPING = "stripping", "Li stripping/plating"
    TGA = "tga", "Thermogravimetry (TGA)"
    XRD = "xrd", "X-ray diffraction"


class Instrument(models.TextChoices):
    BIOLOGIC = "biologic_vmp", "BioLogic VMP"
    MACCOR = "maccor_4300", "Maccor 4300"
    SOLARTRON = "solartron_1260", "Solartron 1260"
    GAMRY = "gamry", "Gamry"
    NEWARE = "neware", "Neware"
    TGA = "tga", "TGA (TA / Mettler)"
    XRD = "xrd", "Diffractometer"
    OTHER = "other", "Other"


class EisModel(models.TextChoices):
    """The built-in circuits offered in the form; any circuit in impedance.py's syntax may be
    typed instead (``measurements.analysis.circuits``)."""

    AUTO = "auto", "choose automatically"
    GRAIN_BOUNDARY = "R0-p(R1,CPE1)-CPE2", "R0-p(R1,CPE1)-CPE2 (ceramic, bulk arc above the window)"
    TWO_ARC = (
        "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
        "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3 (ceramic, bulk and grain-boundary arcs)",
    )
    INDUCTIVE = "L-R0-CPE", "L-R0-CPE (thin membrane with lead inductance)"


def _circuit_error(text: str) -> str | None:
    from measurements.analysis import AnalysisError, circuits

    if text == EisModel.AUTO:
        return None
    try:
        circuits.parse_circuit(text)
    except AnalysisError as exc:
        return str(exc)
    return None


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    DONE_WITH_WARNINGS = "done_with_warnings", "Done, with warnings"
    NEEDS_INPUT = "needs_input", "Needs input"
    FAILED = "failed", "Failed"


# A measurement in one of these states has results others may use (a temperature series).
FINISHED_OK = (Status.DONE, Status.DONE_WITH_WARNINGS)
# Lists show first what needs a look: doubtful numbers, then what waits for an input, then
# failures, then what is running, then what is fine.
STATUS_ATTENTION_ORDER = (
    Status.DONE_WITH_WARNINGS,
    Status.NEEDS_INPUT,
    Status.FAILED,
    Status.PROCESSING,
    Status.QUEUED,
    Status.DONE,
)


class RawFile(models.Model):
    """An instrument export exactly as uploaded, stored once under its SHA-256, never changed."""

    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    original_name = models.CharField(max_length=255)
    storage_path = models.CharField(max_length=300)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="rawfile_size_gte_0")
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class Measurement(VersionedModel):
    AUDIT_ITEM_FIELD = "item"

    code = models.CharField(max_length=20, unique=True, editable=False)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="measurements")
    technique = models.CharField(max_length=12, choices=Technique.choices)
    instrument = models.CharField(max_length=20, choices=Instrument.choices, blank=True)
    temperature_c = models.FloatField(
        "temperature (°C)",
        null=True,
        blank=True,
        validators=[at_least(-100.0), at_most(1200.0)],
    )
    # Geometry overrides; when empty the sample's own values are used (pellet thickness, cell
    # active area), and each result records which values it used.
    thickness_um = models.FloatField(
        "sample thickness (µm)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(100000.0)],
    )
    area_cm2 = models.FloatField(
        "electrode area (cm²)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(1000.0)],
    )
    active_mass_mg = models.FloatField(
        "active mass (mg)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(1e6)],
    )
    eis_model = models.CharField(
        "equivalent circuit",
        max_length=200,
        default=EisModel.AUTO,
        validators=[max_length(200)],
        help_text="“auto”, a built-in circuit, or any circuit in impedance.py's syntax, "
        "e.g. R0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
    )
    conductivity_resistances = models.CharField(
        "conductivity from",
        max_length=200,
        blank=True,
        validators=[max_length(200)],
        help_text="the resistances that make the conductivity, e.g. R0+R1, or labelled: "
        "bulk=R0+R1; grain boundary=R2; total=R0+R1+R2 (built-in circuits have their own)",
    )
    reference_cycle = models.PositiveIntegerField(
        default=1, validators=[at_most(1_000_000)], help_text="for capacity retention"
    )
    parser = models.CharField(max_length=30, blank=True, help_text="empty: detect from the file")
    # Parser options a user confirmed, e.g. the column mapping of a generic CSV file.
    options = models.JSONField(default=dict, blank=True, validators=[MaxJsonSize(OPTIONS_MAX_SIZE)])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    status_detail = models.TextField(
        blank=True,
        max_length=STATUS_DETAIL_MAX_LENGTH,
        validators=[max_length(STATUS_DETAIL_MAX_LENGTH)],
    )
    progress = models.PositiveSmallIntegerField(default=0, validators=[at_most(100)])
    # Incremented by every request to (re)process; a worker only writes results for the run
    # it started, so a stale duplicate delivery cannot overwrite newer results.
    run = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(
        blank=True, max_length=NOTES_MAX_LENGTH, validators=[max_length(NOTES_MAX_LENGTH)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The measurement of an earlier version of the item whose settings and raw files this one
    # took, to be computed again with the new version's values (measurements_measure_again).
    carried_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="carried_to",
        editable=False,
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="measurement_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.get_technique_display()} of {self.item.code}"

    def get_absolute_url(self) -> str:
        return reverse("measurements:detail", args=[self.code])

    def clean(self) -> None:
        """A circuit the fit can read, and resistances of that circuit for the conductivity;
        the same rule for the web form and the API, so neither stores what would fail."""
        from measurements.analysis import eis

        super().clean()
        circuit = (self.eis_model or "").strip() or EisModel.AUTO
        self.eis_model = circuit
        self.conductivity_resistances = (self.conductivity_resistances or "").strip()
        problem = _circuit_error(circuit)
        if problem:
            raise ValidationError({"eis_model": problem})
        problem = eis.validate_circuit(circuit, self.conductivity_resistances)
        if problem:
            raise ValidationError({"conductivity_resistances": problem})


class MeasurementFile(models.Model):
    LOCKED_WITH = "measurement"  # locked with its measurement's item (core.signatures)
    measurement = models.ForeignKey(Measurement, on_delete=models.CASCADE, related_name="files")
    raw_file = models.ForeignKey(RawFile, on_delete=models.PROTECT, related_name="uses")
    filename = models.CharField(max_length=255)
    position = models.PositiveSmallIntegerField(default=0)
    parser = models.CharField(max_length=30, blank=True)
    parsed_path = models.CharField(max_length=300, blank=True)
    parsed_rows = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["measurement", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["measurement", "raw_file"], name="measurement_file_once"
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class ResultKind(models.TextChoices):
    EIS_FIT = "eis_fit", "Equivalent-circuit fit"
    CONDUCTIVITY = "conductivity", "Ionic conductivity"
    CYCLING_SUMMARY = "cycling_summary", "Cycling summary"
    RATE_TABLE = "rate_table", "Rate capability"
    STRIPPING = "stripping", "Stripping/plating"
    TGA = "tga", "TGA"
    XRD = "xrd", "XRD pattern"
    ARRHENIUS = "arrhenius", "Arrhenius fit"
    ARRHENIUS_T = "arrhenius_sigma_t", "Arrhenius fit (σT form)"
    VFT = "vft", "VFT fit"


class Result(models.Model):
    """One computed result with the algorithm version and the inputs it used.

    A measurement's results hang off the measurement; a temperature series (Arrhenius, VFT)
    belongs to the sample, with `measurement` empty.
    """

    AUDITED = False  # core.audit: not a record people change
    LOCKED_WITH = "item"  # a signed record's results are locked with it

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="results")
    measurement = models.ForeignKey(
        Measurement, null=True, blank=True, on_delete=models.CASCADE, related_name="results"
    )
    kind = models.CharField(max_length=20, choices=ResultKind.choices)
    values = models.JSONField(default=dict)
    inputs = models.JSONField(default=dict)
    warnings = models.JSONField(default=list, blank=True)
    algorithm_version = models.CharField(max_length=40)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["measurement", "kind"],
                name="result_once_per_kind",
                condition=Q(measurement__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["item", "kind"],
                name="series_result_once_per_kind",
                condition=Q(measurement__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.measurement_id or self.item_id}"


class CycleRow(models.Model):
    """One row of a cycling test's per-cycle table, queryable across cells."""

    AUDITED = False  # core.audit: not a record people change
    LOCKED_WITH = "measurement"

    measurement = models.ForeignKey(Measurement, on_delete=models.CASCADE, related_name="cycles")
    cycle = models.IntegerField()
    charge_mAh = models.FloatField(null=True)
    discharge_mAh = models.FloatField(null=True)
    charge_mAh_g = models.FloatField(null=True)
    discharge_mAh_g = models.FloatField(null=True)
    coulombic_efficiency = models.FloatField(null=True)
    charge_energy_mWh = models.FloatField(null=True)
    discharge_energy_mWh = models.FloatField(null=True)
    mean_charge_voltage_V = models.FloatField(null=True)
    mean_discharge_voltage_V = models.FloatField(null=True)
    c_rate = models.FloatField(null=True)
    duration_h = models.FloatField(null=True)

    class Meta:
        ordering = ["measurement", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["measurement", "cycle"], name="cycle_row_once"),
        ]

    def __str__(self) -> str:
        return f"{self.measurement_id} cycle {self.cycle}"


class TemperatureSeries(models.Model):
    """The state of an item's temperature-series fits (Arrhenius, VFT), pollable like a
    measurement's: queued -> processing -> done / done_with_warnings / needs_input / failed.

    The fits themselves are `Result` rows of the item with `measurement` empty; `points` is
    the table the last computation used (every EIS measurement of the item, whether it was
    included and why) and `warnings` the series' own (points excluded, too few points).
    """

    AUDITED = False  # core.audit: not a record people change
    LOCKED_WITH = "item"

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="temperature_series")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    status_detail = models.TextField(
        blank=True,
        max_length=STATUS_DETAIL_MAX_LENGTH,
        validators=[max_length(STATUS_DETAIL_MAX_LENGTH)],
    )
    # Incremented by every request to recompute; a worker only writes for the run it started.
    run = models.PositiveIntegerField(default=0)
    points = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "temperature series"

    def __str__(self) -> str:
        return f"temperature series of {self.item.code}"


class PointChoice(models.TextChoices):
    INCLUDE = "include", "include"
    EXCLUDE = "exclude", "exclude"


class SeriesPointOverride(models.Model):
    """A user's decision to include or exclude one measurement from its item's temperature
    series, whatever the outlier check says; removing it returns the point to "auto"."""

    AUDIT_ITEM_FIELD = "item"  # shown in the sample's history
    # How core.users counts this "who did it" when it refuses to delete an account.
    USER_HISTORY = {"set_by": ("series point choice", "series point choices")}

    measurement = models.OneToOneField(
        Measurement, on_delete=models.CASCADE, related_name="series_override"
    )
    choice = models.CharField(max_length=10, choices=PointChoice.choices)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.choice} {self.measurement.code} in the temperature series"

    @property
    def item_id(self) -> int:
        return self.measurement.item_id
