/* Numbers typed by people and numbers shown to them: the browser's copy of
   kpi_planner/numbers.py, for the page scripts (window.KpiNumbers). Keep the two alike.
   - clean/parse: full-width digits and signs, thousands separators, spaces, ¥ or 円, %, and the
     Japanese minus signs ▲/△ ("▲1,200" = -1200); parse gives a finite number or null.
   - number/pct/change/value/yen: the display rules, with the separators of Django's ja and en
     formats ("," and "."); a missing value is "—". */
(function () {
  "use strict";
  var MISSING = "—";
  var YEN_UNITS = ["円", "JPY", "¥"];
  var english = (document.documentElement.lang || "ja").slice(0, 2) === "en";

  function clean(text) {
    if (typeof text === "number") return String(text);
    // After NFKC, full-width characters are ASCII and the ideographic and no-break spaces are " ".
    var s = String(text == null ? "" : text).normalize("NFKC").replace(/[, %円¥]/g, "").trim();
    s = s.replace(/\u2212/g, "-");
    return /^[▲△]/.test(s) ? "-" + s.slice(1) : s;
  }

  var DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

  function parse(text) {
    if (typeof text === "number") return isFinite(text) ? text : null;
    var s = clean(text);
    if (!DECIMAL.test(s)) return null;
    var n = Number(s);
    return isFinite(n) ? n : null;
  }

  function missing(value) {
    return value === null || value === undefined || value === "" || Number.isNaN(value);
  }

  // Python rounds half to even (round(12.25, 1) == 12.2, round(2.5) == 2); toFixed rounds half up.
  function rounded(value, digits) {
    var f = Math.pow(10, digits), x = value * f, r = Math.round(x);
    if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) r -= 1;
    return r / f;
  }

  function grouped(value, digits) {
    var text = rounded(Number(value), digits).toFixed(digits);
    if (/^-[0.]*$/.test(text)) text = text.slice(1); // -0.04 with one decimal is 0.0
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function number(value, digits) {
    return missing(value) ? MISSING : grouped(value, digits || 0);
  }

  function pct(value, digits) {
    return missing(value) ? MISSING : grouped(value, digits === undefined ? 1 : digits) + "%";
  }

  function change(value) {
    return missing(value) ? MISSING : (value > 0 ? "+" : "") + pct(value, 1);
  }

  function yen(value) {
    if (missing(value)) return MISSING;
    var amount = grouped(value, 0);
    return english ? "¥" + amount : amount + "円";
  }

  function value(v, unit) {
    unit = unit || "";
    if (missing(v)) return MISSING;
    if (YEN_UNITS.indexOf(unit) >= 0) return yen(v);
    var digits = v === Math.round(v) || Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    var text = grouped(v, digits);
    if (digits) text = text.replace(/0+$/, "").replace(/\.$/, ""); // 2.50 → 2.5
    if (!unit || unit === "%") return text + unit;
    return english ? text + " " + unit : text + unit;
  }

  window.KpiNumbers = { clean: clean, parse: parse, number: number, pct: pct, change: change, value: value, yen: yen };
})();
