"""The Content-Security-Policy in a real browser: every kind of page loads with no violation
(chromium reports each as a `securitypolicyviolation` event and a "Refused to ..." console
message) and its scripts still work: Plotly draws, htmx swaps, Swagger UI and Redoc render
the schema, the admin opens."""

from __future__ import annotations

import pytest

from core.models import Item
from measurements.models import Measurement, Technique

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Before any page script: keep every violation the page reports.
LISTEN = """window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));"""


@pytest.fixture
def watched(logged_in):
    page = logged_in
    page.add_init_script(LISTEN)
    refused = []
    page.on(
        "console",
        lambda m: (
            refused.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: refused.append(f"page error: {e}"))
    return page, refused


def visit(page, refused, path, ready):
    response = page.goto(path)
    assert response.status == 200, path
    csp = response.headers["content-security-policy"]
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    page.wait_for_function(ready) if ready.startswith("()") else page.wait_for_selector(ready)
    page.wait_for_timeout(150)  # a violation fires asynchronously
    events = page.evaluate("window.__csp")
    assert (events, refused) == ([], []), path


def test_every_page_type_loads_with_no_policy_violation(watched, demo_measured, staff):
    page, refused = watched
    staff.is_superuser = True  # the admin's lists
    staff.save(update_fields=["is_superuser"])
    eis = Measurement.objects.filter(technique=Technique.EIS, item__code="PEL-0003").first()
    cycling = Measurement.objects.filter(technique=Technique.CYCLING).first()
    plots_drawn = (
        "() => { const p = [...document.querySelectorAll('.plot-grid .plot')];"
        " return p.length > 0 && p.every(e => e.dataset.plotted === 'true'); }"
    )
    headline = "[data-testid=headline-plot][data-plotted=true]"
    full, bare = demo_measured["full_spe"], demo_measured["full_bare"]
    pages = [
        ("/", "main"),  # the dashboard (its plots, its htmx polling)
        ("/synthesis/pellets/", "[data-testid=list]"),
        ("/cells/", "[data-testid=list]"),
        ("/items/PEL-0003/", headline),
        ("/items/CELL-0005/", headline),
        (f"/measurements/{eis.code}/", plots_drawn),
        (f"/measurements/{cycling.code}/", plots_drawn),
        (f"/compare/?items={bare.code}&items={full.code}", "[data-plotted=true]"),
        ("/explore/", "[data-plotted=true]"),
        ("/synthesis/batches/new/", "form"),
        ("/cells/new/", "form"),
        ("/measurements/new/", "form"),
        ("/labels/?items=PEL-0003", "svg"),
        ("/search/?q=PEL", "main"),
        ("/account/token/", "main"),
        ("/api/docs/", ".swagger-ui .opblock"),  # Swagger UI rendered the operations
        ("/api/redoc/", "[data-section-id]"),  # Redoc rendered the schema's sections
        ("/admin/", "#content"),
        ("/admin/lims/item/", "#result_list"),
        (f"/admin/lims/item/{Item.objects.get(code=full.code).pk}/change/", "#content-main form"),
    ]
    for path, ready in pages:
        visit(page, refused, path, ready)
    # htmx still works under the policy: filtering a list swaps its rows in place.
    page.goto("/synthesis/pellets/")
    page.fill("input[name=sintering_temperature_c]", "900")
    page.press("input[name=sintering_temperature_c]", "Tab")
    page.wait_for_selector(".count:has-text('6 found')")
    assert (page.evaluate("window.__csp"), refused) == ([], [])
    # The batch form's calculator (htmx on change) fills in its masses.
    page.goto("/synthesis/batches/new/")
    page.fill("#id_target_mass_g", "20")
    page.press("#id_target_mass_g", "Tab")
    page.wait_for_selector("#calculator tr[data-role=li] td.mass:has-text('2.918')")
    # The lineage depth on an item page submits on change (a script file, not onchange="").
    page.goto("/items/CELL-0005/")
    page.select_option("select[name=depth]", "1")
    page.wait_for_url("**/items/CELL-0005/?depth=1")
    assert (page.evaluate("window.__csp"), refused) == ([], [])


def test_an_injected_inline_script_is_refused(watched, demo):
    """The policy is not decorative: a script element without the nonce does not run."""
    page, refused = watched
    page.goto("/")
    ran = page.evaluate(
        """() => { window.__ran = false; const s = document.createElement('script');
        s.textContent = 'window.__ran = true'; document.body.appendChild(s); return window.__ran; }"""
    )
    assert ran is False
    page.wait_for_timeout(150)
    assert any("script-src" in v for v in page.evaluate("window.__csp"))
