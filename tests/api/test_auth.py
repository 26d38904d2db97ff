"""Who gets in: tokens and sessions read, only staff write, nobody is redirected to a login page."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from core.models import AuditEvent
from synthesis.models import Chemical, ReagentLot
from tests import factories

LOT = {"chemical": "Lithium foil", "supplier": "Honjo", "lot_number": "H7", "quantity": 500}


@pytest.fixture
def chemical(db):
    return factories.ChemicalFactory(name="Lithium foil", formula="Li", notation_label="Li")


def test_a_token_reads(api, chemical):
    response = api.get("/api/reagent-lots/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_browser_session_reads_too(staff_client):
    response = staff_client.get("/api/cells/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("url", ["/api/", "/api/cells/", "/api/items/CELL-0001/", "/api/tokens/"])
def test_anonymous_gets_401_json_not_a_login_redirect(anon_api, url):
    response = anon_api.get(url) if url != "/api/tokens/" else anon_api.post(url)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = anon_api.get("/api/cells/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_read_only_users_read_but_cannot_write(viewer_api, chemical):
    assert viewer_api.get("/api/reagent-lots/").status_code == 200
    response = viewer_api.post("/api/reagent-lots/", LOT, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert not ReagentLot.objects.exists()


def test_staff_writes_and_the_audit_names_the_token_user(api, staff, chemical):
    response = api.post("/api/reagent-lots/", LOT, format="json")
    assert response.status_code == 201, response.json()
    event = AuditEvent.objects.get(model="synthesis.reagentlot", action="create")
    assert event.user == staff
    assert ReagentLot.objects.get().created_by == staff


def test_tokens_are_made_rotated_and_revoked_through_the_api(staff_client, staff):
    first = staff_client.post("/api/tokens/")
    assert first.status_code == 201
    key = first.json()["token"]
    assert first.json()["username"] == staff.username
    assert staff_client.get("/api/cells/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    second = staff_client.post("/api/tokens/").json()["token"]
    assert second != key and Token.objects.get(user=staff).key == second
    assert staff_client.delete("/api/tokens/").status_code == 204
    assert not Token.objects.filter(user=staff).exists()


def test_a_read_only_user_may_make_a_token(viewer_client):
    assert viewer_client.post("/api/tokens/").status_code == 201


def test_the_token_page_shows_the_key_once(staff_client, staff):
    assert "You have no token" in staff_client.get("/account/token/").content.decode()
    made = staff_client.post("/account/token/", {"action": "create"})
    key = Token.objects.get(user=staff).key
    assert key in made.content.decode()
    later = staff_client.get("/account/token/").content.decode()
    assert key not in later and "You have a token" in later
    revoked = staff_client.post("/account/token/", {"action": "revoke"})
    assert revoked.status_code == 302
    assert not Token.objects.filter(user=staff).exists()
    assert staff_client.post("/account/token/", {"action": "bogus"}).status_code == 400


def test_the_token_page_needs_a_login(client, db):
    response = client.get("/account/token/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_schema_and_docs_are_public_and_local(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in docs
    assert "cdn" not in docs.lower()
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in docs and client.get(bundle).status_code == 200
    assert client.get("/api/redoc/").status_code == 200


def test_chemicals_need_staff_too(viewer_api, api):
    body = {
        "name": "LiTFSI",
        "category": "lithium_salt",
        "formula": "LiN(SO2CF3)2",
        "molar_mass_g_mol": 287.09,
    }
    assert viewer_api.post("/api/chemicals/", body, format="json").status_code == 403
    response = api.post("/api/chemicals/", body, format="json")
    assert response.status_code == 201
    assert Chemical.objects.get().name == "LiTFSI"


def test_api_route_names_do_not_shadow_the_pages(db):
    from django.urls import reverse

    assert reverse("item-detail", args=["PEL-0001"]) == "/items/PEL-0001/"
    assert reverse("api:item-detail", args=["PEL-0001"]) == "/api/items/PEL-0001/"
