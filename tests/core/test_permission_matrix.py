"""The permission matrix: every web URL pattern (walked from `lims.urls`) and every API operation
(from the OpenAPI schema, generated in-process) x every principal x the actions each takes,
with the records in project A (the default project, the demo study) and a second project B.

Each case asserts the answer the rules of `core.permissions` give (2xx/3xx or a validation 400
where the principal may act; the login redirect or 401 for no or a dead credential; 404 for what
the principal cannot see; 403 for a write the principal's role does not allow), and that no
answer to a principal who cannot see A carries A's item codes or notes (a leak). Writes run in a
savepoint that is rolled back, so every case sees the same records.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.api.tokens import token_rotate
from core.models import Item, Project, TokenExpiry
from tests.factories import join

SECRET = "SECRET-NOTE-OF-A"

# Who asks. Web pages log in with a session; the API with a token.
ANON, VIEWER_A, MEMBER_A, MEMBER_B, MANAGER_A, DEAD_TOKEN, EXPIRED_TOKEN = (
    "anonymous",
    "viewer of A",
    "member of A",
    "member of B",
    "manager of A",
    "revoked token",
    "expired token",
)
WEB_PRINCIPALS = (ANON, VIEWER_A, MEMBER_A, MEMBER_B, MANAGER_A)
API_PRINCIPALS = (*WEB_PRINCIPALS, DEAD_TOKEN, EXPIRED_TOKEN)
SEES_A = {VIEWER_A, MEMBER_A, MANAGER_A}
WRITES_A = {MEMBER_A, MANAGER_A}
NO_CREDENTIAL = {ANON, DEAD_TOKEN, EXPIRED_TOKEN}

# Expected answers, by name.
OK = "allowed"  # 2xx, 3xx (not to the login page), or 400/409/412/428 about the input
LOGIN = "login"  # 302 to the login page (web) / 401 (API)
HIDDEN = "404"
FORBIDDEN = "403"
PUBLIC = "public"  # the same for everyone (health probes, the login page, the schema)


def _allowed(response) -> bool:
    if response.status_code in (301, 302, 303):
        return "/accounts/login/" not in response.get("Location", "")
    return response.status_code < 300 or response.status_code in (400, 409, 412, 428)


def _check(response, expected: str) -> bool:
    code = response.status_code
    if expected == OK:
        return _allowed(response)
    if expected == LOGIN:  # the API: 401; a page: to the login form
        return code == 401 or (code == 302 and "/accounts/login/" in response.get("Location", ""))
    if expected == HIDDEN:
        return code == 404
    if expected == FORBIDDEN:
        return code == 403
    if expected == PUBLIC:
        return code < 500 or code == 503  # readyz without a worker
    raise AssertionError(expected)


# --- the records -----------------------------------------------------------------------------


@pytest.fixture
def world(db, tmp_path, django_capture_on_commit_callbacks, settings):
    from django.core.files import File

    from cells.models import Cell
    from demo.records import load_demo
    from demo.synthetic.files import write_maccor_cycling
    from measurements.models import Result
    from measurements.services import measurement_create, temperature_series_request
    from synthesis.models import Chemical, PelletSet

    settings.MEDIA_ROOT = str(tmp_path / "media")
    users = {}
    make = get_user_model().objects.create_user
    for name, role in (
        ("viewer_a", "viewer"),
        ("member_a", "member"),
        ("manager_a", "manager"),
        ("dead", "member"),
        ("late", "member"),
    ):
        users[name] = join(make(name, password=f"pw-{name}-123"), role)
    b = Project.objects.create(code="B", name="Group B")
    users["member_b"] = join(make("member_b", password="pw-member_b-123"), "member", b)

    with django_capture_on_commit_callbacks(execute=True):
        load_demo(users["manager_a"])
        cell = Cell.objects.get(code="CELL-0005")
        path = write_maccor_cycling(
            tmp_path / "c.txt", n_cycles=3, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
        )
        with path.open("rb") as fh:
            measurement = measurement_create(
                user=users["manager_a"],
                item=cell,
                fields={"technique": "cycling"},
                uploads=[File(fh, path.name)],
            )
    Item.objects.filter(project__code="LAB").update(notes=SECRET)
    measurement.refresh_from_db()
    pellet = Item.objects.get(code="PEL-0003")
    temperature_series_request(pellet.pk)
    # B's own record, so B's lists are not empty.
    from tests import factories

    with django_capture_on_commit_callbacks(execute=True):
        lot_b = factories.reagent_lot(name="Copper foil", project=b)
    assert lot_b.project == b

    tokens = {
        p: token_rotate(users[u]).key
        for p, u in (
            (VIEWER_A, "viewer_a"),
            (MEMBER_A, "member_a"),
            (MEMBER_B, "member_b"),
            (MANAGER_A, "manager_a"),
            (DEAD_TOKEN, "dead"),
            (EXPIRED_TOKEN, "late"),
        )
    }
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=users["dead"]).delete()  # revoked
    TokenExpiry.objects.filter(token__user=users["late"]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    # A finished export of A, by A's manager: only they may read it.
    from lims import exports

    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_project_export(
            Project.objects.get(code="LAB"), user=users["manager_a"], base_url="http://t/"
        )
    export.refresh_from_db()
    assert export.status == "done", export.error
    link = measurement.files.get()
    a_codes = set(Item.objects.filter(project__code="LAB").values_list("code", flat=True))
    a_codes |= {measurement.code}
    return {
        "users": users,
        "tokens": tokens,
        "a_codes": a_codes,
        "measurement": measurement,
        "link": link,
        "sha": link.raw_file.sha256,
        "pellet_set": PelletSet.objects.get(pellets__code="PEL-0003"),
        "chemical": Chemical.objects.first(),
        "result": Result.objects.filter(item__project__code="LAB").first(),
        "lot_b": lot_b,
        "export": export,
    }


def _leaks(body: str, world, asked: str) -> list[str]:
    """A's codes and notes in a body (a code the request itself named is an echo, not a leak;
    an input's example, `placeholder="code, e.g. PEL-0001"`, names no record)."""
    body = re.sub(r'placeholder="[^"]*"', "", body)
    found = [SECRET] if SECRET in body else []
    for code in re.findall(r"\b[A-Z]{2,5}-\d{4}\b", body):
        if code in world["a_codes"] and code.upper() not in asked.upper():
            found.append(code)
    return sorted(set(found))


# --- web ---------------------------------------------------------------------------------------


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace + (pattern.name or "")


USERS = {
    VIEWER_A: "viewer_a",
    MEMBER_A: "member_a",
    MEMBER_B: "member_b",
    MANAGER_A: "manager_a",
}
PUBLIC_ROUTES = {"favicon", "healthz", "readyz", "metrics", "login"}
# Pages (GET) that make or change records: a viewer gets 403.
WRITE_PAGES = {
    "item-edit",
    "synthesis:pellet-set-edit",
    "synthesis:reagent-new",
    "synthesis:chemical-new",
    "synthesis:batch-new",
    "synthesis:pellet-set-new",
    "synthesis:membrane-new",
    "synthesis:ile-new",
    "synthesis:coating-new",
    "synthesis:piece-new",
    "synthesis:disk-new",
    "synthesis:piece-version",
    "cells:cell-new",
    "measurements:new",
    "import-eln",
}
POST_ONLY = {
    "measurements:rerun",
    "measurements:settings",
    "measurements:add-files",
    "measurements:mapping",
    "measurements:remove-file",
    "measurements:series-points",
    "project-new",
    "project-members",
    "project-export",
    "measurements:measure-again",
}
# A project's export is read by whoever sees the project; each file only by who asked for it.
READ_BY_POST = {"project-export"}
ASKER_ONLY = {"project-export-download"}
# Routes that name a record of A in the URL.
A_OBJECT = re.compile(r"<(str:code|int:pk|str:sha256|int:link_id|int:export_id)>")
QUERY = {  # list pages asked about A's records
    "search": "?q=PEL",
    "labels": "?items=PEL-0003",
    "compare": "?items=CELL-0005",
}


def _web_url(route: str, name: str, world) -> str:
    values = {
        "code": world["measurement"].code
        if name.startswith("measurements:") and "series" not in name and "again" not in name
        else ("LAB" if name.startswith("project") else "PEL-0003"),
        "pk": str(world["pellet_set"].pk),
        "sha256": world["sha"],
        "link_id": str(world["link"].pk),
        "export_id": str(world["export"].pk),
    }
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    return url + QUERY.get(name, "")


def _web_expected(name: str, route: str, method: str, who: str) -> str:
    if name in PUBLIC_ROUTES:
        return PUBLIC
    if who == ANON:
        return LOGIN
    names_a = bool(A_OBJECT.search(route))
    writes = method == "POST" or name in WRITE_PAGES
    if name == "logout":
        return LOGIN  # logged out: to the login page
    if name == "account-token":
        return OK  # one's own token
    if name == "project-new":
        return FORBIDDEN  # needs the add_project permission: none of these has it
    if names_a and who not in SEES_A:
        return HIDDEN
    if name in ASKER_ONLY:
        return OK if who == MANAGER_A else HIDDEN
    if name in READ_BY_POST:
        return OK
    if name in {"project-members", "item-sign"}:
        return OK if who == MANAGER_A else FORBIDDEN  # managers manage members and sign
    if writes:
        if names_a:
            return OK if who in WRITES_A else FORBIDDEN
        return FORBIDDEN if who == VIEWER_A else OK  # a new record: in one's own project
    return OK


def _web_cases():
    for route, name in _walk(get_resolver("lims.urls").url_patterns):
        if route.startswith(("admin/", "api/")):
            continue  # the admin is Django's (staff only); the API is walked from its schema
        methods = ["POST"] if name in POST_ONLY or name == "logout" else ["GET"]
        if name in WRITE_PAGES or name in {"synthesis:pellet-set", "account-token"}:
            methods.append("POST")
        for method in methods:
            yield route, name, method


def _action(name: str, route: str, method: str) -> str:
    if method == "GET":
        if any(word in name for word in ("raw", "export")):
            return "download"
        return "retrieve" if A_OBJECT.search(route) else "list"
    if "remove" in name or method == "DELETE":
        return "delete"
    if "files" in name or "add-files" in name:
        return "upload"
    return "update" if A_OBJECT.search(route) else "create"


def test_every_web_page_answers_each_principal_by_its_projects(world):
    clients = {ANON: Client()}
    for who, user in USERS.items():
        clients[who] = Client()
        clients[who].force_login(world["users"][user])
    failures, leaks, actions = [], [], Counter()
    shown_to_a = 0  # answers to A's principals that carry A's codes: the detector sees them
    cases = list(_web_cases())
    assert len(cases) > 45  # every page of lims.urls but the admin and the API
    for route, name, method in cases:
        url = _web_url(route, name, world)
        for who in WEB_PRINCIPALS:
            expected = _web_expected(name, route, method, who)
            client = clients[who]
            if name == "logout" and who != ANON:  # a session of its own, to end
                client = Client()
                client.force_login(world["users"][USERS[who]])
            with transaction.atomic():
                call = client.get if method == "GET" else client.post
                response = call(url)
                transaction.set_rollback(True)
            actions[_action(name, route, method)] += 1
            if not _check(response, expected):
                failures.append(f"{method} {url} as {who}: {response.status_code}, {expected}")
            if name not in PUBLIC_ROUTES:
                body = b"".join(response) if response.streaming else response.content
                found = _leaks(body.decode(errors="replace"), world, url)
                if found and who in SEES_A:
                    shown_to_a += 1
                elif found:
                    leaks.append(f"{method} {url} as {who}: {found}")
    print(f"web: {sum(actions.values())} cases {dict(actions)}, leaks={len(leaks)}")
    print("\n".join(failures + leaks))
    assert (failures, leaks) == ([], [])
    assert sum(actions.values()) == len(cases) * len(WEB_PRINCIPALS) >= 300
    assert shown_to_a > 50  # the same pages do show A's records to A's members


# --- API ---------------------------------------------------------------------------------------

API_CODES = {
    "measurements": "measurement",
    "projects": "LAB",
    "reagent-lots": "RGT-0001",
    "lagp-batches": "LAGP-0001",
    "pellets": "PEL-0003",
    "spe-membranes": "SPE-0001",
    "ile-batches": "ILE-0001",
    "cathode-coatings": "CAT-0001",
    "electrode-disks": "ELD-0001",
    "membrane-pieces": "SPEP-0001",
    "cells": "CELL-0005",
    "items": "PEL-0003",
}
SHARED = {"chemicals"}  # the catalogue every project uses


def _api_url(path: str, world) -> tuple[str, bool]:
    """The path with A's records filled in; and whether it names one."""
    collection = path.split("/")[2]
    values = {
        "code": world["measurement"].code
        if collection == "measurements"
        else API_CODES.get(collection, "PEL-0003"),
        "sha256": world["sha"],
        "export_id": str(world["export"].pk),
        "id": str(
            {
                "chemicals": world["chemical"].pk,
                "pellet-sets": world["pellet_set"].pk,
                "results": getattr(world["result"], "pk", 0),
            }[collection]
        )
        if "{id}" in path
        else "",
    }
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    names_a = "{" in path and collection not in SHARED
    return url, names_a


def _api_expected(path: str, method: str, names_a: bool, who: str) -> str:
    public = path.startswith(("/api/schema", "/api/docs", "/api/redoc"))
    if public:
        return PUBLIC
    if who in NO_CREDENTIAL:
        return LOGIN
    collection = path.split("/")[2]
    if path == "/api/tokens/":
        return OK
    if path == "/api/import/":
        return FORBIDDEN if who == VIEWER_A else OK  # into a project one records in
    if path == "/api/export.eln":
        return OK  # a POST of codes reads (a long selection); codes not seen are unknown
    if names_a and who not in SEES_A:
        return HIDDEN
    if "{export_id}" in path:
        return OK if who == MANAGER_A else HIDDEN  # an export is its requester's only
    if method == "GET" or path.endswith("/exports/"):
        return OK  # asking for a project's export reads it
    if path.endswith("/sign/"):
        return OK if who == MANAGER_A else FORBIDDEN  # managers sign
    if collection == "projects":
        if path == "/api/projects/" or who != MANAGER_A:
            return FORBIDDEN  # making projects needs add_project; members: managers
        return OK
    if names_a:
        return OK if who in WRITES_A else FORBIDDEN
    return FORBIDDEN if who == VIEWER_A else OK


def _api_action(path: str, method: str, names_a: bool) -> str:
    if method == "GET":
        if any(w in path for w in ("export", "raw-files", "/data", "/plot/", "/cycles/")):
            return "export" if "export" in path else "download"
        return "retrieve" if "{" in path else "list"
    if method == "DELETE":
        return "delete"
    if path.endswith("/files/"):
        return "upload"
    return "update" if "{" in path else "create"


def _body(path: str, method: str) -> dict:
    if path == "/api/projects/":
        return {"code": "ZZ", "name": "New"}
    if path.endswith("/members/"):
        return (
            {"user": "member_b"} if method == "DELETE" else {"user": "member_b", "role": "viewer"}
        )
    return {}


def test_every_api_operation_answers_each_principal_by_its_projects(world):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    clients = {ANON: APIClient()}
    for who, key in world["tokens"].items():
        clients[who] = APIClient()
        clients[who].credentials(HTTP_AUTHORIZATION=f"Token {key}")
    failures, leaks, actions = [], [], Counter()
    shown_to_a = 0  # answers to A's principals that carry A's codes: the detector sees them
    operations = [
        (path, method.upper())
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    ]
    operations += [("/api/schema/", "GET"), ("/api/docs/", "GET")]
    assert len(operations) > 90
    for path, method in operations:
        url, names_a = _api_url(path, world)
        for who in API_PRINCIPALS:
            expected = _api_expected(path, method, names_a, who)
            with transaction.atomic():
                if path.endswith("/files/") or path == "/api/import/":
                    # an upload: multipart, here without a file
                    response = clients[who].post(url, {}, format="multipart")
                else:
                    response = clients[who].generic(
                        method,
                        url,
                        data=json.dumps(_body(path, method)) if method != "GET" else "",
                        content_type="application/json",
                    )
                transaction.set_rollback(True)
            actions[_api_action(path, method, names_a)] += 1
            if not _check(response, expected):
                failures.append(
                    f"{method} {url} as {who}: {response.status_code} "
                    f"{response.content[:120]!r}, {expected}"
                )
            if expected != PUBLIC:  # the schema's examples are text, not records
                body = b"".join(response) if response.streaming else response.content
                found = _leaks(body.decode(errors="replace"), world, url)
                if found and who in SEES_A:
                    shown_to_a += 1
                elif found:
                    leaks.append(f"{method} {url} as {who}: {found}")
    print(f"api: {sum(actions.values())} cases {dict(actions)}, leaks={len(leaks)}")
    print("\n".join(failures + leaks))
    assert (failures, leaks) == ([], [])
    assert sum(actions.values()) == len(operations) * len(API_PRINCIPALS) >= 600
    assert shown_to_a > 50  # the same operations do show A's records to A's members
