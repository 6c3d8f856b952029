// Vendor portal: small enhancements of server-rendered forms (they work without this file).
(function () {
  "use strict";

  // Number typed → change against last month, as the reader types ("1,234" and "85%" allowed).
  var numbers = window.KpiNumbers; // static/js/numbers.js, loaded before this file

  function updateChange(input) {
    var body = input.closest("tbody");
    var cell = body && body.querySelector("[data-change]");
    if (!cell) return;
    var now = numbers.parse(input.value), last = numbers.parse(input.dataset.last);
    cell.classList.remove("better", "worse");
    if (now === null || last === null || last === 0) { cell.textContent = ""; return; }
    var pct = (now - last) / Math.abs(last) * 100;
    cell.textContent = numbers.change(pct);
    // Green when the number moved the right way for this KPI (for CPA, down is better).
    var better = input.dataset.direction === "down" ? pct <= 0 : pct >= 0;
    cell.classList.add(better ? "better" : "worse");
  }

  document.querySelectorAll(".value-input").forEach(function (input) {
    input.addEventListener("input", function () { updateChange(input); });
    updateChange(input);
  });

  // Ask before submitting a month (it goes to the manager).
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  // Comment boxes grow with their text.
  document.querySelectorAll(".notes-row textarea").forEach(function (area) {
    function fit() { area.style.height = "auto"; area.style.height = area.scrollHeight + 2 + "px"; }
    area.addEventListener("input", fit);
    if (area.value) fit();
  });
})();
