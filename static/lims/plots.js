// Draws the measurement plot from the JSON the page embeds (Plotly.js served locally).
(function () {
  const node = document.getElementById("plot-data");
  if (!node || !window.Plotly) return;
  const d = JSON.parse(node.textContent);
  const layout = { margin: { t: 30 }, height: 380 };
  let traces = [];
  if (d.type === "eis") {
    traces.push({ x: d.zr, y: d.mzi, mode: "markers", name: "measured" });
    if (d.fit_zr) traces.push({ x: d.fit_zr, y: d.fit_mzi, mode: "lines", name: "fit" });
    layout.xaxis = { title: "Z' (Ω)" };
    layout.yaxis = { title: "−Z'' (Ω)", scaleanchor: "x" };
    // Frame the electrolyte's arc: the blocking-electrode spike would otherwise dwarf it.
    if (d.r_ionic) {
      layout.xaxis.range = [0, 2 * d.r_ionic];
      layout.yaxis.range = [-0.1 * d.r_ionic, 1.0 * d.r_ionic];
    }
  } else if (d.type === "cycling") {
    traces.push({ x: d.cycle, y: d.charge, mode: "markers", name: "charge (mAh/g)" });
    traces.push({ x: d.cycle, y: d.discharge, mode: "markers", name: "discharge (mAh/g)" });
    traces.push({ x: d.cycle, y: d.ce_pct, mode: "lines", name: "CE (%)", yaxis: "y2" });
    layout.xaxis = { title: "cycle" };
    layout.yaxis = { title: "specific capacity (mAh/g)" };
    layout.yaxis2 = { title: "CE (%)", overlaying: "y", side: "right" };
  } else if (d.type === "stripping") {
    traces.push({ x: d.t_h, y: d.v, mode: "lines", name: "voltage" });
    layout.xaxis = { title: "time (h)" };
    layout.yaxis = { title: "voltage (V)" };
  } else if (d.type === "tga") {
    traces.push({ x: d.t, y: d.m, mode: "lines", name: "mass" });
    layout.xaxis = { title: "temperature (°C)" };
    layout.yaxis = { title: "mass (%)" };
  } else {
    traces.push({ x: d.x, y: d.y, mode: "lines", name: "intensity" });
    layout.xaxis = { title: "2θ (°)" };
  }
  LIMS.plot("plot", traces, layout);
  // Lin-KK residuals: what a Kramers-Kronig-consistent impedance cannot follow, in % of |Z|.
  if (d.kk_f && document.getElementById("plot-kk")) {
    LIMS.plot(
      "plot-kk",
      [
        { x: d.kk_f, y: d.kk_re, mode: "lines+markers", name: "Δ real" },
        { x: d.kk_f, y: d.kk_im, mode: "lines+markers", name: "Δ imaginary" },
      ],
      {
        margin: { t: 30 },
        height: 220,
        title: { text: "Lin-KK residuals" },
        xaxis: { type: "log", title: { text: "frequency (Hz)" } },
        yaxis: { title: { text: "residual (% of |Z|)" }, zeroline: true },
      }
    );
  }
})();
