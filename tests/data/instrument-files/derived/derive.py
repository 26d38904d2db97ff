"""Writes the derived test files in this folder from real files beside it (standard library
only; run from anywhere: ``python tests/data/instrument-files/derived/derive.py``).

No public file under a permissive licence was found for these layouts, so each one carries the
numbers of a real export, rewritten in the layout the parser meets in a lab:

- ``autolab_nova_decimal_comma.txt``: the spectrum of impedance.py's ``exampleDataAutolab.txt``
  (Z60W export) as a NOVA ASCII export from a European Windows install: ';' between columns,
  decimal comma, ``-Z''`` (sign flipped), with |Z| and -phase computed from Z' and Z''.
- ``chi_spectrum.ods``: the spectrum of impedance.py's ``exampleDataCHInstruments.txt`` in an
  OpenDocument sheet ``Spectrum`` (header row, numbers as numeric cells), after a ``Notes``
  sheet, as a lab member would paste it into LibreOffice.
"""

from __future__ import annotations

import cmath
import math
import pathlib
import zipfile
from xml.sax.saxutils import escape

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = HERE.parent / "impedance.py"


def autolab_rows() -> list[list[str]]:
    lines = (SOURCES / "exampleDataAutolab.txt").read_text(encoding="utf-8-sig").splitlines()
    start = next(i for i, line in enumerate(lines) if "Freq (Hz)" in line)
    return [line.split(",") for line in lines[start + 1 :] if line.strip()]


def write_nova() -> None:
    out = ["Index;Frequency (Hz);Z' (\u03a9);-Z'' (\u03a9);Z (\u03a9);-Phase (\u00b0)"]
    for index, fields in enumerate(autolab_rows(), start=1):
        freq, zr, zi = fields[0], fields[4], fields[5]
        z = complex(float(zr), float(zi))
        minus_zi = zi[1:] if zi.startswith("-") else f"-{zi}"
        cells = [str(index), freq, zr, minus_zi, repr(abs(z)), repr(-math.degrees(cmath.phase(z)))]
        out.append(";".join(cell.replace(".", ",") for cell in cells))
    (HERE / "autolab_nova_decimal_comma.txt").write_bytes(("\r\n".join(out) + "\r\n").encode())


def chi_rows() -> tuple[list[str], list[list[float]]]:
    lines = (SOURCES / "exampleDataCHInstruments.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Freq/Hz"))
    names = [n.strip() for n in lines[start].split(",")]
    rows = [[float(x) for x in line.split(",")] for line in lines[start + 1 :] if line.strip()]
    return names, rows


def _cell(value) -> str:
    if isinstance(value, float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value!r}">'
            f"<text:p>{value!r}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'


def _table(name: str, rows: list[list]) -> str:
    body = "".join(
        f"<table:table-row>{''.join(_cell(v) for v in row)}</table:table-row>" for row in rows
    )
    return f'<table:table table:name="{escape(name)}">{body}</table:table>'


def write_ods() -> None:
    names, rows = chi_rows()
    notes = [
        ["Spectrum copied from a CHI660E text export (impedance.py exampleDataCHInstruments.txt)"]
    ]
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>"
        f"{_table('Notes', notes)}{_table('Spectrum', [names, *rows])}"
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    fixed = (1980, 1, 1, 0, 0, 0)  # reproducible bytes
    with zipfile.ZipFile(HERE / "chi_spectrum.ods", "w") as book:
        book.writestr(
            zipfile.ZipInfo("mimetype", fixed), "application/vnd.oasis.opendocument.spreadsheet"
        )
        for name, text in (("content.xml", content), ("META-INF/manifest.xml", manifest)):
            info = zipfile.ZipInfo(name, fixed)
            info.compress_type = zipfile.ZIP_DEFLATED
            book.writestr(info, text)


if __name__ == "__main__":
    write_nova()
    write_ods()
