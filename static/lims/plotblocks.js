// Draws every plot a page embeds as <div data-plot="ID"> with its JSON in
// <script type="application/json" id="ID">{"traces": [...], "layout": {...}}</script>
// (the item page's headline plot, the home page's plots), through LIMS.plot so each axis is
// titled, the legend stays off the data and the plot exports as PNG/SVG.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("[data-plot]").forEach(function (node) {
      if (node.dataset.plotted) return;
      const source = document.getElementById(node.dataset.plot);
      if (!source) return;
      const d = JSON.parse(source.textContent);
      const layout = Object.assign({ height: 300, margin: { t: 30, r: 20, b: 10, l: 10 } }, d.layout);
      window.LIMS.plot(node, d.traces, layout, { filename: node.dataset.filename });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
