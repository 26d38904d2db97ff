"""Open exports in the browser: tick cells on their list and press Export (.eln), get one file;
import it on the staff's import page, which lists the codes it created (or says why not)."""

from __future__ import annotations

import json
import zipfile

import pytest

from core.models import Item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_export_ticked_cells_then_import_the_file_on_the_import_page(logged_in, demo, tmp_path):
    page = logged_in
    page.goto("/cells/")
    page.get_by_label("select CELL-0005").check()
    page.get_by_label("select CELL-0002").check()
    with page.expect_download() as download:
        page.get_by_test_id("export-selection").click()
    assert download.value.suggested_filename == "CELL-0005-and-1-more.eln"
    path = tmp_path / "cells.eln"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        metadata = json.loads(z.read("CELL-0005-and-1-more-eln/ro-crate-metadata.json"))
        assert "CELL-0005-and-1-more-eln/battinfo.jsonld" in z.namelist()
    root = next(e for e in metadata["@graph"] if e["@id"] == "./")
    assert {"@id": "./CELL-0005/"} in root["hasPart"] and {"@id": "./CELL-0002/"} in root["hasPart"]

    # Staff find the import page in the header.
    page.get_by_test_id("nav-import").click()
    page.wait_for_url("**/import/")
    # A file that is not an .eln: refused, named, nothing kept.
    count = Item.objects.count()
    junk = tmp_path / "junk.eln"
    junk.write_bytes(b"not a zip")
    page.set_input_files("input[name=file]", str(junk))
    page.get_by_role("button", name="Import").click()
    assert (
        "junk.eln was not imported: not a zip file"
        in page.get_by_test_id("import-error").inner_text()
    )
    assert Item.objects.count() == count

    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Import").click()
    done = page.get_by_test_id("import-done").inner_text()
    imported = Item.objects.count() - count
    assert imported > 10 and f"Imported cells.eln: {imported} items" in done
    # The codes existed here: each item got a new code, linked from the report.
    copy = Item.objects.get(notes__contains="its code was CELL-0005")
    report = page.get_by_test_id("import-report")
    assert "renamed: CELL-0005 exists here" in report.inner_text()
    report.get_by_role("link", name=copy.code).click()
    page.wait_for_url(f"**/items/{copy.code}/")
    assert "its code was CELL-0005" in page.inner_text("main")


def test_a_read_only_user_has_no_import_page(viewer_page):
    page = viewer_page
    assert page.get_by_test_id("nav-import").count() == 0
    response = page.goto("/import/")
    assert response.status == 403
