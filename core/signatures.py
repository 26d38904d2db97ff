"""Electronic signatures, the lock they put on a record, and their verification.

- **Canonical JSON** (`canonical_record`): one function builds what a signature covers: the
  item's fields, its process steps, the records that belong to it (a batch's precursor rows,
  a cell's layers), its inputs' codes (lineage parents with roles and amounts), and what other
  apps contribute through `register_canonical` (measurements: their settings, raw files'
  SHA-256, results with values, units and status), plus the records it covers
  (`Item.signed_parts`: a batch's pellets). Keys sorted, floats in their shortest round-trip
  form, times in UTC: the same record gives the same bytes on SQLite and PostgreSQL.
- **Lock** (`locking_signature`, `check_unlocked`, and a pre_save/pre_delete guard on every
  model that belongs to an item): a signed record and everything it covers refuse every write
  with `RecordLocked`, naming the signature. Queryset `update()`s bypass the signals; the
  services that use them call `check_unlocked` first.
- **Verification** (`verify`): recompute the canonical JSON and compare its hash with the
  stored one; when they differ, list the changed paths (old -> new). A failure is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.db.models.signals import pre_delete, pre_save
from django.utils import timezone

from .audit import record_event
from .models import (
    Item,
    LineageEdge,
    ProcessStep,
    Signature,
    SignatureMeaning,
    Supersession,
)
from .permissions import can_sign

# --- canonical JSON ------------------------------------------------------------------------------

# Bookkeeping that changes without the record changing (the version counter, the save time,
# the summary derived from the fields) or that is the row's identity only.
SKIPPED_FIELDS = {"id", "item_ptr", "version", "updated_at", "summary"}

# Contributions of other apps: item -> {key: value} merged into the item's canonical dict.
CANONICAL_CONTRIBUTORS: list[Callable[[Item], dict[str, Any]]] = []


def register_canonical(contributor: Callable[[Item], dict[str, Any]]) -> None:
    if contributor not in CANONICAL_CONTRIBUTORS:
        CANONICAL_CONTRIBUTORS.append(contributor)


def normal(value: Any) -> Any:
    """A value as it appears in canonical JSON: floats in their shortest round-trip form
    (-0.0 as 0.0; NaN and infinities as text, which JSON has no numbers for), times in UTC,
    dates in ISO form, nested lists and dicts likewise."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return 0.0 if value == 0 else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    return str(value)


def canonical_dumps(data: dict) -> str:
    return json.dumps(normal(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _related_value(obj: models.Model | None, depth: int) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Item):
        return obj.code
    if isinstance(obj, get_user_model()):
        return obj.get_username()
    if depth <= 0:
        return str(obj)
    return model_fields(obj, depth=depth - 1)


def model_fields(instance: models.Model, *, depth: int = 1, skip: tuple[str, ...] = ()) -> dict:
    """A row's recorded values by field name; a foreign key as the item's code, the user's
    name, or (one level down) the related row's own fields (a pellet's set, a lot's chemical)."""
    data = {}
    for f in instance._meta.concrete_fields:
        if f.name in SKIPPED_FIELDS or f.name in skip:
            continue
        if f.is_relation:
            data[f.name] = _related_value(getattr(instance, f.name), depth)
        else:
            data[f.name] = f.value_from_object(instance)
    return data


def _parts(item: Item) -> dict[str, list]:
    """The rows that belong to the item (models marked CANONICAL_PART: a batch's precursor
    rows and pellet sets, a cell's layers), by relation name."""
    parts = {}
    for rel in item._meta.related_objects:
        model = rel.related_model
        if not getattr(model, "CANONICAL_PART", False) or rel.multiple is False:
            continue
        rows = model._base_manager.filter(**{rel.field.name: item.pk}).order_by("pk")
        parts[rel.get_accessor_name()] = [
            model_fields(row, skip=(rel.field.name,), depth=0) for row in rows
        ]
    return parts


def canonical_record(
    item: Item, covered: set[int] | None = None, signed_names: set[str] | None = None
) -> dict[str, Any]:
    """What a signature of `item` covers, as plain JSON-able data (see the module's doc).
    When verifying: `covered`, the items the signature covers (a part added to the record
    since, such as a corrected new version of one of a signed batch's pellets, was not signed
    and is left out); `signed_names`, the top-level names the signed JSON has (a kind that
    covers parts only since a later release, a coating's disks, was signed without them)."""
    item = item.specific
    data: dict[str, Any] = {
        "code": item.code,
        "kind": item.kind,
        "fields": model_fields(item),
        "steps": [
            model_fields(step, skip=("item",))
            for step in ProcessStep.objects.filter(item=item).order_by("position")
        ],
        "inputs": sorted(
            (
                {"code": e.parent.code, "role": e.role, "amount": e.amount, "unit": e.amount_unit}
                for e in LineageEdge.objects.filter(child=item).select_related("parent")
            ),
            key=lambda row: (row["code"], row["role"]),
        ),
        **_parts(item),
    }
    for contributor in CANONICAL_CONTRIBUTORS:
        data.update(contributor(item))
    for name, parts in item.signed_parts().items():
        if signed_names is not None and name not in signed_names:
            continue
        data[name] = [
            canonical_record(part) for part in parts if covered is None or part.pk in covered
        ]
    return normal(data)


def canonical_json(
    item: Item, covered: set[int] | None = None, signed_names: set[str] | None = None
) -> str:
    return canonical_dumps(canonical_record(item, covered, signed_names))


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the lock --------------------------------------------------------------------------------------


class RecordLocked(ValidationError):
    """A write to a signed record (or to what its signature covers)."""

    def __init__(self, signature: Signature, code: str | None = None):
        target = code or signature.item.code
        also = "" if target == signature.item.code else f" (its signature covers {target})"
        message = f"{signature.describe()}{also}; it is locked. Make a new version to correct it."
        super().__init__(message, code="locked")
        self.signature = signature
        self.locked_code = target


def signatures_covering(**lookup):
    """The signatures that cover (and lock) what `lookup` names, of `Signature.covers`: an
    item (`pk=`, `code=`) or, through a path, the items that hold a shared record; oldest
    first (the first is the one a refusal names)."""
    covered = {f"covers__{k}": v for k, v in lookup.items()}
    return Signature.objects.filter(**covered).select_related("item").order_by("signed_at", "id")


def locking_signature(item_id: int | None) -> Signature | None:
    """The first signature that locks this item (its own, or one that covers it), or None."""
    if item_id is None:
        return None
    return signatures_covering(pk=item_id).first()


def is_locked(item_id: int | None) -> bool:
    return locking_signature(item_id) is not None


def check_unlocked(item_id: int | None) -> None:
    """Raise RecordLocked if a signature locks this item (for writes that bypass the model
    guard: queryset updates)."""
    signature = locking_signature(item_id)
    if signature is not None:
        code = Item.objects.filter(pk=item_id).values_list("code", flat=True).first()
        raise RecordLocked(signature, code)


def audit_refusal(exc: RecordLocked, *, action: str = "") -> None:
    """One audit event per refused write. Called where the refusal is answered (the API's
    error handler, the web middleware), after the failed transaction was rolled back, so the
    event is kept."""
    signature = exc.signature
    record_event(
        "refused",
        model="lims.signature",
        object_pk=str(signature.pk),
        object_repr=f"write to {exc.locked_code} refused: {signature.describe()}"[:200],
        item_id=signature.item_id,
        after={"item": exc.locked_code, "action": action, "signature": signature.pk},
    )


def audit_if_locked(exc: Exception, *, action: str = "") -> None:
    """For views that show a service's ValidationError themselves: audit it when it is a
    refusal by a signature."""
    if isinstance(exc, RecordLocked):
        audit_refusal(exc, action=action)


def owning_item_id(instance: models.Model) -> int | None:
    """The item a row belongs to for locking: the item itself, or the item named by the
    model's `LOCKED_WITH` (else `AUDIT_ITEM_FIELD`) path, followed through rows that are not
    items (a measurement's file -> its measurement -> its item). None: not an item's row."""
    if isinstance(instance, Item):
        return instance.pk
    model = type(instance)
    path = getattr(model, "LOCKED_WITH", getattr(model, "AUDIT_ITEM_FIELD", None))
    if not path:
        return None
    try:
        f = model._meta.get_field(path)
    except FieldDoesNotExist:
        return getattr(instance, f"{path}_id", None)
    if f.related_model is not None and issubclass(f.related_model, Item):
        return getattr(instance, f.attname)
    related = getattr(instance, path, None)
    return owning_item_id(related) if related is not None else None


def row_locking_signature(instance: models.Model) -> tuple[Signature | None, str]:
    """The signature that locks this row, with the name the refusal gives it: the signature
    of the item it belongs to; or, for a shared record whose fields a signed item's record
    holds (a chemical of a signed reagent lot: model attribute `LOCKED_BY_ITEMS`, the lookup
    from an item to it), that item's."""
    path = getattr(type(instance), "LOCKED_BY_ITEMS", None)
    if path:
        if instance.pk is None:
            return None, ""
        signature = signatures_covering(**{path: instance.pk}).first()
        return signature, f"{instance._meta.verbose_name} {instance}"
    item_id = owning_item_id(instance)
    signature = locking_signature(item_id)
    if signature is None:
        return None, ""
    return signature, Item.objects.filter(pk=item_id).values_list("code", flat=True).first()


def check_row_unlocked(instance: models.Model) -> None:
    """Raise RecordLocked if a signature locks this row (see `row_locking_signature`)."""
    signature, name = row_locking_signature(instance)
    if signature is not None:
        raise RecordLocked(signature, name)


def _guard(sender, instance, raw=False, **kwargs) -> None:
    if raw or getattr(sender, "LOCK_EXEMPT", False):
        return
    if isinstance(instance, Item) and instance._state.adding:
        return
    check_row_unlocked(instance)


def _guard_delete(sender, instance, **kwargs) -> None:
    _guard(sender, instance)


def connect_signals() -> None:
    pre_save.connect(_guard, dispatch_uid="lims_lock_pre_save")
    pre_delete.connect(_guard_delete, dispatch_uid="lims_lock_pre_delete")


# --- signing ---------------------------------------------------------------------------------------

# Apps tell whether a record is finished (no measurement still being processed).
UNFINISHED_CHECKS: list[Callable[[list[int]], list[str]]] = []


def register_unfinished_check(check: Callable[[list[int]], list[str]]) -> None:
    if check not in UNFINISHED_CHECKS:
        UNFINISHED_CHECKS.append(check)


def covered_items(item: Item) -> list[Item]:
    item = item.specific
    return [item, *(p for parts in item.signed_parts().values() for p in parts)]


def password_ok(user, password: str, request=None) -> bool:
    """The signer's password, through authenticate(): wrong ones count towards the lockout."""
    if not password:
        return False
    checked = authenticate(request, username=user.get_username(), password=password)
    return checked is not None and checked.pk == user.pk


MEANINGS = ", ".join(SignatureMeaning.values)


def sign(
    item: Item, *, user, password: str, meaning: str, comment: str = "", request=None
) -> Signature:
    """Sign a finished record after the signer re-entered their password; locks it and what
    it covers. Refusals (not allowed, wrong password, unfinished work) are ValidationErrors
    naming the field."""
    if not can_sign(user, item):
        raise PermissionError(
            f"You may not sign {item.code}: a manager of its project "
            f"({item.project.code}) signs it."
        )
    if meaning not in SignatureMeaning.values:
        raise ValidationError({"meaning": f"{meaning!r} is not a meaning; use one of: {MEANINGS}."})
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError({"comment": "At most 2000 characters."})
    if not password_ok(user, password, request):
        # Outside the signing transaction (not yet open), so the event is kept.
        record_event(
            "refused",
            model="lims.signature",
            object_pk="",
            object_repr=f"signature of {item.code} refused: wrong password",
            item_id=item.pk,
            after={"item": item.code, "reason": "wrong password"},
            user=user,
        )
        raise ValidationError({"password": "Wrong password: re-enter your login password to sign."})
    with transaction.atomic():
        return _sign_now(item, user=user, meaning=meaning, comment=comment)


def _sign_now(item: Item, *, user, meaning: str, comment: str) -> Signature:
    # Lock the rows being signed, so no write slips in between the hash and the lock.
    covered = covered_items(item)
    # (A list, not exists(): that would lock one row only, through its LIMIT 1.)
    list(Item.objects.select_for_update().filter(pk__in=[c.pk for c in covered]).values_list("pk"))
    unfinished = [
        problem for check in UNFINISHED_CHECKS for problem in check([c.pk for c in covered])
    ]
    if unfinished:
        raise ValidationError(
            {"item": [f"{problem}; sign when it has finished." for problem in unfinished]}
        )
    # Hash the rows as they are now, under the lock, not the caller's object (which may have
    # been loaded before a change that committed since).
    text = canonical_json(Item.objects.get(pk=item.pk))
    signature = Signature.objects.create(
        item=item,
        signer=user,
        signer_username=user.get_username(),
        signed_at=timezone.now(),
        meaning=meaning,
        sha256=sha256_of(text),
        canonical=text,
        comment=comment,
    )
    signature.covers.set(covered)
    record_event(
        "sign",
        model="lims.signature",
        object_pk=str(signature.pk),
        object_repr=signature.describe(),
        item_id=item.pk,
        after={
            "item": item.code,
            "meaning": meaning,
            "sha256": signature.sha256,
            "covers": sorted(c.code for c in covered),
            "comment": comment,
        },
        user=user,
    )
    return signature


# --- verification ----------------------------------------------------------------------------------


@dataclass
class Verification:
    signature: Signature
    intact: bool
    sha256_now: str
    # (path, old, new): "fields.thickness_mm", 0.5 -> 0.6
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        s = self.signature
        return {
            "id": s.pk,
            "item": s.item.code,
            "meaning": s.meaning,
            "signer": s.signer_username,
            "signed_at": s.signed_at,
            "comment": s.comment,
            "sha256": s.sha256,
            "sha256_now": self.sha256_now,
            "intact": self.intact,
            "changes": [{"path": p, "old": old, "new": new} for p, old, new in self.changes],
        }


_MISSING = "(absent)"


def diff(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The leaves that differ between two canonical structures, as (path, old, new); list
    items are matched by their `code` when they have one (a measurement, a pellet), else by
    position."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            out += diff(old.get(key, _MISSING), new.get(key, _MISSING), sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if all(isinstance(x, dict) and "code" in x for x in old + new):
            olds, news = {x["code"]: x for x in old}, {x["code"]: x for x in new}
            out = []
            for code in sorted(set(olds) | set(news)):
                out += diff(olds.get(code, _MISSING), news.get(code, _MISSING), f"{path}[{code}]")
            return out
        out = []
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else _MISSING
            b = new[index] if index < len(new) else _MISSING
            out += diff(a, b, f"{path}[{index}]")
        return out
    return [] if old == new else [(path, old, new)]


def verify(signature: Signature, *, audit: bool = True) -> Verification:
    # The record as stored now (never an object some caller holds).
    current = Item.objects.get(pk=signature.item_id)
    covered = set(signature.covers.values_list("pk", flat=True))
    try:
        signed_names = set(json.loads(signature.canonical))
    except (ValueError, TypeError):
        signed_names = None  # an unreadable signed JSON: the hash check below names it
    text = canonical_json(current, covered, signed_names)
    now = sha256_of(text)
    if now == signature.sha256 and sha256_of(signature.canonical) == signature.sha256:
        return Verification(signature, True, now)
    changes = diff(json.loads(signature.canonical), json.loads(text))
    if sha256_of(signature.canonical) != signature.sha256:
        changes.insert(0, ("signature.canonical", signature.sha256, sha256_of(signature.canonical)))
    result = Verification(signature, False, now, changes)
    if audit:
        record_event(
            "tampered",
            model="lims.signature",
            object_pk=str(signature.pk),
            object_repr=f"verification of {signature.describe()} failed"[:200],
            item_id=signature.item_id,
            after={
                "sha256_signed": signature.sha256,
                "sha256_now": now,
                "changes": [[p, o, n] for p, o, n in changes[:50]],
            },
        )
    return result


def verify_item(item: Item, *, audit: bool = True) -> list[Verification]:
    """Every signature of the item (and those that cover it), verified."""
    return [verify(s, audit=audit) for s in signatures_covering(pk=item.pk)]


# --- new versions ----------------------------------------------------------------------------------

# The locked record a save in progress makes a new version of: a new version of a cell
# describes the same physical cell, so its pellet, membrane piece and disks may be the ones the
# old version holds (the one-cell rule would refuse them for any other cell).
_VERSION_OF: ContextVar[Item | None] = ContextVar("lims_version_of", default=None)


@contextmanager
def making_version_of(old: Item | None) -> Iterator[None]:
    token = _VERSION_OF.set(old)
    try:
        yield
    finally:
        _VERSION_OF.reset(token)


def version_of(item: Item | None) -> Item | None:
    """The record `item` is (or, while it is being saved, will be) a new version of."""
    if item is not None and item.pk is not None:
        link = Supersession.objects.filter(new_id=item.pk).select_related("old").first()
        if link is not None:
            return link.old
    return _VERSION_OF.get()


@transaction.atomic
def supersede(new: Item, old: Item, *, user=None) -> Supersession:
    """Record that `new` (a new record, e.g. a copy with the correction) is the new version of
    the locked record `old`."""
    if new.pk == old.pk:
        raise ValidationError({"supersedes": f"{new.code} cannot be a new version of itself."})
    if new.kind != old.kind:
        raise ValidationError(
            {
                "supersedes": f"{new.code} is a {new.get_kind_display().lower()}, {old.code} a "
                f"{old.get_kind_display().lower()}: a new version is of the same kind."
            }
        )
    if Supersession.objects.filter(new=new).exists():
        raise ValidationError({"supersedes": f"{new.code} already is a new version of a record."})
    later = Supersession.objects.filter(old=old).select_related("new").first()
    if later is not None:
        # One line of versions: a correction corrects the newest one.
        raise ValidationError(
            {
                "supersedes": f"{old.code} already has a new version, {later.new.code}: "
                f"correct that one (sign it first)."
            }
        )
    return Supersession.objects.create(new=new, old=old, by=user)


def inputs_changed_since(item: Item, checks: list[Verification]) -> list[dict[str, Any]]:
    """The item's direct inputs (lineage parents) saved after its first signature: the signed
    record stays as signed (a locked cell keeps the active mass it was signed with), so a
    reader must be told that an input it was computed from has changed since."""
    if not checks:
        return []
    since = min(check.signature.signed_at for check in checks)
    parents = (
        Item.objects.filter(child_edges__child=item, updated_at__gt=since)
        .order_by("code")
        .values("code", "updated_at")
    )
    return [{"item": p["code"], "changed_at": p["updated_at"]} for p in parents]


def report(item: Item, *, audit: bool = True) -> dict[str, Any]:
    """What the item's page and `GET /api/items/<code>/verify/` show: its signatures (own and
    covering) each verified, and its versions."""
    checks = verify_item(item, audit=audit)
    link = Supersession.objects.filter(new=item).select_related("old").first()
    return {
        "item": item.code,
        "locked": bool(checks),
        "intact": all(check.intact for check in checks),
        "signatures": [check.as_dict() for check in checks],
        "inputs_changed": inputs_changed_since(item, checks),
        "supersedes": link.old.code if link is not None else None,
        "superseded_by": list(
            Supersession.objects.filter(old=item)
            .order_by("at", "id")
            .values_list("new__code", flat=True)
        ),
    }
