// The explorer: fetch the lineage table (same origin, the session logs the request in), follow
// its pages, and plot y against x, one trace per colour group; a click opens the item's page.
(function () {
  "use strict";
  const state = JSON.parse(document.getElementById("explore-state").textContent);
  const source = document.getElementById("explore-source").dataset.fetch;
  const status = document.getElementById("explore-status");
  const body = document.querySelector("[data-testid=explore-table] tbody");
  const ax = state.axes;
  const label = (c) => state.labels[c] || c;

  async function fetchAll(url) {
    const rows = [];
    while (url) {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) {
        const why = Object.entries(data).map(([k, v]) => k + ": " + [].concat(v).join(" ")).join("; ");
        throw new Error("The table API refused the query: " + why);
      }
      rows.push(...data.results);
      url = data.next;
    }
    return rows;
  }

  function cell(value) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "" : String(value);
    return td;
  }

  function fill(rows) {
    body.replaceChildren(
      ...rows.map((row) => {
        const tr = document.createElement("tr");
        const code = document.createElement("td");
        const link = document.createElement("a");
        link.href = "/items/" + encodeURIComponent(row.code) + "/";
        link.textContent = row.code;
        code.append(link);
        tr.append(code, cell(row[ax.x]), cell(row[ax.y]));
        if (ax.color) tr.append(cell(row[ax.color]));
        return tr;
      })
    );
  }

  function traces(rows) {
    const plotted = rows.filter((r) => r[ax.x] !== null && r[ax.x] !== undefined && r[ax.y] !== null && r[ax.y] !== undefined);
    const groups = new Map();
    plotted.forEach((r) => {
      const key = ax.color ? String(r[ax.color] ?? "(none)") : "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(r);
    });
    const out = [];
    groups.forEach((members, key) =>
      out.push({
        x: members.map((r) => r[ax.x]),
        y: members.map((r) => r[ax.y]),
        customdata: members.map((r) => r.code),
        text: members.map((r) => r.code),
        hovertemplate: "%{text}<br>x = %{x}<br>y = %{y}<extra></extra>",
        mode: "markers",
        marker: { size: 10 },
        name: ax.color ? label(ax.color) + " = " + key : "items",
      })
    );
    return { traces: out, left: rows.length - plotted.length };
  }

  async function run() {
    let rows;
    try {
      rows = await fetchAll(source);
    } catch (error) {
      status.textContent = error.message;
      status.classList.add("error");
      return;
    }
    fill(rows);
    const { traces: data, left } = traces(rows);
    status.textContent =
      rows.length + " rows; " + (rows.length - left) + " plotted" +
      (left ? ", " + left + " without a value on both axes" : "") + "." +
      // The API's CSV is one page: say so rather than hand over a silently cut table.
      (rows.length > state.csv_rows
        ? " The CSV link holds the first " + state.csv_rows + " rows; lims.client's " +
          "lineage_table(...) follows every page."
        : "");
    const node = LIMS.plot("plot-explore", data, {
      height: 460,
      showlegend: !!ax.color,
      xaxis: { title: label(ax.x) },
      yaxis: { title: label(ax.y) },
    });
    if (node) {
      node.on("plotly_click", (event) => {
        const code = event.points[0].customdata;
        if (code) window.location.href = "/items/" + encodeURIComponent(code) + "/";
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
