// Every page: the shell's small behaviours, kept out of the HTML because the
// Content-Security-Policy allows no inline script or event handler (settings.py).
(function () {
  "use strict";

  // The language switch submits as soon as a language is chosen (the <noscript> button
  // does it without this file).
  var select = document.getElementById("language-select");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }

  // Indented table cells carry their depth as data-depth; CSS reads it as --depth
  // (a style="" attribute would be refused by the Content-Security-Policy).
  document.querySelectorAll("[data-depth]").forEach(function (cell) {
    cell.style.setProperty("--depth", cell.dataset.depth);
  });

  // A form that changes something hard to undo (retiring a KPI) asks first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
