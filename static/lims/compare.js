// The comparison page: one trace per cell (or per measurement) on shared axes, from the JSON
// the server embeds (already thinned). Every plot goes through LIMS.plot.
(function () {
  "use strict";
  const node = document.getElementById("compare-data");
  if (!node || !window.LIMS) return;
  const d = JSON.parse(node.textContent);
  const lines = { mode: "lines" };

  if (d.capacity.length && document.getElementById("plot-capacity")) {
    LIMS.plot(
      "plot-capacity",
      d.capacity.map((t) => Object.assign({ x: t.cycle, y: t.discharge_mAh_g, name: t.name }, lines)),
      { xaxis: { title: "cycle number" }, yaxis: { title: "discharge capacity (mAh/g)" } }
    );
    LIMS.plot(
      "plot-retention",
      d.capacity.map((t) => Object.assign({ x: t.cycle, y: t.retention_pct, name: t.name }, lines)),
      {
        xaxis: { title: "cycle number" },
        yaxis: { title: "capacity retention (% of the reference cycle)" },
      }
    );
  }
  if (d.profiles.length && document.getElementById("plot-profiles")) {
    LIMS.plot(
      "plot-profiles",
      d.profiles.map((t) => ({ x: t.capacity_mAh_g, y: t.voltage_V, name: t.name, mode: "lines" })),
      { xaxis: { title: "specific capacity (mAh/g)" }, yaxis: { title: "cell voltage (V)" } }
    );
  }
  if (d.nyquist.length && document.getElementById("plot-nyquist")) {
    const layout = {
      height: 480,
      xaxis: { title: "Z' (Ω)" },
      // Equal axes: a semicircle stays a semicircle.
      yaxis: { title: "−Z'' (Ω)", scaleanchor: "x", scaleratio: 1 },
    };
    // Frame the electrolytes' arcs (up to twice the largest fitted ionic resistance): the
    // blocking-electrode spikes would otherwise dwarf them. Double-click shows everything.
    const r = Math.max(0, ...d.nyquist.map((t) => t.r_ionic || 0));
    if (r > 0) {
      layout.xaxis.range = [0, 2 * r];
      layout.yaxis.range = [-0.1 * r, r];
    }
    LIMS.plot(
      "plot-nyquist",
      d.nyquist.map((t) => ({ x: t.zr, y: t.mzi, name: t.name, mode: "lines+markers" })),
      layout
    );
  }
  if (d.arrhenius.length && document.getElementById("plot-arrhenius")) {
    const traces = [];
    const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
    d.arrhenius.forEach((s, i) => {
      const colour = colours[i % colours.length];
      traces.push({
        x: s.x,
        y: s.log_sigma,
        text: s.measurements,
        name: s.item + (s.fits.length ? "" : " (no fit: fewer than 3 temperatures)"),
        mode: "markers",
        marker: { color: colour, size: 8 },
        legendgroup: s.item,
      });
      s.fits.forEach((f, j) =>
        traces.push({
          x: f.x,
          y: f.log_sigma,
          name: f.name,
          mode: "lines",
          line: { color: colour, dash: j ? "dot" : "solid" },
          legendgroup: s.item,
        })
      );
    });
    LIMS.plot("plot-arrhenius", traces, {
      height: 460,
      xaxis: { title: "1000/T (1/K)" },
      yaxis: { title: "log₁₀ σ (σ in S/cm)" },
    });
  }
})();
