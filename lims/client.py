"""A small client of the LIMS REST API for notebooks and scripts: tables come back as pandas
DataFrames, pages are followed for you.

    from lims.client import Client
    lims = Client("http://127.0.0.1:8000", token="...")   # token from /account/token/
    cells = lims.cells(sintering_temperature_c=900)          # DataFrame, one row per cell
    table = lims.lineage_table(pellet__sintering_temperature_c=900)
    up = lims.lineage("CELL-0005", "ancestors")
    lims.get("PEL-0003")                                     # dict with the pellet's fields
    lims.create("pellet-sets", batch="LAGP-0001", count=2)["items"]   # ["PEL-0010", ...]
    per_cycle = lims.cycling("CELL-0005")                    # per-cycle DataFrame
    m = lims.upload("PEL-0003", "pel3_25C.mpt", technique="eis", area_cm2=0.56)  # waits

Only the standard library (urllib) and pandas are needed.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

DEFAULT_PAGE_SIZE = 1000  # the largest page the API serves


class ApiError(Exception):
    """The API answered with an error: `status` and the JSON `body` (which names the fields)."""

    def __init__(self, status: int, body: Any, url: str):
        self.status, self.body, self.url = status, body, url
        super().__init__(f"{status} from {url}: {body}")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Client:
    """`Client(base_url, token)`: base_url is the site (`http://127.0.0.1:8000`)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- HTTP -------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL for an API path (`cells/` or `/api/cells/`) with query parameters."""
        if not path.startswith(("http://", "https://")):
            path = path if path.startswith("/api/") else f"/api/{path.lstrip('/')}"
            path = f"{self.base_url}{path}"
        if params:
            pairs = [
                (key, _query_value(v))
                for key, value in params.items()
                if value is not None
                for v in (value if isinstance(value, list | tuple) else [value])
            ]
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(pairs)
        return path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> Any:
        """Send one request; the decoded JSON answer (None for an empty one), or ApiError."""
        url = self.url(path, params)
        body = None if data is None else json.dumps(data).encode()
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise ApiError(exc.code, detail, url) from None
        return json.loads(raw) if raw else None

    def rows(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every row of a list endpoint, following the pages."""
        params.setdefault("page_size", DEFAULT_PAGE_SIZE)
        page = self.request("GET", path, params=params)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"])

    def table(self, path: str, **params: Any) -> pd.DataFrame:
        """A list endpoint as a DataFrame; nested objects become `a.b` columns."""
        rows = list(self.rows(path, **params))
        return pd.json_normalize(rows) if rows else pd.DataFrame()

    # -- Records ----------------------------------------------------------------------------

    def get(self, code: str) -> dict[str, Any]:
        """One item (any kind) with all its fields."""
        return self.request("GET", f"items/{urllib.parse.quote(code)}/")

    def create(self, endpoint: str, **fields: Any) -> dict[str, Any]:
        """A new record, e.g. `create("cells", layers=[...])`. Items made together with
        `count` (`pellet-sets`, `electrode-disks`) answer their shared fields, `count` and
        `items`, the codes made. A field the endpoint does not have raises ApiError (400)."""
        return self.request("POST", f"{endpoint.strip('/')}/", data=fields)

    def items(self, **filters: Any) -> pd.DataFrame:
        """Items of every kind: `q` (code contains), `kind`, `ancestor`, `descendant`."""
        return self.table("items/", **filters)

    def cells(self, **filters: Any) -> pd.DataFrame:
        """Cells, e.g. `sintering_temperature_c=900`, `notation="NCM811"`, `ancestor=...`."""
        return self.table("cells/", **filters)

    def pellets(self, **filters: Any) -> pd.DataFrame:
        return self.table("pellets/", **filters)

    def pellet_sets(self, **filters: Any) -> pd.DataFrame:
        return self.table("pellet-sets/", **filters)

    def lagp_batches(self, **filters: Any) -> pd.DataFrame:
        return self.table("lagp-batches/", **filters)

    def reagent_lots(self, **filters: Any) -> pd.DataFrame:
        return self.table("reagent-lots/", **filters)

    def chemicals(self, **filters: Any) -> pd.DataFrame:
        return self.table("chemicals/", **filters)

    def spe_membranes(self, **filters: Any) -> pd.DataFrame:
        return self.table("spe-membranes/", **filters)

    def membrane_pieces(self, **filters: Any) -> pd.DataFrame:
        return self.table("membrane-pieces/", **filters)

    def ile_batches(self, **filters: Any) -> pd.DataFrame:
        return self.table("ile-batches/", **filters)

    def cathode_coatings(self, **filters: Any) -> pd.DataFrame:
        return self.table("cathode-coatings/", **filters)

    def electrode_disks(self, **filters: Any) -> pd.DataFrame:
        return self.table("electrode-disks/", **filters)

    # -- Lineage ----------------------------------------------------------------------------

    def lineage(
        self, code: str, direction: str = "ancestors", depth: int | None = None
    ) -> pd.DataFrame:
        """What `code` was made from (`ancestors`) or went into (`descendants`):
        columns code, kind, summary, depth."""
        rows = self.request(
            "GET",
            f"items/{urllib.parse.quote(code)}/lineage/",
            params={"direction": direction, "depth": depth},
        )
        return pd.DataFrame(rows, columns=["code", "kind", "summary", "depth"])

    def lineage_table(self, root_kind: str = "cell", **filters: Any) -> pd.DataFrame:
        """Rows of `root_kind` with their ancestors' columns; `<kind>__<filter>` keeps rows
        descending from such an item, e.g. `pellet__sintering_temperature_c=900`."""
        params = {"root_kind": root_kind, "page_size": DEFAULT_PAGE_SIZE, **filters}
        page = self.request("GET", "lineage-table/", params=params)
        columns, rows = page["columns"], list(page["results"])
        while page.get("next"):
            page = self.request("GET", page["next"])
            rows.extend(page["results"])
        return pd.DataFrame(rows, columns=columns)

    # -- Measurements -----------------------------------------------------------------------

    def measurements(self, **filters: Any) -> pd.DataFrame:
        """Measurements (filters: item, technique, status, ancestor, q)."""
        return self.table("measurements/", **filters)

    def results(self, **filters: Any) -> pd.DataFrame:
        """Computed results with their inputs (filters: kind, item, measurement, technique)."""
        return self.table("results/", **filters)

    def cycling(self, cell_code: str, measurement: str | None = None) -> pd.DataFrame:
        """The per-cycle table of a cell's cycling test (its latest processed one, unless a
        measurement code is given): cycle, charge/discharge mAh and mAh/g, CE, energies..."""
        code = measurement or self._latest(cell_code, "cycling")
        return pd.read_csv(io.BytesIO(self.download(f"measurements/{code}/cycles/", format="csv")))

    def data(self, measurement: str, every: int = 1) -> pd.DataFrame:
        """A measurement's parsed data in canonical columns (time_s, voltage_V, current_mA,
        ...; frequency_Hz, z_real_ohm, z_imag_ohm; ...), via Parquet."""
        raw = self.download(f"measurements/{measurement}/data/", format="parquet", every=every)
        return pd.read_parquet(io.BytesIO(raw))

    def upload(
        self,
        item_code: str,
        paths: str | Path | list,
        *,
        technique: str,
        wait: bool = True,
        timeout: float = 600.0,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a measurement on an item with raw file(s) and, by default, wait until the
        worker has processed it. Returns the measurement with its results; raises
        ProcessingFailed with the reason when the file could not be processed."""
        paths = [paths] if isinstance(paths, str | Path) else list(paths)
        form = {"item": item_code, "technique": technique, **fields}
        created = self._multipart("measurements/", form, [Path(p) for p in paths])
        if not wait:
            return created
        return self.wait(created["code"], timeout=timeout)

    def wait(
        self, measurement: str, *, timeout: float = 600.0, interval: float = 0.5
    ) -> dict[str, Any]:
        """Poll a measurement until it is finished: done, done with warnings or waiting for an
        input (its representation: `status`, `warnings`, results) or failed (ProcessingFailed)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.request("GET", f"measurements/{measurement}/status/")
            if state["status"] in ("done", "done_with_warnings", "needs_input"):
                return self.request("GET", f"measurements/{measurement}/")
            if state["status"] == "failed":
                raise ProcessingFailed(measurement, state["status_detail"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{measurement} still {state['status']} after {timeout} s")
            time.sleep(interval)

    def _latest(self, item_code: str, technique: str) -> str:
        page = self.request(
            "GET",
            "measurements/",
            params={
                "item": item_code,
                "technique": technique,
                "ordering": "-created_at",
                "page_size": 50,
            },
        )
        for row in page["results"]:
            if row["status"] in ("done", "done_with_warnings"):
                return row["code"]
        raise LookupError(f"{item_code} has no processed {technique} measurement")

    def download(self, path: str, **params: Any) -> bytes:
        """The raw bytes of an endpoint (CSV, Parquet) or of a measurement's raw file (its
        `files[i]["download"]`)."""
        req = urllib.request.Request(
            self.url(path, params), headers={"Authorization": f"Token {self.token}"}
        )
        return self._send(req)

    def _multipart(self, path: str, form: Mapping[str, Any], files: list[Path]) -> Any:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in form.items():
            if value is None:
                continue
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                f"\r\n\r\n{value}\r\n".encode()
            )
        for file in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{file.name}"\r\nContent-Type: application/octet-stream'
                "\r\n\r\n".encode()
                + file.read_bytes()
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(
            self.url(path),
            data=body,
            method="POST",
            headers={
                "Authorization": f"Token {self.token}",
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        return json.loads(self._send(req))

    def _send(self, req: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise ApiError(exc.code, detail, req.full_url) from None


class ProcessingFailed(Exception):
    """The worker could not process a measurement; `reason` says why (file and line)."""

    def __init__(self, code: str, reason: str):
        self.code, self.reason = code, reason
        super().__init__(f"{code} failed: {reason}")
