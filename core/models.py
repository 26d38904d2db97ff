"""Shared core: the item registry, the lineage graph, process steps and the audit log.

Every physical thing the lab tracks (reagent lot, powder batch, pellet, membrane, ILE batch,
coating, electrode disk, cell) is an `Item` (multi-table inheritance), so lineage is one graph
across all kinds, stored as `LineageEdge` rows and walked with one recursive SQL query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.urls import reverse

from .validators import NOTES_MAX_LENGTH, at_least, at_most, greater_than_zero, max_length


class ItemKind(models.TextChoices):
    REAGENT_LOT = "reagent_lot", "Reagent lot"
    LAGP_BATCH = "lagp_batch", "LAGP powder batch"
    PELLET = "pellet", "LAGP pellet"
    SPE_MEMBRANE = "spe_membrane", "SPE membrane"
    MEMBRANE_PIECE = "membrane_piece", "SPE membrane piece"
    ILE_BATCH = "ile_batch", "ILE batch"
    CATHODE_COATING = "cathode_coating", "Cathode coating"
    ELECTRODE_DISK = "electrode_disk", "Electrode disk"
    CELL = "cell", "Cell"


class VersionedModel(models.Model):
    """A record whose version number every save raises, so a form or an API client that read
    version n can tell that someone saved the record since (optimistic concurrency)."""

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            # Raised in SQL, not from the value in memory: two saves of one stale copy still
            # give two versions.
            self.version = F("version") + 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)
        if isinstance(self.version, Combinable):
            self.refresh_from_db(fields=["version"])


class ProjectRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"  # reads the project's records
    MEMBER = "member", "Member"  # also records (creates and changes) them
    MANAGER = "manager", "Manager"  # also manages members and signs


# The project an upgraded database put every existing item in, and where records made without
# a user (the demo loader, a worker, a shell) go when none is named.
DEFAULT_PROJECT_CODE = "LAB"


class Project(models.Model):
    """A group's space: every item (and so its measurements, results and files) belongs to
    one; who sees and changes what is decided by membership (core.permissions)."""

    code = models.SlugField(
        max_length=20,
        unique=True,
        help_text="short name in URLs and the API (letters, digits, dashes)",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000, validators=[max_length(2000)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("project-detail", args=[self.code])


class Membership(models.Model):
    """A user's role in a project (one row per user and project)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=ProjectRole.choices, default=ProjectRole.VIEWER)

    class Meta:
        ordering = ["project__code", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project_id}: {self.role}"


class Item(VersionedModel):
    """A tracked thing with a short human code (`PEL-0042`)."""

    code = models.CharField(max_length=20, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ItemKind.choices, editable=False, db_index=True)
    # A few words that tell a person what the item is in a list of codes ("Lithium foil, Honjo
    # lot 7", "sintered 900 °C"); refreshed by the services on every save.
    summary = models.CharField(max_length=200, blank=True, editable=False)
    notes = models.TextField(
        blank=True, max_length=NOTES_MAX_LENGTH, validators=[max_length(NOTES_MAX_LENGTH)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # PROTECT, as every "who did it" of a record: an account with history is deactivated, never
    # deleted (core.users), so the record keeps naming its author.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who may see and change the item (core.permissions); its measurements, results and raw
    # files belong to it through the item, never by a copy of this field.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="items", editable=False
    )

    # Set by every subclass.
    KIND: str = ""
    CODE_PREFIX: str = ""
    # The label this item has in a cell notation (e.g. "LAGP" in Li|LAGP|Li).
    NOTATION_LABEL: str = ""
    # A physical piece (a pellet, a membrane piece, an electrode disk) goes into one thing only.
    IS_PIECE: bool = False
    # URL names of the kind's list and new-record pages (the app's own), for the nav and tiles.
    LIST_URL: str = ""
    NEW_URL: str = ""

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("item-detail", args=[self.code])

    @property
    def specific(self) -> Item:
        """The subclass instance (Pellet, Cell, ...) behind this registry row."""
        if type(self) is not Item:
            return self
        model = ITEM_MODELS[self.kind]
        return model.objects.get(pk=self.pk)

    def notation_label(self) -> str:
        return self.NOTATION_LABEL or self.code

    def describe(self) -> str:
        """The `summary` of this item; subclasses say what matters about them."""
        return ""

    def lineage_parents(self) -> list[tuple[Item, str, float | None, str]]:
        """(parent, role, amount, unit) for every item this one was made from; the save
        services keep the lineage edges equal to this list."""
        return []

    # Hooks through which the measurements app reads what it needs of any kind without
    # importing the kinds' apps.
    # Computed properties (not fields) and the fields they are computed from, e.g. a disk's
    # `area_cm2` from `diameter_mm`; kept next to each property in the kinds' models.
    DERIVED_FROM: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def fields_behind(cls, names: Iterable[str]) -> frozenset[str]:
        """The stored fields whose change can alter the values `names` (fields or computed
        properties) of this kind: what a listener of `item_changed` compares `fields` with."""
        return frozenset(n for name in names for n in (name, *cls.DERIVED_FROM.get(name, ())))

    def geometry_borrowers(self) -> models.QuerySet | list:
        """Items whose measurements take a dimension from this one (an SPE membrane's pieces
        without a thickness of their own): a change here recomputes their measurements too."""
        return []

    def positive_active_lots(self) -> list:
        """Reagent lots of the active material on this item's positive side (a coating's, a
        disk's coating's, a cell's cathode disks'); empty when there is none."""
        return []

    def new_version_url(self) -> str:
        """Where a corrected new version of this (locked) record is made: its kind's form,
        starting from a copy, linked to it on save. Pieces of a set override it."""
        return f"{reverse(self.NEW_URL)}?copy={self.code}&supersedes={self.code}"

    def signed_parts(self) -> dict[str, list[Item]]:
        """Items a signature of this one also covers and locks, by the name they have in its
        canonical JSON (a powder batch's pellets); see core.signatures."""
        return {}


# kind -> concrete model; filled by `register_item_model` in each app's models module.
ITEM_MODELS: dict[str, type[Item]] = {}


def register_item_model(model: type[Item]) -> type[Item]:
    ITEM_MODELS[model.KIND] = model
    return model


class CodeCounter(models.Model):
    """Last number handed out per code prefix; rows are locked while a code is allocated."""

    AUDITED = False  # core.audit: not a record people change

    prefix = models.CharField(max_length=10, primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}-{self.last_number:04d}"


class LineageRole(models.TextChoices):
    PRECURSOR = "precursor", "Precursor"
    POWDER = "powder", "Powder"
    COMPONENT = "component", "Component"
    COATING = "coating", "Coating"
    PIECE = "piece", "Piece of"
    LAYER = "layer", "Cell layer"
    OTHER = "other", "Other"


class LineageEdge(models.Model):
    """parent -> child: the parent (or part of it) went into the child."""

    LOCKED_WITH = "child"  # an edge is part of the child's record (its inputs)

    # No single-column indexes: (parent, child) and (child, parent) below serve both walks.
    parent = models.ForeignKey(
        Item, on_delete=models.PROTECT, related_name="child_edges", db_index=False
    )
    child = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="parent_edges", db_index=False
    )
    role = models.CharField(max_length=20, choices=LineageRole.choices, default=LineageRole.OTHER)
    amount = models.FloatField(null=True, blank=True)
    amount_unit = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="lineage_edge_unique"),
            models.CheckConstraint(condition=~Q(parent=F("child")), name="lineage_no_self_loop"),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="lineage_amount_gte_0"
            ),
        ]
        # Both directions are walked by the recursive queries.
        indexes = [models.Index(fields=["child", "parent"], name="lineage_child_parent")]

    def __str__(self) -> str:
        return f"{self.parent_id} -> {self.child_id} ({self.role})"


class StepKind(models.TextChoices):
    BALL_MILLING = "ball_milling", "Ball milling"
    SOLVENT_REMOVAL = "solvent_removal", "Solvent removal"
    DRYING = "drying", "Drying"
    VACUUM_DRYING = "vacuum_drying", "Vacuum drying"
    PRETREATMENT = "pretreatment", "Pretreatment"
    CALCINATION = "calcination", "Calcination"
    PRESSING = "pressing", "Pressing"
    SINTERING = "sintering", "Sintering"
    HOT_PRESSING = "hot_pressing", "Hot pressing"
    UV_CROSSLINKING = "uv_crosslinking", "UV crosslinking"
    CASTING = "casting", "Coating / casting"
    OTHER = "other", "Other"


HEAT_TREATMENTS = {
    StepKind.DRYING,
    StepKind.VACUUM_DRYING,
    StepKind.PRETREATMENT,
    StepKind.CALCINATION,
    StepKind.SINTERING,
}
# Which fields a step of each kind must carry, so a record says how it was really done.
REQUIRED_STEP_FIELDS: dict[str, tuple[str, ...]] = {
    **{kind: ("temperature_c", "duration_min") for kind in HEAT_TREATMENTS},
    # Drying is often "overnight" or "until dry": the temperature is what must be recorded.
    StepKind.DRYING: ("temperature_c",),
    StepKind.VACUUM_DRYING: ("temperature_c",),
    StepKind.BALL_MILLING: ("rpm", "duration_min"),
    StepKind.PRESSING: ("pressure_t_cm2",),
    StepKind.HOT_PRESSING: ("temperature_c", "pressure_t_cm2", "duration_min"),
    StepKind.UV_CROSSLINKING: ("lamp_power_w", "duration_min"),
}


class Atmosphere(models.TextChoices):
    AIR = "air", "Air"
    VACUUM = "vacuum", "Vacuum"
    ARGON = "argon", "Argon"
    DRY_ROOM = "dry_room", "Dry room"


class ProcessStep(models.Model):
    """One structured step of how an item was made (milling, a heat treatment, pressing...)."""

    AUDIT_ITEM_FIELD = "item"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    temperature_c = models.FloatField(
        "temperature (°C)",
        null=True,
        blank=True,
        validators=[at_least(-100.0), at_most(1600.0)],
    )
    # Upper bounds are generous physical limits (about ten weeks, a rapid thermal annealer's
    # ramp, twice atmospheric pressure, a rotor-stator mixer's speed): what lies beyond is a
    # typo or a unit mix-up, not a process.
    duration_min = models.FloatField(
        "duration (min)", null=True, blank=True, validators=[greater_than_zero, at_most(100_000.0)]
    )
    ramp_c_min = models.FloatField(
        "heating ramp (°C/min)",
        null=True,
        blank=True,
        validators=[greater_than_zero, at_most(1000.0)],
    )
    atmosphere = models.CharField(max_length=10, choices=Atmosphere.choices, blank=True)
    pressure_mbar = models.FloatField(
        "vacuum (mbar)", null=True, blank=True, validators=[greater_than_zero, at_most(2000.0)]
    )
    rpm = models.PositiveIntegerField(
        "speed (rpm)", null=True, blank=True, validators=[at_most(30_000)]
    )
    solvent = models.CharField(max_length=50, blank=True)
    jar_material = models.CharField(max_length=30, blank=True)
    pressure_t_cm2 = models.FloatField(
        "pressure (t/cm²)", null=True, blank=True, validators=[greater_than_zero, at_most(100.0)]
    )
    lamp_power_w = models.FloatField(
        "lamp power (W)", null=True, blank=True, validators=[greater_than_zero, at_most(10_000.0)]
    )
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="step_position_unique"),
            models.CheckConstraint(
                condition=Q(temperature_c__isnull=True)
                | Q(temperature_c__gte=-100, temperature_c__lte=1600),
                name="step_temperature_range",
            ),
            models.CheckConstraint(
                condition=Q(duration_min__isnull=True) | Q(duration_min__gt=0),
                name="step_duration_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(ramp_c_min__isnull=True) | Q(ramp_c_min__gt=0),
                name="step_ramp_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(pressure_t_cm2__isnull=True) | Q(pressure_t_cm2__gt=0),
                name="step_pressure_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.summary()}"

    def clean(self) -> None:
        missing = {
            name: "Required for this kind of step."
            for name in REQUIRED_STEP_FIELDS.get(self.kind, ())
            if getattr(self, name) in (None, "")
        }
        if missing:
            raise ValidationError(missing)

    def summary(self) -> str:
        """'900 °C, 8 h, 5 °C/min' — how a chemist writes a step."""
        parts = []
        if self.temperature_c is not None:
            parts.append(f"{self.temperature_c:g} °C")
        if self.pressure_t_cm2 is not None:
            parts.append(f"{self.pressure_t_cm2:g} t/cm²")
        if self.rpm is not None:
            parts.append(f"{self.rpm} rpm")
        if self.duration_min is not None:
            parts.append(format_duration(self.duration_min))
        if self.ramp_c_min is not None:
            parts.append(f"{self.ramp_c_min:g} °C/min")
        if self.lamp_power_w is not None:
            parts.append(f"{self.lamp_power_w:g} W lamp")
        if self.atmosphere:
            parts.append(self.get_atmosphere_display().lower())
        if self.pressure_mbar is not None:
            parts.append(f"< {self.pressure_mbar:g} mbar")
        parts.extend(
            p for p in (self.solvent, self.jar_material and f"{self.jar_material} jar") if p
        )
        return ", ".join(parts)


def format_duration(minutes: float) -> str:
    if minutes >= 60 and (minutes / 60) == round(minutes / 60, 2):
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    # Account and token events (core/accounts.py, core/api/tokens.py): not a record's write.
    ROTATE = "rotate", "Replaced"
    EXPIRE = "expire", "Expired"
    LOCK = "lock", "Locked"
    UNLOCK = "unlock", "Unlocked"
    # Signatures (core/signatures.py): a record signed, a check of its hash that found a
    # change, a write refused because the record is locked by a signature.
    SIGN = "sign", "Signed"
    VERIFY_FAILED = "tampered", "Verification failed"
    REFUSED = "refused", "Refused (locked)"
    # Data leaving the LIMS as a whole project's file (lims/exports.py).
    EXPORT = "export", "Exported"


class AuditEvent(models.Model):
    """Who changed what, when, with the values before and after."""

    AUDITED = False  # the log itself

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # SET_NULL, not PROTECT as the records' authors (core.users): an account whose only
    # history is here (a login, a lock) may still be deleted, and the log keeps its name.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who it was, kept on the row itself: deleting the account nulls `user` (SET_NULL), and the
    # history must still name them. Written with the event, never changed afterwards.
    username = models.CharField(max_length=150, blank=True, editable=False)
    user_pk = models.BigIntegerField(null=True, blank=True, editable=False)
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    model = models.CharField(max_length=60)
    object_pk = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200)
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_pk"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    @property
    def who(self) -> str:
        """The person, also after their account was deactivated or deleted; "system" for a
        worker."""
        if self.user is not None:
            if not self.user.is_active:
                return f"{self.user.get_username()} (deactivated)"
            return self.user.get_username()
        if self.username:
            return f"{self.username} (account deleted)"
        return "system"

    def changes(self) -> dict[str, tuple]:
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after))
        return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}


class TokenExpiry(models.Model):
    """When an API token (DRF's `authtoken.Token`, one per user) stops working; none: never.

    A row beside the token rather than a token model of our own: DRF's token, its admin and the
    existing keys stay as they are. Not audited by the signals (its primary key is the token's
    secret key); `core.api.tokens` writes the token events itself."""

    AUDITED = False

    token = models.OneToOneField(
        "authtoken.Token", on_delete=models.CASCADE, primary_key=True, related_name="expiry"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    # The expiry is audited once, when the token is first refused for it.
    expiry_recorded = models.BooleanField(default=False)

    def __str__(self) -> str:
        # Never the key: it is the token's secret.
        return f"expiry {self.expires_at or 'never'}"


class Job(models.Model):
    """One unit of queued work (the transactional outbox): written in the same transaction as
    the change that needs it, sent to the broker after that commits, with the row's id as the
    Celery task id. A worker marks it started; success deletes it, a failure keeps it with the
    error. The broker is only a delivery channel: the reconciler (`core.jobs.reconcile`) sends
    what was never sent and re-sends what the broker lost."""

    AUDITED = False  # bookkeeping of the workers, not a record of the lab

    # Written by the system only (editable=False: no form or API takes them).
    task = models.CharField(max_length=200, editable=False)
    args = models.JSONField(default=list, editable=False)
    # The first argument as text (a measurement's or item's id): what the reconciler's backstop
    # matches a queued measurement or series against, in one SQL query.
    subject = models.CharField(max_length=40, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    sends = models.PositiveIntegerField(default=0, editable=False)
    attempts = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["task", "subject"], name="job_task_subject"),
            models.Index(fields=["finished_at", "sent_at"], name="job_outstanding"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.task}{tuple(self.args)}"


class SignatureMeaning(models.TextChoices):
    """What the signer declares by signing (21 CFR 11.50: the meaning is part of the record)."""

    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    VERIFIED = "verified", "Verified"
    AUTHORED = "authored", "Authored"


class Signature(models.Model):
    """An electronic signature of a finished record: who, when (UTC), what they meant, and the
    SHA-256 of the record's canonical JSON at that moment, with the JSON itself, so a later
    check can say not only *that* the record changed but *what* changed. Never changed or
    deleted (the item is PROTECTed; `save` refuses an update). Written by
    `core.signatures.sign` only."""

    AUDITED = False  # core.signatures writes the "sign" event itself, with the hash

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="signatures")
    # PROTECT: a signer's account is deactivated, never deleted (core.users).
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The name as signed: what the signature's page and verification show, whatever becomes
    # of the account.
    signer_username = models.CharField(max_length=150, editable=False)
    signed_at = models.DateTimeField(editable=False)
    meaning = models.CharField(max_length=20, choices=SignatureMeaning.choices)
    sha256 = models.CharField(max_length=64, editable=False)
    canonical = models.TextField(editable=False)
    comment = models.TextField(
        blank=True, max_length=2000, validators=[max_length(2000)], editable=False
    )
    # Every item the signature locks: the record itself and what it covers (a batch's
    # pellets), as they were when it was signed; the lock guard looks an item up here.
    covers = models.ManyToManyField(Item, related_name="covering_signatures", editable=False)

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.item.code} {self.meaning} by {self.signer_username}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError("A signature is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A signature is never deleted.")

    def describe(self) -> str:
        """'PEL-0003 was approved by alice on 2026-12-01 07:02 UTC'"""
        from datetime import UTC

        when = self.signed_at.astimezone(UTC)
        return (
            f"{self.item.code} was {self.get_meaning_display().lower()} by "
            f"{self.signer_username} on {when:%Y-%m-%d %H:%M} UTC"
        )


class Supersession(models.Model):
    """A correction of a locked record: `new` is a new version (a new code) of `old`."""

    AUDIT_ITEM_FIELD = "new"
    LOCK_EXEMPT = True  # links a new record to a locked one, changing neither
    # How core.users counts this "who did it" when it refuses to delete an account.
    USER_HISTORY = {"by": ("correction", "corrections")}

    new = models.OneToOneField(Item, on_delete=models.PROTECT, related_name="supersedes_link")
    old = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="superseded_by_links")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(new=F("old")), name="supersession_not_self")
        ]

    def __str__(self) -> str:
        return f"{self.new_id} supersedes {self.old_id}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Being written"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ProjectExport(models.Model):
    """A whole project's ELN file, written by a worker (a project with its raw files takes
    longer than a request may) into the object store, for the user who asked: it holds what
    they may see. Replaced by their next export of the project (lims/exports.py)."""

    # The request is audited as an "export" event; the rest is the worker's bookkeeping.
    AUDITED = False

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # The site's address when asked: the base of the ids in the file's BattINFO description.
    base_url = models.CharField(max_length=300, editable=False)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED, editable=False
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    items = models.PositiveIntegerField(default=0, editable=False)
    size_bytes = models.BigIntegerField(null=True, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True, editable=False)
    key = models.CharField(max_length=300, blank=True, editable=False)  # in the object store
    error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.project.code}"

    @property
    def filename(self) -> str:
        return f"{self.project.code}-project.eln"

    @property
    def pending(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)
