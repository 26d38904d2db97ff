// The LAGP batch form's planned masses follow the precursor calculator, which htmx swaps into
// #calculator whenever target mass, x or Li excess change. The first row of each precursor
// takes the calculator's mass when its planned mass is empty or still the mass last filled in
// (kept in the row's hidden proposed_mass_g); a mass typed by hand since is left alone and
// marked. synthesis.forms.follow_calculator applies the same rule on the server (no JS).
(function () {
  "use strict";

  const field = (row, name) => row.querySelector(`[name$="-${name}"]`);
  const same = (a, b) => a.trim() !== "" && b.trim() !== "" && Number(a) === Number(b);

  function mark(row) {
    const planned = field(row, "planned_mass_g");
    const proposed = field(row, "proposed_mass_g");
    if (!planned || !proposed) return;
    const typed = planned.value.trim() !== "" && proposed.value !== "" && !same(planned.value, proposed.value);
    planned.classList.toggle("typed", typed);
    planned.title = typed ? `typed by hand; the calculator proposes ${proposed.value} g` : "";
  }

  function follow() {
    const masses = {};
    document.querySelectorAll("#calculator tr[data-role][data-mass]").forEach((tr) => {
      masses[tr.dataset.role] = tr.dataset.mass;
    });
    const seen = new Set();
    document.querySelectorAll('[data-formset="precursors"] tbody[data-row]').forEach((row) => {
      const role = field(row, "role");
      const removed = field(row, "DELETE");
      if (!role || !(role.value in masses) || seen.has(role.value) || (removed && removed.checked)) {
        return;
      }
      seen.add(role.value);
      const planned = field(row, "planned_mass_g");
      const proposed = field(row, "proposed_mass_g");
      if (planned.value.trim() === "" || same(planned.value, proposed.value)) {
        planned.value = proposed.value = masses[role.value];
      }
      mark(row);
    });
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "calculator") follow();
  });
  document.addEventListener("input", (event) => {
    if (event.target.name && event.target.name.endsWith("-planned_mass_g")) {
      mark(event.target.closest("tbody[data-row]"));
    }
  });
  // A precursor's first row can change (a row removed, an added row given a precursor).
  document.addEventListener("change", (event) => {
    if (event.target.closest('[data-formset="precursors"]')) follow();
  });
  document.addEventListener("DOMContentLoaded", follow);
})();
