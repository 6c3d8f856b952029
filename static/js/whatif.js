// The what-if panel (templates/kpitree/_whatif.html): its forms carry hx-post; a page that has
// no htmx yet (the KPI detail) gets the vendored copy, loaded once. Without scripts the forms
// post as plain forms and the answer is a page of its own.
(function () {
  "use strict";
  const panel = document.querySelector("[data-testid=whatif-panel]");
  if (!panel || window.htmx) return;
  if (document.querySelector("script[data-whatif-htmx]")) return;
  const script = document.createElement("script");
  script.src = panel.dataset.htmxSrc;
  script.dataset.whatifHtmx = "1";
  script.onload = function () {
    if (window.htmx) window.htmx.process(document.body);
  };
  document.head.appendChild(script);
})();
