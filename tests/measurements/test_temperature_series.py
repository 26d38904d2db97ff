"""An item's temperature series as a pollable state: points with the reason each is in or out,
leave-one-out outliers excluded by default, users' include/exclude through the API and the web
page, warnings, numbered runs.

Most tests record finished EIS measurements directly (measurement + conductivity result, as the
pipeline leaves them) so that the series logic is tested without fitting spectra; the last ones
go through the real pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent
from core.services import allocate_code
from demo.synthetic import spectra as synthetic
from measurements import services
from measurements.analysis import temperature
from measurements.models import Measurement, Result, SeriesPointOverride, TemperatureSeries
from synthesis.services import pellets_measure
from tests import factories

# The paper's LAGP pellet: 329.2 ohm -> 3.25e-4 S/cm at 25 C through 0.6 mm, Ea 0.36 eV.
AREA_CM2 = 0.06 / (329.2 * 3.25e-4)
SERIES_C = [25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 85.0]
WILD_OHM = 2.7e6  # a lost contact at 85 C: 2.7 MOhm instead of about 32 ohm
URL = "/api/items/{}/temperature-series/"


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6}})
    return p


def finished_eis(item, t_c, sigma, *, status="done") -> Measurement:
    """A processed EIS measurement as the pipeline leaves it."""
    m = Measurement.objects.create(
        code=allocate_code("MEAS"),
        item=item,
        technique="eis",
        temperature_c=t_c,
        area_cm2=AREA_CM2,
        status=status,
        run=1,
    )
    values = {
        "conductivity_s_cm": sigma,
        "resistance_ohm": None if sigma is None else 0.06 / (sigma * AREA_CM2),
    }
    if sigma is None:
        values["missing"] = ["thickness"]
    Result.objects.create(
        item=item, measurement=m, kind="conductivity", values=values, algorithm_version="t"
    )
    return m


def lagp_series(item, *, wild=True) -> list[Measurement]:
    t_c, sigma = synthetic.arrhenius_series(SERIES_C, ea_ev=0.36, noise=0.01, seed=1)
    if wild:
        sigma[-1] = 0.06 / (WILD_OHM * AREA_CM2)
    return [finished_eis(item, float(t), float(s)) for t, s in zip(t_c, sigma, strict=True)]


def compute(item, capture) -> TemperatureSeries:
    with capture(execute=True):
        services.temperature_series_request(item.pk)
    return TemperatureSeries.objects.get(item=item)


def fit(item, kind="arrhenius") -> Result:
    return Result.objects.get(item=item, measurement=None, kind=kind)


def clean_ea() -> float:
    t_c, sigma = synthetic.arrhenius_series(SERIES_C, ea_ev=0.36, noise=0.01, seed=1)
    return temperature.fit_arrhenius(t_c[:-1], sigma[:-1]).activation_energy_eV


# --- the worker's computation -------------------------------------------------------------


def test_a_wild_point_is_excluded_with_the_reason_and_ea_is_the_clean_one(
    pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    series = compute(pellet, django_capture_on_commit_callbacks)
    assert series.status == "done_with_warnings"
    points = {p["measurement"]: p for p in series.points}
    wild = points[made[-1].code]
    assert not wild["included"] and wild["outlier"] and wild["choice"] == "auto"
    assert wild["why"].startswith("excluded: outlier by leave-one-out, 8.")
    assert "e+04x off (below) the Arrhenius fit of the other points" in wild["why"]
    assert all(points[m.code]["included"] for m in made[:-1])
    assert [w["code"] for w in series.warnings] == ["points_excluded"]
    assert made[-1].code in series.warnings[0]["message"]
    arrhenius = fit(pellet)
    # Ea of the six good points, as fitted by hand above (0.36 eV in the paper).
    assert arrhenius.values["activation_energy_eV"] == pytest.approx(clean_ea(), rel=1e-9)
    assert arrhenius.values["activation_energy_eV"] == pytest.approx(0.36, abs=0.01)
    assert arrhenius.warnings == []
    assert arrhenius.inputs["measurements"] == [m.code for m in made[:-1]]
    assert arrhenius.inputs["excluded"] == [made[-1].code]


def test_a_clean_series_is_done_without_warnings(pellet, django_capture_on_commit_callbacks):
    lagp_series(pellet, wild=False)
    series = compute(pellet, django_capture_on_commit_callbacks)
    assert series.status == "done", series.warnings
    assert series.warnings == [] and all(p["why"] == "included" for p in series.points)
    assert fit(pellet, "arrhenius_sigma_t").warnings == []


def test_two_points_are_too_few_and_say_so(pellet, django_capture_on_commit_callbacks):
    finished_eis(pellet, 25.0, 3.25e-4)
    finished_eis(pellet, 40.0, 5.0e-4)
    series = compute(pellet, django_capture_on_commit_callbacks)
    assert series.status == "done_with_warnings"
    assert series.warnings[0]["code"] == "too_few_points"
    assert "2 point(s) at 2 distinct temperature(s)" in series.warnings[0]["message"]
    assert not Result.objects.filter(item=pellet, measurement=None).exists()


def test_points_lacking_input_make_the_series_need_input(
    pellet, django_capture_on_commit_callbacks
):
    finished_eis(pellet, 25.0, 3.25e-4)
    finished_eis(pellet, 40.0, 5.0e-4)
    lacking = finished_eis(pellet, 60.0, None)
    series = compute(pellet, django_capture_on_commit_callbacks)
    assert series.status == "needs_input"
    assert f"{lacking.code}: no conductivity (the measurement lacks thickness)" in (
        series.status_detail
    )
    point = next(p for p in series.points if p["measurement"] == lacking.code)
    assert not point["usable"] and point["why"].startswith("not used: no conductivity")


def test_a_stale_run_writes_nothing(pellet, django_capture_on_commit_callbacks):
    lagp_series(pellet)
    old = services.temperature_series_request(pellet.pk).run
    new = services.temperature_series_request(pellet.pk).run
    assert new == old + 1
    assert services.update_temperature_series(pellet.pk, old) == "stale"
    series = TemperatureSeries.objects.get(item=pellet)
    assert series.status == "queued" and series.points == []
    assert services.update_temperature_series(pellet.pk, new) == "done_with_warnings"


# --- the API: poll, include, exclude --------------------------------------------------------


def test_api_polls_the_state_and_a_user_includes_the_outlier_back(
    api, pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    wild = made[-1].code
    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.temperature_series_request(pellet.pk)
    body = api.get(URL.format(pellet.code.lower())).json()
    assert body["status"] == "queued" and body["points"] == [] and body["fits"] == []
    for callback in pending:
        callback()
    body = api.get(URL.format(pellet.code)).json()
    assert body["status"] == "done_with_warnings"
    assert body["item"] == pellet.code
    by_code = {p["measurement"]: p for p in body["points"]}
    assert by_code[wild]["included"] is False
    assert by_code[wild]["check"]["times_off"] > 8e4
    fits = {f["kind"]: f for f in body["fits"]}
    assert set(fits) == {"arrhenius", "arrhenius_sigma_t"}
    assert fits["arrhenius"]["values"]["activation_energy_eV"] == pytest.approx(clean_ea())

    # Include the wild point (code in lower case): the fit is ruined, and says so.
    with django_capture_on_commit_callbacks(execute=False) as pending:
        response = api.patch(
            URL.format(pellet.code), {"points": {wild.lower(): "Include"}}, format="json"
        )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued"
    for callback in pending:
        callback()
    body = api.get(URL.format(pellet.code)).json()
    point = next(p for p in body["points"] if p["measurement"] == wild)
    assert point["included"] and point["choice"] == "include" and point["outlier"]
    assert point["why"].startswith("included by alice (")
    assert "although leave-one-out marks it an outlier" in point["why"]
    arrhenius = next(f for f in body["fits"] if f["kind"] == "arrhenius")
    assert arrhenius["values"]["r_squared"] < 0.3
    assert [w["code"] for w in arrhenius["warnings"]] == ["arrhenius_poor_fit"]
    assert body["status"] == "done_with_warnings"

    # Back to the outlier check: excluded again, Ea the clean one.
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(URL.format(pellet.code), {"points": {wild: "auto"}}, format="json")
    assert response.status_code == 202
    assert not SeriesPointOverride.objects.exists()
    assert fit(pellet).values["activation_energy_eV"] == pytest.approx(clean_ea())


def test_api_excludes_a_good_point_by_hand(api, pellet, django_capture_on_commit_callbacks):
    made = lagp_series(pellet, wild=False)
    compute(pellet, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            URL.format(pellet.code), {"points": {made[2].code: "exclude"}}, format="json"
        )
    assert response.status_code == 202
    body = api.get(URL.format(pellet.code)).json()
    point = next(p for p in body["points"] if p["measurement"] == made[2].code)
    assert not point["included"] and point["why"].startswith("excluded by alice (")
    assert body["status"] == "done_with_warnings"
    assert [w["code"] for w in body["warnings"]] == ["points_excluded"]
    t_c, sigma = synthetic.arrhenius_series(SERIES_C, ea_ev=0.36, noise=0.01, seed=1)
    keep = np.arange(7) != 2
    expected = temperature.fit_arrhenius(t_c[keep], sigma[keep]).activation_energy_eV
    assert fit(pellet).values["activation_energy_eV"] == pytest.approx(expected, rel=1e-9)
    # Recorded in the sample's history, with who did it.
    event = AuditEvent.objects.get(model="measurements.seriespointoverride", action="create")
    assert event.item_id == pellet.pk and event.user.username == "alice"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"points": {"MEAS-9999": "exclude"}}, "points", "has no EIS measurement with this code"),
        ({"points": {"{m}": "drop"}}, "points", "is not a choice"),
        ({"points": {}}, "points", ""),
        ({"points": ["{m}"]}, "points", ""),
        ({"points": {"{m}": "exclude"}, "why": "bad"}, "why", "Unknown field"),
        ({}, "points", "required"),
    ],
)
def test_api_refuses_what_it_cannot_do_and_names_the_field(
    api, pellet, django_capture_on_commit_callbacks, body, field, words
):
    made = lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    code = made[0].code
    if isinstance(body.get("points"), dict):
        body = {**body, "points": {k.replace("{m}", code): v for k, v in body["points"].items()}}
    elif isinstance(body.get("points"), list):
        body = {**body, "points": [code]}
    response = api.patch(URL.format(pellet.code), body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert words in str(response.json()[field])
    assert not SeriesPointOverride.objects.exists()


def test_api_reads_for_everyone_writes_for_staff(
    viewer_api, pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    assert viewer_api.get(URL.format(pellet.code)).status_code == 200
    response = viewer_api.patch(
        URL.format(pellet.code), {"points": {made[0].code: "exclude"}}, format="json"
    )
    assert response.status_code == 403


def test_api_404s_name_what_is_missing(api, pellet):
    response = api.get(URL.format("PEL-9999"))
    assert response.status_code == 404 and "No item with code" in response.json()["detail"]
    response = api.get(URL.format(pellet.code))
    assert response.status_code == 404 and "no temperature series yet" in response.json()["detail"]


# --- the web page ---------------------------------------------------------------------------


def test_item_page_shows_points_and_a_button_excludes_one(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    page = staff_client.get(pellet.get_absolute_url()).content.decode()
    assert 'data-testid="series-points"' in page
    assert "excluded: outlier by leave-one-out" in page
    assert f'data-testid="include-{made[-1].code}"' in page
    assert f'data-testid="exclude-{made[0].code}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/measurements/series/{pellet.code}/points/",
            {"measurement": made[0].code, "choice": "exclude"},
        )
    assert response.status_code == 302
    assert response["Location"].endswith("#temperature-series")
    page = staff_client.get(pellet.get_absolute_url()).content.decode()
    assert "excluded by alice" in page
    assert f'data-testid="auto-{made[0].code}"' in page
    assert SeriesPointOverride.objects.get().measurement == made[0]


def test_a_wrong_point_on_the_web_form_is_a_message_not_a_crash(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    response = staff_client.post(
        f"/measurements/series/{pellet.code}/points/",
        {"measurement": "MEAS-9999", "choice": "exclude"},
        follow=True,
    )
    assert response.status_code == 200
    assert "has no EIS measurement with this code" in response.content.decode()
    assert not SeriesPointOverride.objects.exists()


def test_read_only_users_see_the_table_without_buttons(
    viewer_client, pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    page = viewer_client.get(pellet.get_absolute_url()).content.decode()
    assert 'data-testid="series-points"' in page
    assert f'data-testid="include-{made[-1].code}"' not in page
    response = viewer_client.post(
        f"/measurements/series/{pellet.code}/points/",
        {"measurement": made[0].code, "choice": "exclude"},
    )
    assert response.status_code == 403
    assert not SeriesPointOverride.objects.exists()


# --- through the pipeline -------------------------------------------------------------------


def test_a_failed_eis_measurement_recomputes_the_series_without_it(
    pellet, django_capture_on_commit_callbacks
):
    lagp_series(pellet, wild=False)
    compute(pellet, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bad = services.measurement_create(
            item=pellet,
            fields={"technique": "eis", "temperature_c": 95.0},
            uploads=[SimpleUploadedFile("notes.txt", b"hello\nworld\n")],
        )
    bad.refresh_from_db()
    assert bad.status == "failed"
    series = TemperatureSeries.objects.get(item=pellet)
    assert series.run == 2 and series.status == "done_with_warnings"
    point = next(p for p in series.points if p["measurement"] == bad.code)
    assert point["why"].startswith("not used: the measurement failed (notes.txt:")
    assert [w["code"] for w in series.warnings] == ["points_not_used"]
    assert fit(pellet).inputs["temperatures_c"] == SERIES_C


def test_deleting_a_point_through_the_api_recomputes_the_series(
    api, pellet, django_capture_on_commit_callbacks
):
    made = lagp_series(pellet)
    compute(pellet, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/measurements/{made[-1].code}/").status_code == 204
    series = TemperatureSeries.objects.get(item=pellet)
    assert series.status == "done" and len(series.points) == 6
    assert fit(pellet).values["activation_energy_eV"] == pytest.approx(clean_ea(), rel=1e-9)
