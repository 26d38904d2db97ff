"""Every change is kept with who, when, before and after."""

from core.audit import acting_as
from core.models import AuditEvent
from synthesis.services import pellets_measure
from tests import factories


def test_a_change_records_the_user_and_the_values_before_and_after(staff):
    pellet = factories.pellets(count=1)[0]
    with acting_as(staff):
        pellets_measure({pellet: {"thickness_mm": 0.60}})
        pellets_measure({pellet: {"thickness_mm": 0.58}})
    last = AuditEvent.objects.filter(item=pellet, action="update").first()
    assert last.user == staff
    assert last.changes()["thickness_mm"] == (0.60, 0.58)


def test_creation_through_the_web_is_attributed_to_the_logged_in_user(staff_client, staff):
    lot = factories.reagent_lot()
    response = staff_client.post(
        f"/items/{lot.code}/edit/",
        {
            "chemical": lot.chemical.pk,
            "supplier": "Alfa",
            "grade": "",
            "lot_number": "X1",
            "quantity": "1000",
            "quantity_unit": "g",
            "_version": lot.version,
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(item=lot, action="update").first()
    assert event.user == staff
    assert event.before["supplier"] == "Sigma" and event.after["supplier"] == "Alfa"


def test_deletions_are_kept_with_the_last_values(staff):
    lot = factories.reagent_lot(supplier="Gone Ltd")
    code = lot.code
    lot.delete()
    event = AuditEvent.objects.get(action="delete", model="synthesis.reagentlot")
    assert event.before["supplier"] == "Gone Ltd" and event.object_repr.startswith(code)
