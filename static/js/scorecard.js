/* Scorecard pages: draw the server-built plotly figures and make overview rows clickable.
   Progressive enhancement: every chart has a table view and every row a real link. */
(function () {
  "use strict";
  var lang = (document.documentElement.lang || "ja").slice(0, 2);

  if (window.Plotly && lang === "ja") {
    // plotly.js ships no Japanese locale in the Python package: the modebar's texts, here.
    window.Plotly.register({
      moduleType: "locale",
      name: "ja",
      dictionary: {
        "Autoscale": "自動スケール",
        "Box Select": "矩形選択",
        "Download plot as a png": "PNG画像として保存",
        "Download plot": "画像として保存",
        "Lasso Select": "投げ縄選択",
        "Pan": "移動",
        "Produced with Plotly.js": "Plotly.jsで作成",
        "Reset axes": "軸をリセット",
        "Reset view": "表示をリセット",
        "Toggle Spike Lines": "スパイクラインの切り替え",
        "Zoom": "ズーム",
        "Zoom in": "拡大",
        "Zoom out": "縮小",
        "Show closest data on hover": "最も近いデータを表示",
        "Compare data on hover": "データを比較表示",
        "Double-click on legend to isolate one trace": "凡例をダブルクリックすると1系列だけ表示します",
        "Double-click to zoom back out": "ダブルクリックで元に戻す",
        "Click to enter Colorscale title": "カラースケールのタイトルを入力"
      },
      format: {
        days: ["日曜日", "月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日"],
        shortDays: ["日", "月", "火", "水", "木", "金", "土"],
        months: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
        shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
        date: "%Y/%m/%d"
      }
    });
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source || !window.Plotly) return;
    var figure = JSON.parse(source.textContent);
    var config = { responsive: true, displaylogo: false, locale: lang, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
    window.Plotly.newPlot(el, figure.data, figure.layout, config);
  }

  document.querySelectorAll("[data-figure]").forEach(draw);

  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, input, select")) return;
      window.location.href = row.getAttribute("data-href");
    });
  });
})();
