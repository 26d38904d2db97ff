// Rows of every grid rendered by templates/lims/formset.html, added and removed in the page.
// "Add a row" copies the grid's <template> (Django's empty_form, `__prefix__` as its index) and
// raises TOTAL_FORMS. Ticking "remove" on a row the server sent marks it deleted (Django skips
// it on save); on a row added here it takes the row away and renumbers the rows after it, so
// the indices Django reads stay 0..TOTAL_FORMS-1. Without JS the button posts the form and the
// server answers with one more row.
(function () {
  "use strict";

  function counter(grid, name) {
    return grid.querySelector(`input[name="${grid.dataset.formset}-${name}"]`);
  }

  function renumber(grid) {
    const prefix = grid.dataset.formset;
    const index = new RegExp(`(^|id_)${prefix}-\\d+-`);
    const rows = grid.querySelectorAll("tbody[data-row]");
    rows.forEach((row, i) => {
      row.querySelectorAll("[name], [id], label[for]").forEach((el) => {
        for (const attr of ["name", "id", "for"]) {
          const value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(index, `$1${prefix}-${i}-`));
        }
      });
    });
    counter(grid, "TOTAL_FORMS").value = rows.length;
  }

  function addRow(grid, button) {
    const total = counter(grid, "TOTAL_FORMS");
    const max = Number(counter(grid, "MAX_NUM_FORMS").value);
    const n = Number(total.value);
    if (n >= max) return;
    if (n + 1 >= max) {
      button.disabled = true;
      button.title = `This table takes at most ${max} rows.`;
    }
    const html = grid.querySelector("template[data-empty-row]").innerHTML;
    const table = grid.querySelector("table");
    table.insertAdjacentHTML("beforeend", html.replaceAll("__prefix__", String(n)));
    const row = table.lastElementChild;
    row.dataset.added = "";
    total.value = n + 1;
    const first = row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
    grid.dispatchEvent(new CustomEvent("formset:added", { bubbles: true, detail: { row } }));
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-add-row]");
    if (!button) return;
    event.preventDefault(); // the page adds the row; no round trip
    addRow(button.closest("[data-formset]"), button);
  });

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.name.endsWith("-DELETE")) return;
    const row = box.closest("tbody[data-row]");
    const grid = box.closest("[data-formset]");
    if (!row || !grid) return;
    if ("added" in row.dataset && box.checked) {
      row.remove();
      renumber(grid);
      grid.querySelector("[data-add-row]").disabled = false;
    } else {
      row.classList.toggle("removed", box.checked);
    }
  });
})();
