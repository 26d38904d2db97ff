// A <select data-autosubmit> submits its form when changed (the Content-Security-Policy runs no
// inline handler such as onchange="..."). Without JS the form's own button submits it.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.dataset.autosubmit !== undefined) {
    field.form.submit();
  }
});
