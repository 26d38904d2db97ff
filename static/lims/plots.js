// Draws a measurement's plots from the payload the page embeds (measurements/plot_payload.py;
// the same JSON as GET /api/measurements/<code>/plot/). Every plot goes through LIMS.plot, so
// every axis has a title with its unit, the legend stays above the data, and PNG/SVG export
// works. The server has thinned the series already; nothing here computes science.
(function () {
  "use strict";
  const node = document.getElementById("plot-data");
  if (!node || !window.Plotly || !window.LIMS) return;
  const d = JSON.parse(node.textContent);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939"];

  function draw(id, traces, layout) {
    if (!document.getElementById(id)) return;
    LIMS.plot(id, traces, layout); // the exported file is named by the div's data-filename
  }

  // Frequency on hover, in Hz: a Nyquist point is read by its frequency.
  const zHover = "Z′ %{x:.4g} Ω<br>−Z″ %{y:.4g} Ω<br>f %{customdata:.4g} Hz<extra>%{fullData.name}</extra>";

  function eis() {
    const m = d.data, fit = d.fit;
    const nyquist = [{
      x: m.zr, y: m.mzi, customdata: m.f, mode: "markers", name: "measured",
      marker: { size: 6, color: palette[0] }, hovertemplate: zHover,
    }];
    if (fit) nyquist.push({
      x: fit.zr, y: fit.mzi, customdata: fit.f, mode: "lines", name: "fit (" + d.model + ")",
      line: { color: palette[1], width: 2 }, hovertemplate: zHover,
    });
    const box = document.getElementById("plot");
    const layout = {
      // On a phone the equal scales leave a tall, empty frame: the height follows the width.
      height: Math.round(Math.max(300, Math.min(420, 0.8 * (box ? box.clientWidth : 500)))),
      // Equal scales: a semicircle looks like one, and a depressed arc like a depressed arc.
      xaxis: { title: "Z′ (Ω)", constrain: "domain" },
      yaxis: { title: "−Z″ (Ω)", scaleanchor: "x", scaleratio: 1, constrain: "domain" },
    };
    // Frame the electrolyte's arc: the blocking-electrode spike would otherwise dwarf it.
    if (d.r_ionic) {
      layout.xaxis.range = [0, 2 * d.r_ionic];
      layout.yaxis.range = [-0.1 * d.r_ionic, 1.0 * d.r_ionic];
    }
    draw("plot", nyquist, layout);

    const fHover = "f %{x:.4g} Hz<br>%{y:.4g}<extra>%{fullData.name}</extra>";
    const bode = [
      { x: m.f, y: m.mod, mode: "markers", name: "measured", legendgroup: "m",
        marker: { size: 5, color: palette[0] }, hovertemplate: fHover },
      { x: m.f, y: m.mphase, yaxis: "y2", mode: "markers", name: "measured", legendgroup: "m",
        showlegend: false, marker: { size: 5, color: palette[0] }, hovertemplate: fHover },
    ];
    if (fit) bode.push(
      { x: fit.f, y: fit.mod, mode: "lines", name: "fit", legendgroup: "f",
        line: { color: palette[1] }, hovertemplate: fHover },
      { x: fit.f, y: fit.mphase, yaxis: "y2", mode: "lines", name: "fit", legendgroup: "f",
        showlegend: false, line: { color: palette[1] }, hovertemplate: fHover }
    );
    draw("plot-bode", bode, {
      height: 460,
      // Two stacked plots on one frequency axis: |Z| above, phase below.
      xaxis: { title: "frequency (Hz)", type: "log", exponentformat: "power", anchor: "y2" },
      yaxis: { title: "|Z| (Ω)", type: "log", exponentformat: "power", domain: [0.55, 1] },
      yaxis2: { title: "−phase (°)", domain: [0, 0.45] },
    });

    // Lin-KK residuals: what a Kramers-Kronig-consistent impedance cannot follow, in % of |Z|.
    if (d.kk) draw("plot-kk", [
      { x: d.kk.f, y: d.kk.re, mode: "lines+markers", name: "Δ real" },
      { x: d.kk.f, y: d.kk.im, mode: "lines+markers", name: "Δ imaginary" },
    ], {
      height: 240,
      xaxis: { type: "log", title: "frequency (Hz)", exponentformat: "power" },
      yaxis: { title: "residual (% of |Z|)", zeroline: true },
    });
  }

  function cycling() {
    const s = d.summary, unit = d.capacity_unit;
    const capTitle = (unit === "mAh/g" ? "specific capacity" : "capacity") + " (" + unit + ")";
    draw("plot", [
      { x: s.cycle, y: s.charge, mode: "markers", name: "charge", marker: { size: 5, color: palette[1] } },
      { x: s.cycle, y: s.discharge, mode: "markers", name: "discharge", marker: { size: 5, color: palette[0] } },
      { x: s.cycle, y: s.ce_pct, mode: "lines", name: "coulombic efficiency", yaxis: "y2",
        line: { color: palette[2], width: 1.5 } },
    ], {
      xaxis: { title: "cycle number" },
      yaxis: { title: capTitle, rangemode: "tozero" },
      // tickmode auto: an overlaying axis otherwise takes ticks at the first axis' grid lines
      // (91.25, 93.21, ...), numbers nobody reads.
      yaxis2: { title: "coulombic efficiency (%)", overlaying: "y", side: "right", showgrid: false,
        tickmode: "auto" },
    });

    // One colour per chosen cycle, the same in the voltage and the dQ/dV plot.
    const colour = {};
    (d.cycles.chosen || []).forEach(function (n, i) { colour[n] = palette[i % palette.length]; });
    function perCycle(series, x, y) {
      const shown = {};
      return series.map(function (c) {
        const first = !shown[c.cycle];
        shown[c.cycle] = true;
        return {
          x: c[x], y: c[y], mode: "lines", name: "cycle " + c.cycle, legendgroup: "c" + c.cycle,
          showlegend: first, line: { color: colour[c.cycle], width: 1.8 },
          hovertemplate: "cycle " + c.cycle + " " + c.direction + "<br>%{x:.4g}, %{y:.4g}<extra></extra>",
        };
      });
    }
    draw("plot-vq", perCycle(d.curves, "capacity", "voltage"), {
      xaxis: { title: capTitle, rangemode: "tozero" },
      yaxis: { title: "voltage (V)" },
    });
    draw("plot-dqdv", perCycle(d.dqdv, "voltage", "dqdv"), {
      xaxis: { title: "voltage (V)" },
      yaxis: { title: "dQ/dV (" + unit + " per V)", zeroline: true },
    });
    if (d.rate) draw("plot-rate", [{
      type: "bar", x: d.rate.label, y: d.rate.discharge, name: "mean discharge capacity",
      marker: { color: palette[0] },
      hovertemplate: "%{x}<br>%{y:.4g} mAh/g<extra></extra>",
    }], {
      xaxis: { title: "C-rate (cycles)", type: "category" },
      yaxis: { title: "mean discharge capacity (mAh/g)", rangemode: "tozero" },
      showlegend: true,
    });
  }

  function stripping() {
    const traces = [
      { x: d.trace.t_h, y: d.trace.v, mode: "lines", name: "voltage", line: { color: palette[0], width: 1 } },
      { x: d.envelope.upper.t_h, y: d.envelope.upper.v, mode: "lines", name: "largest |V| per half cycle",
        legendgroup: "env", line: { color: palette[1], width: 2 } },
      { x: d.envelope.lower.t_h, y: d.envelope.lower.v, mode: "lines", name: "largest |V| per half cycle",
        legendgroup: "env", showlegend: false, line: { color: palette[1], width: 2 } },
    ];
    const shapes = [], annotations = [];
    [[d.failure_h, "failure"], [d.short_h, "short circuit"]].forEach(function (mark, i) {
      if (mark[0] === null || mark[0] === undefined) return;
      const colour = i === 0 ? "#e07b00" : "#b3261e";
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: mark[0], x1: mark[0], y0: 0, y1: 1,
        line: { color: colour, width: 2, dash: "dash" } });
      annotations.push({ xref: "x", yref: "paper", x: mark[0], y: i === 0 ? 0.02 : 0.12,
        xanchor: "left", yanchor: "bottom", showarrow: false, bgcolor: "rgba(255,255,255,0.8)",
        font: { color: colour }, text: mark[1] + " at " + Number(mark[0]).toPrecision(3) + " h" });
    });
    draw("plot", traces, {
      xaxis: { title: "time (h)" },
      yaxis: { title: "voltage (V)", zeroline: true },
      shapes: shapes,
      annotations: annotations,
    });
  }

  function tga() {
    const traces = [
      { x: d.curve.t, y: d.curve.m, mode: "lines", name: "mass", line: { color: palette[0], width: 2 } },
      { x: d.derivative.t, y: d.derivative.d, mode: "lines", name: "derivative", yaxis: "y2",
        line: { color: palette[1], width: 1.2 } },
    ];
    const shapes = [], annotations = [];
    if (d.marks.length) {
      traces.push({
        x: d.marks.map(function (k) { return k.t; }), y: d.marks.map(function (k) { return k.m; }),
        mode: "markers", name: "1 %, 5 % loss and onset",
        marker: { size: 9, symbol: "diamond", color: palette[2] },
        hovertemplate: d.marks.map(function (k) { return k.label + " %{x:.1f} °C<extra></extra>"; }),
      });
      // A dotted line and a label per temperature; the labels are stacked because the three
      // temperatures are often a few kelvin apart.
      d.marks.forEach(function (k, i) {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: k.t, x1: k.t, y0: 0, y1: 1,
          line: { color: palette[2], width: 1, dash: "dot" } });
        annotations.push({ xref: "x", yref: "paper", x: k.t, y: 0.06 + 0.1 * i, xanchor: "right",
          yanchor: "bottom", showarrow: false, bgcolor: "rgba(255,255,255,0.8)",
          text: k.label + " " + k.t.toFixed(0) + " °C" });
      });
    }
    draw("plot", traces, {
      xaxis: { title: "temperature (°C)" },
      yaxis: { title: "mass (%)" },
      yaxis2: { title: "dm/dT (%/°C)", overlaying: "y", side: "right", showgrid: false,
        tickmode: "auto" },
      shapes: shapes,
      annotations: annotations,
    });
  }

  function xrd() {
    draw("plot", [{ x: d.x, y: d.y, mode: "lines", name: "intensity", line: { color: palette[0], width: 1 } }], {
      xaxis: { title: "2θ (°)" },
      yaxis: { title: "intensity (a.u.)" },
    });
  }

  if (d.error) return;
  ({ eis: eis, cycling: cycling, stripping: stripping, tga: tga, xrd: xrd })[d.type]();
})();
