// One way to draw every plot of the LIMS, on Plotly.js (4.x, served locally from the plotly
// Python package: no CDN). Every page's plots go through LIMS.plot so that they all:
// - title each axis with its quantity and unit (Plotly.js 4 ignores a plain-string axis title,
//   so strings are turned into {text}); titles are required, a plot without one is a bug;
// - keep the legend above the plotting area, never over data or axes;
// - export as PNG (the camera button) or SVG (the disk button), named after the page's record;
// - follow the system's dark mode.
window.LIMS = window.LIMS || {};
(function (L) {
  "use strict";

  function dark() {
    return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  }

  function withTitle(axis) {
    const out = Object.assign({ automargin: true }, axis);
    if (typeof out.title === "string") out.title = { text: out.title };
    return out;
  }

  L.isDark = dark;

  // el: element or id; traces: Plotly traces; layout: Plotly layout (axis titles may be
  // strings); options.filename: the exported file's name (default: the element's
  // data-filename, else "plot").
  L.plot = function (el, traces, layout, options) {
    const node = typeof el === "string" ? document.getElementById(el) : el;
    if (!node || !window.Plotly) return null;
    const lay = Object.assign(
      {
        height: 380,
        margin: { t: 40, r: 20, b: 10, l: 10 },
        hovermode: "closest",
        legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
      },
      layout || {}
    );
    Object.keys(lay).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) lay[key] = withTitle(lay[key]);
    });
    if (typeof lay.title === "string") lay.title = { text: lay.title };
    if (dark()) {
      const ink = "#d8dee9";
      lay.paper_bgcolor = lay.paper_bgcolor || "#1b1f24";
      lay.plot_bgcolor = lay.plot_bgcolor || "#1b1f24";
      lay.font = Object.assign({ color: ink }, lay.font || {});
      Object.keys(lay).forEach(function (key) {
        if (/^[xy]axis\d*$/.test(key)) {
          lay[key] = Object.assign({ gridcolor: "#3b4252", zerolinecolor: "#4c566a" }, lay[key]);
        }
      });
    }
    const filename = (options && options.filename) || node.dataset.filename || "plot";
    const config = {
      responsive: true,
      displaylogo: false,
      toImageButtonOptions: { format: "png", filename: filename, scale: 2 },
      modeBarButtonsToAdd: [
        {
          name: "Download as SVG",
          icon: window.Plotly.Icons.disk,
          click: function (gd) {
            window.Plotly.downloadImage(gd, { format: "svg", filename: filename });
          },
        },
      ],
    };
    window.Plotly.newPlot(node, traces, lay, config);
    node.dataset.plotted = "true";
    return node;
  };
})(window.LIMS);
