"""Export an item, or any set of items (a list's selection, a project), with their ancestry as
an ELN file (`.eln`), and import one into this instance.

An `.eln` file is the ELN consortium's format (TheELNConsortium/TheELNFileFormat, read by
eLabFTW, Kadi4Mat and others): a zip holding one top folder with `ro-crate-metadata.json`, an
RO-Crate 1.1 JSON-LD graph, beside the files it describes. Here:

- one `Dataset` per item (`./PEL-0001/`): name and identifier its code, `additionalType` its
  kind, its fields as `PropertyValue`s (`additionalProperty`), `isBasedOn` its parents and
  `hasPart` its measurements; one `Dataset` per measurement (`./PEL-0001/MEAS-0001/`) whose
  `hasPart` are its raw files and parsed Parquet (`File` with `sha256`, `contentSize`,
  `encodingFormat`) and whose `result` properties are its results (values, algorithm version);
- `battinfo.jsonld`: the same records in the BattINFO / EMMO battery ontology's terms
  (`lims.battinfo`), a `File` of the root dataset;
- for a LIMS on the other side, the exact record of each item and measurement as a JSON string
  in a `PropertyValue` with `propertyID` "lims:record" (other ELNs show it as text): JSON-LD
  keeps only terms its context defines, so the record rides inside a defined one.

Import decisions:
- Codes: an item keeps its code when this instance does not have it yet (the code counter is
  moved past it, so new codes never collide); otherwise it gets a new code, its notes say what
  it was, and the report maps old code to new. An item whose code exists is never merged: two
  labs' PEL-0001 are different pellets.
- Results are not restored as they were: each measurement is queued for processing, and the
  worker re-parses the raw files and recomputes, so every number in this instance comes from raw
  data by the algorithm this instance runs. The crate's results stay in the crate (and the
  round-trip test shows the recomputed values equal them). Parquet is derived and is rebuilt.
- Raw files are hashed while read from the zip and refused, naming the file, when the hash is
  not the crate's `sha256`; only then stored (by `storage.store_stream`, which hashes again).
- Everything is one transaction: a crate refused halfway leaves no records behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import mimetypes
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core import permissions
from core import selectors as core_selectors
from core import services as core_services
from core.models import ITEM_MODELS, CodeCounter, Item, LineageEdge, ProcessStep
from measurements import services as measurement_services
from measurements import storage
from measurements.models import Measurement, MeasurementFile

from . import battinfo

FORMAT = "lims-eln/1"
RECORD = "lims:record"
LINEAGE = "lims:lineage"
CONTEXT = "https://w3id.org/ro/crate/1.1/context"
PARQUET = "application/vnd.apache.parquet"
# Apps whose rows belong to an item (process steps, precursor uses, cell layers, lot uses).
PART_APPS = {"synthesis", "cells"}
# Measurement fields a crate carries and an import sets (the ones a user enters).
MEASUREMENT_FIELDS = measurement_services.EDITABLE
MAX_METADATA_BYTES = 50 * 1024 * 1024
# Items one export may name (a list's selection, a project); their ancestors come along
# uncounted. An export reads every raw file it carries, so a request stays bounded.
MAX_EXPORT_ITEMS = 200
BATTINFO_FILE = "battinfo.jsonld"


# Item columns the registry keeps (not the record's values): made anew by an import.
# Not the project either: an import goes into the importing user's project.
ITEM_BOOKKEEPING = {
    "code",
    "kind",
    "summary",
    "created_at",
    "updated_at",
    "created_by",
    "project",
}


class ImportRefused(Exception):
    """A crate that cannot be imported; the message says what is wrong and where."""


class ExportRefused(Exception):
    """An export asked of what cannot be exported (unknown codes, too many); the message
    names them."""


# -- records as JSON ---------------------------------------------------------------------------


def _is_item_model(model) -> bool:
    return isinstance(model, type) and issubclass(model, Item)


def _stored_fields(model) -> list[models.Field]:
    """The fields a record is made of: its own values, not keys, counters or timestamps."""
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key
        and f.name != "version"
        and not (f.model is Item and f.name in ITEM_BOOKKEEPING)
    ]


def _value(obj, f: models.Field, depth: int = 0) -> Any:
    if f.is_relation:
        target = getattr(obj, f.name)
        if target is None:
            return None
        if _is_item_model(f.related_model):
            return {"$item": target.code}
        if f.related_model is get_user_model():
            return {"$user": target.get_username()}
        if depth > 2:
            raise ValueError(f"{obj._meta.label}.{f.name}: records nested too deep")
        return {"$model": target._meta.label, "$fields": _record(target, depth + 1)}
    value = f.value_from_object(obj)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value


def _record(obj, depth: int = 0) -> dict[str, Any]:
    return {f.name: _value(obj, f, depth) for f in _stored_fields(type(obj))}


def _part_relations(model) -> list:
    """Rows owned by an item (deleted with it): its process steps and its kind's parts."""
    return [
        rel
        for rel in model._meta.related_objects
        if rel.one_to_many
        and rel.on_delete is models.CASCADE
        and not _is_item_model(rel.related_model)
        and (rel.related_model._meta.app_label in PART_APPS or rel.related_model is ProcessStep)
    ]


def _parts(item: Item) -> list[dict[str, Any]]:
    parts = []
    for rel in _part_relations(type(item)):
        rows = rel.related_model._default_manager.filter(**{rel.field.name: item}).order_by("pk")
        for row in rows:
            fields = _record(row)
            fields.pop(rel.field.name, None)
            parts.append(
                {"model": rel.related_model._meta.label, "owner": rel.field.name, "fields": fields}
            )
    return parts


# -- export ------------------------------------------------------------------------------------


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def _prop(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, str | int | float | bool) and value is not None:
        value = json.dumps(value, sort_keys=True, default=str)
    return {"@type": "PropertyValue", "propertyID": name, "name": name, "value": value}


@dataclass
class _Crate:
    zip: zipfile.ZipFile
    root: str
    graph: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def node(self, entity: dict[str, Any]) -> dict[str, str]:
        # Empty values left out: the ELN consortium's checks flag them (no notes: no "text").
        self.graph.append({k: v for k, v in entity.items() if v not in (None, "", [])})
        return {"@id": entity["@id"]}

    def person(self, user) -> dict[str, str] | None:
        """The user who recorded something, as a Person entity (once per crate)."""
        if user is None:
            return None
        ref = f"#person-{_safe(user.get_username())}"
        if not any(e["@id"] == ref for e in self.graph):
            name = user.get_full_name() or user.get_username()
            self.node({"@id": ref, "@type": "Person", "name": name})
        return {"@id": ref}

    def prop(self, owner: str, name: str, value: Any) -> dict[str, str]:
        self.counter += 1
        return self.node({"@id": f"#{_safe(owner)}-{self.counter}", **_prop(name, value)})

    def add_file(self, path: str, source: BinaryIO, name: str, encoding: str) -> dict[str, str]:
        """Copy a stream into the zip (in chunks), hashing it on the way; its File entity."""
        digest, size = hashlib.sha256(), 0
        member = f"{self.root}/{path.removeprefix('./')}"
        with self.zip.open(member, "w", force_zip64=True) as out:
            while chunk := source.read(storage.CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return self.node(
            {
                "@id": path,
                "@type": "File",
                "name": name,
                "encodingFormat": encoding,
                "contentSize": str(size),
                "sha256": digest.hexdigest(),
            }
        )


def _ordered_items(items: Item | Iterable[Item]) -> list[Item]:
    """The items and their ancestors, each once, every parent before its children."""
    ids: list[int] = []
    seen: set[int] = set()
    for item in [items] if isinstance(items, Item) else items:
        for pk in [item.pk, *(row.id for row in core_selectors.lineage(item.pk, "ancestors"))]:
            if pk not in seen:
                seen.add(pk)
                ids.append(pk)
    edges = LineageEdge.objects.filter(child_id__in=ids).values_list("parent_id", "child_id")
    parents: dict[int, set[int]] = {pk: set() for pk in ids}
    for parent_id, child_id in edges:
        parents[child_id].add(parent_id)
    order, placed = [], set()
    while len(order) < len(ids):
        ready = [pk for pk in ids if pk not in placed and parents[pk] <= placed]
        order.extend(ready)
        placed.update(ready)
    by_pk = {i.pk: i for i in Item.objects.filter(pk__in=ids)}
    return [by_pk[pk].specific for pk in order]


def _export_measurement(crate: _Crate, folder: str, m: Measurement) -> dict[str, str]:
    path = f"{folder}{m.code}/"
    parts = []
    for position, link in enumerate(m.files.select_related("raw_file").order_by("position", "pk")):
        raw = link.raw_file
        with contextlib.closing(storage.open_verified(raw.sha256, link.filename)) as stream:
            mime = mimetypes.guess_type(link.filename)[0] or "application/octet-stream"
            entry = crate.add_file(
                f"{path}raw/{position:02d}_{_safe(link.filename)}", stream, link.filename, mime
            )
        parts.append(entry)
        if link.parsed_path:
            try:
                parsed = storage.open_derived(link.parsed_path)
            except FileNotFoundError:
                continue  # derived: rebuilt by processing; the raw file is what matters
            with contextlib.closing(parsed):
                parts.append(
                    crate.add_file(
                        f"{path}parsed/{position:02d}_{_safe(link.filename)}.parquet",
                        parsed,
                        f"{link.filename} parsed ({link.parser})",
                        PARQUET,
                    )
                )
    record = {f: _value(m, m._meta.get_field(f)) for f in MEASUREMENT_FIELDS}
    record["files"] = [
        {"filename": link.filename, "sha256": link.raw_file.sha256, "position": link.position}
        for link in m.files.select_related("raw_file").order_by("position", "pk")
    ]
    results = [
        crate.node(
            {
                "@id": f"#result-{m.code}-{r.kind}",
                "@type": "PropertyValue",
                "propertyID": f"result:{r.kind}",
                "name": r.get_kind_display(),
                "value": json.dumps(r.values, sort_keys=True),
                "measurementTechnique": r.algorithm_version,
                "description": f"algorithm {r.algorithm_version}; inputs "
                + json.dumps(r.inputs, sort_keys=True, default=str),
            }
        )
        for r in m.results.order_by("kind")
    ]
    return crate.node(
        {
            "@id": path,
            "@type": "Dataset",
            "name": m.code,
            "identifier": m.code,
            "additionalType": f"measurement:{m.technique}",
            "measurementTechnique": m.get_technique_display(),
            "author": crate.person(m.created_by),
            "dateCreated": m.created_at.isoformat(),
            "text": m.notes,
            "hasPart": parts,
            "variableMeasured": results,
            "additionalProperty": [crate.prop(m.code, RECORD, record)],
        }
    )


def export_eln(
    items: Item | Iterable[Item],
    target: BinaryIO,
    *,
    base_url: str = battinfo.DEFAULT_BASE,
    user=None,
    name: str = "",
) -> None:
    """Write an item, or any items (a list page's selection, a project's), with their
    ancestry as one ELN file to `target` (a file opened for writing). The crate also holds
    the same records as BattINFO JSON-LD (`battinfo.jsonld`, ids under `base_url`).

    Raw files are read hash-checked (`storage.Damaged` if one is not intact: an export never
    ships bytes the store cannot vouch for) and copied through in chunks. With `user`, an
    ancestor of a project they cannot see is left out (its child's lineage names its code)."""
    chosen = [items] if isinstance(items, Item) else list(items)
    if not chosen:
        raise ExportRefused("nothing to export: no items were given")
    items = _ordered_items(chosen)
    if user is not None:
        items = [it for it in items if permissions.can_view(user, it)]
    # The top folder: the export's name (a project's), else the items' codes.
    root = f"{_safe(name) if name else export_name(chosen)}-eln"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        crate = _Crate(archive, root)
        datasets = []
        for it in items:
            folder = f"./{it.code}/"
            measurements = [
                _export_measurement(crate, folder, m)
                for m in Measurement.objects.filter(item=it).order_by("code")
            ]
            edges = LineageEdge.objects.filter(child=it).select_related("parent")
            lineage = [
                {"parent": e.parent.code, "role": e.role, "amount": e.amount, "unit": e.amount_unit}
                for e in edges.order_by("parent__code")
            ]
            record = {"kind": it.kind, "fields": _record(it), "parts": _parts(it)}
            shown = [
                crate.prop(it.code, f.verbose_name, _value(it, f))
                for f in _stored_fields(type(it))
                if _value(it, f) not in (None, "")
            ]
            datasets.append(
                crate.node(
                    {
                        "@id": folder,
                        "@type": "Dataset",
                        "name": it.code,
                        "identifier": it.code,
                        "additionalType": it.kind,
                        "description": it.summary,
                        "text": it.notes,
                        "author": crate.person(it.created_by),
                        "dateCreated": it.created_at.isoformat(),
                        "dateModified": it.updated_at.isoformat(),
                        "isBasedOn": [{"@id": f"./{e['parent']}/"} for e in lineage],
                        "hasPart": measurements,
                        "additionalProperty": [
                            *shown,
                            crate.prop(it.code, LINEAGE, lineage),
                            crate.prop(it.code, RECORD, record),
                        ],
                    }
                )
            )
        with archive.open(f"{root}/{BATTINFO_FILE}", "w") as out:
            described = battinfo.dumps(chosen, base_url, user)
            out.write(described)
        battinfo_entry = crate.node(
            {
                "@id": f"./{BATTINFO_FILE}",
                "@type": "File",
                "name": "The records in BattINFO / EMMO terms (JSON-LD)",
                "encodingFormat": battinfo.MEDIA_TYPE,
                "contentSize": str(len(described)),
                "sha256": hashlib.sha256(described).hexdigest(),
                "conformsTo": {"@id": battinfo.CONTEXT_URL},
            }
        )
        now = timezone.now().isoformat()
        main = (
            {
                "name": f"{chosen[0].code} with its ancestry",
                "mainEntity": {"@id": f"./{chosen[0].code}/"},
            }
            if len(chosen) == 1
            else {
                "name": f"{len(chosen)} items with their ancestry: "
                + ", ".join(i.code for i in chosen[:10])
                + (", ..." if len(chosen) > 10 else "")
            }
        )
        head = [
            {
                "@id": "ro-crate-metadata.json",
                "@type": "CreativeWork",
                "about": {"@id": "./"},
                "conformsTo": {"@id": "https://w3id.org/ro/crate/1.1"},
                "dateCreated": now,
                "sdPublisher": {"@id": "#publisher"},
                "version": "1.0",
            },
            {"@id": "#publisher", "@type": "Organization", "name": "Solid-state battery LIMS"},
            {
                "@id": "./",
                "@type": "Dataset",
                **main,
                "additionalType": FORMAT,
                "datePublished": now,
                "hasPart": [*datasets, battinfo_entry],
            },
        ]
        metadata = {"@context": CONTEXT, "@graph": head + crate.graph}
        archive.writestr(
            f"{root}/ro-crate-metadata.json", json.dumps(metadata, indent=1, ensure_ascii=False)
        )


def export_name(items: list[Item]) -> str:
    """The file's name (without .eln): the item's code, or the first code and how many."""
    if len(items) == 1:
        return _safe(items[0].code)
    return f"{_safe(items[0].code)}-and-{len(items) - 1}-more"


def items_for_codes(codes: Iterable[str], user=None) -> list[Item]:
    """The items a list of codes names, in the order given (case and spaces forgiven, each
    once); refused naming every code that names no item (with `user`: no item they can see),
    or when there are none or more than MAX_EXPORT_ITEMS."""
    # A dict keeps the order and drops repeats in linear time (an address may carry many).
    wanted = list(dict.fromkeys(c for c in (str(c).strip().upper() for c in codes) if c))
    if not wanted:
        raise ExportRefused("no item codes given: name at least one, e.g. CELL-0001")
    if len(wanted) > MAX_EXPORT_ITEMS:
        raise ExportRefused(
            f"{len(wanted)} item codes: at most {MAX_EXPORT_ITEMS} in one export "
            "(their ancestry comes along and does not count)"
        )
    candidates = Item.objects.all() if user is None else permissions.visible_items(user)
    found = {item.code.upper(): item for item in candidates.filter(code__in=wanted)}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise ExportRefused(f"no item with the code {', '.join(unknown)}")
    return [found[code].specific for code in wanted]


def export_file(
    items: Item | Iterable[Item],
    *,
    base_url: str = battinfo.DEFAULT_BASE,
    user=None,
    name: str = "",
) -> BinaryIO:
    """The ELN file of an item, or of several, as an open temporary file (on disk, not in
    memory), rewound; the caller closes it (a FileResponse does once sent), which deletes it."""
    spool = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
    try:
        export_eln(items, spool, base_url=base_url, user=user, name=name)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


# -- import ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    codes: dict[str, str] = field(default_factory=dict)  # code in the crate -> code here
    measurements: dict[str, str] = field(default_factory=dict)
    files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.codes, "measurements": self.measurements, "raw_files": self.files}


def _read_crate(archive: zipfile.ZipFile) -> tuple[str, dict[str, dict[str, Any]]]:
    names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1 or not any("/" in n for n in names):
        raise ImportRefused(
            f"an .eln file holds exactly one top folder; this one has {len(tops)} entries at its root"
        )
    root = tops.pop()
    try:
        info = archive.getinfo(f"{root}/ro-crate-metadata.json")
    except KeyError:
        raise ImportRefused(f"{root}/ro-crate-metadata.json is missing") from None
    if info.file_size > MAX_METADATA_BYTES:
        raise ImportRefused("ro-crate-metadata.json is larger than 50 MB")
    try:
        metadata = json.loads(archive.read(info))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"ro-crate-metadata.json is not JSON: {exc}") from None
    graph = metadata.get("@graph") if isinstance(metadata, dict) else None
    if not isinstance(graph, list) or not all(
        isinstance(e, dict) and isinstance(e.get("@id"), str) for e in graph
    ):
        raise ImportRefused("ro-crate-metadata.json has no @graph list of entities with @id")
    return root, {e["@id"]: e for e in graph}


def _refs(entity: dict, key: str) -> list[str]:
    value = entity.get(key) or []
    value = value if isinstance(value, list) else [value]
    return [v["@id"] for v in value if isinstance(v, dict) and isinstance(v.get("@id"), str)]


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items())
    return "; ".join(exc.messages)


def _property(entities: dict, entity: dict, name: str) -> Any:
    for ref in _refs(entity, "additionalProperty"):
        prop = entities.get(ref, {})
        if prop.get("propertyID") == name:
            try:
                return json.loads(prop.get("value"))
            except (TypeError, ValueError):
                raise ImportRefused(f"{entity['@id']}: {name} is not valid JSON") from None
    raise ImportRefused(f"{entity['@id']}: no {name} property (not exported by this LIMS?)")


class _Importer:
    def __init__(self, archive: zipfile.ZipFile, user, project=None):
        self.archive, self.user, self.project = archive, user, project
        self.root, self.entities = _read_crate(archive)
        self.report = ImportReport()
        self.items: dict[str, Item] = {}  # crate code -> item here

    def code_for(self, code: str, prefix: str, model) -> tuple[str, bool]:
        """The crate's code when free here (the counter moved past it), else a new one."""
        match = re.fullmatch(rf"{re.escape(prefix)}-(\d+)", code)
        if match and not model.objects.filter(code=code).exists():
            counter, _ = CodeCounter.objects.select_for_update().get_or_create(prefix=prefix)
            if counter.last_number < int(match[1]):
                counter.last_number = int(match[1])
                counter.save(update_fields=["last_number"])
            return code, True
        return core_services.allocate_code(prefix), False

    def resolve(self, model, values: dict[str, Any], where: str) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            try:
                f = model._meta.get_field(name)
            except Exception:
                raise ImportRefused(f"{where}: {model._meta.label} has no field {name!r}") from None
            if isinstance(value, dict) and "$item" in value:
                code = value["$item"]
                target = self.items.get(code)
                if target is None:
                    raise ImportRefused(
                        f"{where}: {name} names {code}, which the crate does not hold"
                    )
                out[name] = f.related_model.objects.get(pk=target.pk)
            elif isinstance(value, dict) and "$user" in value:
                out[name] = get_user_model().objects.filter(username=value["$user"]).first()
            elif isinstance(value, dict) and "$model" in value:
                out[name] = self.nested(f.related_model, value.get("$fields") or {}, where)
            elif value is not None and not f.is_relation:
                try:
                    out[name] = f.to_python(value)
                except ValidationError as exc:
                    raise ImportRefused(f"{where}: {name}: {'; '.join(exc.messages)}") from None
            else:
                out[name] = value
        return out

    def nested(self, model, values: dict[str, Any], where: str):
        """A record an item points at (a chemical, a pellet set): the one here with the same
        unique value (a chemical of the same name) or the same fields, else a new one."""
        fields = self.resolve(model, values, where)
        for f in model._meta.concrete_fields:
            if f.unique and not f.primary_key and f.name in fields:
                found = model.objects.filter(**{f.name: fields[f.name]}).first()
                if found is not None:
                    return found
        found = model.objects.filter(**fields).first()
        if found is not None:
            return found
        obj = model(**fields)
        self.clean(obj, where)
        obj.save()
        return obj

    @staticmethod
    def clean(obj, where: str, exclude=()) -> None:
        try:
            obj.full_clean(exclude=list(exclude))
        except ValidationError as exc:
            raise ImportRefused(f"{where}: {_messages(exc)}") from None

    def item(self, entity: dict) -> None:
        code = str(entity.get("identifier") or entity.get("name") or "")
        where = f"item {code or entity['@id']}"
        record = _property(self.entities, entity, RECORD)
        model = ITEM_MODELS.get(record.get("kind") if isinstance(record, dict) else None)
        if model is None:
            raise ImportRefused(f"{where}: unknown kind {record.get('kind')!r}")
        fields = self.resolve(model, record.get("fields") or {}, where)
        try:
            fields["project"] = permissions.project_for_new_item(self.user, self.project)
        except ValidationError as exc:
            raise ImportRefused(f"{where}: {_messages(exc)}") from None
        instance = model(**fields, kind=model.KIND, created_by=self.user)
        self.clean(instance, where, exclude=["code"])
        new_code, kept = self.code_for(code, model.CODE_PREFIX, Item)
        instance.code = new_code
        if not kept:
            instance.notes = (f"{instance.notes}\n" if instance.notes else "") + (
                f"Imported from an .eln file, where its code was {code}."
            )
        instance.summary = instance.describe()[:200]
        instance.save()
        self.items[code] = instance
        self.report.codes[code] = new_code
        for part in record.get("parts") or []:
            part_model = self.model(part.get("model"), where)
            values = self.resolve(part_model, part.get("fields") or {}, f"{where} part")
            row = part_model(**values, **{part["owner"]: instance})
            self.clean(row, f"{where} ({part_model._meta.verbose_name})")
            row.save()
        core_services.sync_lineage(instance)
        for edge in _property(self.entities, entity, LINEAGE):
            parent = self.items.get(edge.get("parent"))
            if parent is None:
                raise ImportRefused(f"{where}: parent {edge.get('parent')} is not in the crate")
            try:
                core_services.link(
                    parent,
                    instance,
                    role=edge.get("role") or "other",
                    amount=edge.get("amount"),
                    amount_unit=edge.get("unit") or "",
                )
            except ValidationError as exc:
                raise ImportRefused(f"{where}: {'; '.join(exc.messages)}") from None
        for ref in _refs(entity, "hasPart"):
            self.measurement(instance, self.entities.get(ref) or {"@id": ref})

    @staticmethod
    def model(label: Any, where: str):
        from django.apps import apps

        try:
            return apps.get_model(str(label))
        except (LookupError, ValueError):
            raise ImportRefused(f"{where}: unknown record type {label!r}") from None

    def measurement(self, item: Item, entity: dict) -> None:
        code = str(entity.get("identifier") or entity["@id"])
        where = f"measurement {code}"
        record = _property(self.entities, entity, RECORD)
        values = {k: v for k, v in record.items() if k in MEASUREMENT_FIELDS}
        m = Measurement(item=item, created_by=self.user, **self.resolve(Measurement, values, where))
        self.clean(m, where, exclude=["code"])
        m.code, _ = self.code_for(code, "MEAS", Measurement)
        m.save()
        self.report.measurements[code] = m.code
        files = {e.get("sha256"): e for e in map(self.entities.get, _refs(entity, "hasPart")) if e}
        for position, entry in enumerate(record.get("files") or []):
            sha = entry.get("sha256")
            name = entry.get("filename") or sha
            file_entity = files.get(sha)
            if file_entity is None:
                raise ImportRefused(f"{where}: raw file {name} has no File entity with its sha256")
            raw = self.raw_file(file_entity, sha, name)
            MeasurementFile.objects.create(
                measurement=m, raw_file=raw, filename=name[:255], position=position
            )
        measurement_services.measurement_reprocess(m)

    def raw_file(self, entity: dict, sha: str, name: str):
        member = f"{self.root}/{entity['@id'].removeprefix('./')}"
        try:
            info = self.archive.getinfo(member)
        except KeyError:
            raise ImportRefused(f"raw file {name}: {entity['@id']} is not in the zip") from None
        if info.file_size > measurement_services.MAX_UPLOAD_BYTES:
            raise ImportRefused(
                f"raw file {name}: {info.file_size} bytes, over the upload limit of "
                f"{measurement_services.MAX_UPLOAD_BYTES}"
            )
        digest = hashlib.sha256()
        with self.archive.open(info) as stream:
            while chunk := stream.read(storage.CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha:
            raise ImportRefused(
                f"raw file {name}: its bytes hash to {digest.hexdigest()}, the crate says {sha}"
            )
        with self.archive.open(info) as stream:
            raw, _ = measurement_services.raw_file_store(stream, filename=name, user=self.user)
        self.report.files += 1
        return raw

    def run(self) -> ImportReport:
        root = self.entities.get("./")
        if root is None or root.get("additionalType") != FORMAT:
            raise ImportRefused(f"the crate's root dataset is not a {FORMAT} export")
        for ref in _refs(root, "hasPart"):
            entity = self.entities.get(ref)
            if entity is None:
                raise ImportRefused(f"the root lists {ref}, which the graph does not describe")
            if entity.get("@type") == "File":
                continue  # battinfo.jsonld: the same records in other terms, rebuilt on export
            self.item(entity)
        return self.report


def import_eln(upload: BinaryIO, *, user=None, project=None) -> ImportReport:
    """Restore the items, lineage and measurements of an ELN file made by `export_eln` into
    `project` (default: the user's only project they record in); all or nothing.
    Measurements are queued for processing when the transaction commits."""
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"not a zip file (an .eln file is one): {exc}") from None
    with archive:
        try:
            with transaction.atomic():
                return _Importer(archive, user, project).run()
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ImportRefused(f"the zip is damaged: {exc}") from None
        except (TypeError, AttributeError, KeyError, ValueError, IntegrityError) as exc:
            # Hand-edited or foreign metadata whose values are not of the shape this LIMS
            # writes (a list where a record is, two rows where one may be): a refusal, not a 500.
            raise ImportRefused(
                f"the crate's records are not in the shape this LIMS writes "
                f"({type(exc).__name__}: {exc})"
            ) from None
