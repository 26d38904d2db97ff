// The new-measurement form shows only the settings the chosen technique uses (each field's
// label says which in data-techniques, from measurements/compute.py TECHNIQUE_INPUTS).
// Without JavaScript every field shows. A hidden field is still submitted, so what it holds
// is kept; a field with an error always shows.
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-technique-select]")) {
    const show = () => {
      for (const field of select.form.querySelectorAll("[data-techniques]")) {
        const uses = field.dataset.techniques.split(" ").includes(select.value);
        field.hidden = Boolean(select.value) && !uses && !field.classList.contains("invalid");
      }
    };
    select.addEventListener("change", show);
    show();
  }
});
