"""The page's style sheet and script, inlined into every page (no file or network is needed to view it).

The script only adds what a static page cannot do: hover read-outs on the charts and the optimiser toggles.
Without it the page still shows every chart, table and number (each mark also has an SVG ``<title>``).
"""

CSS = """
:root{--fg:#1b1b1b;--muted:#5d5a53;--line:#dedad2;--paper:#f6f4ef;--accent:#0072B2}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.wrap{max-width:76rem;margin:0 auto;padding:0 1rem}
header.page{border-bottom:1px solid var(--line);padding-bottom:.6rem}
h1{font-size:1.55rem;line-height:1.25;margin:1.1rem 0 .3rem}
h2{font-size:1.3rem;line-height:1.3;margin:2.2rem 0 .6rem;padding-bottom:.2rem;border-bottom:2px solid var(--line)}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
h4{font-size:.95rem;margin:.6rem 0 .2rem}
a{color:var(--accent)}
.meta,.note,.legend,.who,.source{color:var(--muted);font-size:.88rem}
.lede{margin:.2rem 0 .8rem}
p,li,dd,.finding,.shows{overflow-wrap:anywhere}
nav.toc ol{margin:.4rem 0;padding-left:1.3rem;columns:2 17rem;column-gap:2rem}
nav.toc li{break-inside:avoid}
.table-wrap{overflow-x:auto;max-width:100%;margin:.4rem 0}
.table-wrap:focus{outline:2px solid var(--accent)}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.9rem}
th,td{padding:.28rem .6rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;vertical-align:top}
thead th{border-bottom:2px solid #bdb7aa;font-weight:600}
th.num,td.num{text-align:right}
table.dense{font-size:.8rem}
table.dense td,table.dense th{padding:.2rem .4rem}
img{max-width:100%;height:auto;display:block}
.img-wrap{overflow-x:auto;max-width:100%}
.img-wrap img{cursor:zoom-in}
.img-wrap img.full{max-width:none;cursor:zoom-out}
figure.fig{margin:1.2rem 0;padding:0}
figure.narrow img{max-width:min(100%,720px)}
.fig-title{font-weight:600;margin-bottom:.35rem}
.shows{background:var(--paper);border-left:4px solid #c2b8a2;padding:.45rem .7rem;margin:.5rem 0;font-size:.95rem}
.warn{background:#fff3e0;border-left:4px solid #E69F00;padding:.45rem .7rem}
.missing{color:#a33;font-style:italic}
.ok{color:#1b6b4a}
.chart-group{margin:.3rem 0}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,21rem),1fr));gap:.8rem}
.chart-box{position:relative;min-width:0}
svg.chart{width:100%;height:auto;display:block;font-family:inherit;touch-action:pan-y;overflow:visible}
svg.chart .frame{fill:none;stroke:#9a958a}
svg.chart .grid{stroke:#ece9e2}
svg.chart .tick{fill:#4a4740;font-size:10px}
svg.chart .label{fill:#1b1b1b;font-size:11px}
svg.chart .line{fill:none;stroke-linejoin:round;stroke-linecap:round}
svg.chart .band{opacity:.2}
svg.chart .span{opacity:.25}
svg.chart .guide{stroke:#555;stroke-dasharray:2 2}
svg.chart .off{display:none}
tr.off{display:none}
.tip{position:absolute;top:.2rem;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #bbb;
  border-radius:4px;padding:.25rem .45rem;font-size:.8rem;line-height:1.35;white-space:nowrap;z-index:2;
  box-shadow:0 1px 4px rgba(0,0,0,.15)}
.tip .swatch{width:.65rem;height:.65rem}
.toggles{display:flex;flex-wrap:wrap;gap:.4rem;margin:.4rem 0}
.toggle{font:inherit;font-size:.9rem;color:var(--fg);border:1px solid #a9a397;border-radius:999px;background:#fff;
  padding:.3rem .8rem;min-height:2.4rem;cursor:pointer}
.toggle[aria-pressed=false]{opacity:.5;text-decoration:line-through}
.toggle:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.4rem;vertical-align:-.05rem}
.finding-pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem;align-items:start;margin:1rem 0}
.finding-pair.wide{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}
.finding{border-left:6px solid #999;background:#fafaf8;padding:.5rem .8rem;margin:0 0 .8rem}
.finding header{font-size:1rem}
.finding ol{margin:.2rem 0;padding-left:1.3rem}
.finding .table-wrap table{font-size:.85rem}
.message{margin:.3rem 0}
.sev{display:inline-block;border-radius:3px;padding:0 .35rem;font-size:.8rem;color:#fff;background:#777}
.sev-error{background:#b63a00}.sev-warning{background:#a86a00}.sev-info{background:#35708f}
.steps{color:var(--muted);font-size:.88rem}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,18rem),1fr));gap:1rem}
dl.kv{display:grid;grid-template-columns:minmax(5rem,max-content) minmax(0,1fr);gap:.15rem .8rem;font-size:.9rem;
  margin:0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;overflow-wrap:anywhere}
.bar-track{display:inline-block;width:9rem;height:.75rem;background:#eeebe4;vertical-align:middle}
.bar{display:block;height:100%}
details{margin:.8rem 0}
summary{cursor:pointer;font-weight:600;padding:.2rem 0}
footer{color:var(--muted);font-size:.85rem;border-top:1px solid var(--line);margin-top:2.5rem;padding:.8rem 0 2rem}
@media (max-width:44rem){
  body{font-size:15px}
  h1{font-size:1.3rem}
  h2{font-size:1.15rem}
  .finding-pair,.finding-pair.wide{grid-template-columns:minmax(0,1fr)}
}
@media print{.toggles,.tip{display:none}details{display:block}}
"""

JS = r"""
(function () {
  "use strict";
  function sameKey(el, key) { return el.getAttribute("data-series") === key; }
  document.querySelectorAll("[data-toggle]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var on = btn.getAttribute("aria-pressed") !== "true";
      var key = btn.getAttribute("data-toggle");
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      var scope = btn.closest("[data-group]") || document;
      scope.querySelectorAll("[data-series]").forEach(function (el) {
        if (sameKey(el, key)) { el.classList.toggle("off", !on); }
      });
    });
  });
  document.querySelectorAll(".img-wrap img").forEach(function (img) {
    img.addEventListener("click", function () { img.classList.toggle("full"); });
  });
  document.querySelectorAll("svg.chart[data-hover]").forEach(function (chart) {
    var data = JSON.parse(chart.getAttribute("data-hover"));
    if (!data.series.length) { return; }
    var box = chart.parentNode, tip = box.querySelector(".tip");
    var guide = chart.querySelector(".guide"), dots = chart.querySelector(".dots");
    var width = chart.viewBox.baseVal.width;
    function hidden(s) {
      var gs = chart.querySelectorAll("g.series");
      for (var i = 0; i < gs.length; i++) {
        if (sameKey(gs[i], s.key) && gs[i].classList.contains("off")) { return true; }
      }
      return false;
    }
    function hide() {
      if (tip) { tip.hidden = true; }
      guide.setAttribute("visibility", "hidden");
      while (dots.firstChild) { dots.removeChild(dots.firstChild); }
    }
    function nearest(pts, x) {
      var best = null;
      for (var i = 0; i < pts.length; i++) {
        var d = Math.abs(pts[i][0] - x);
        if (best === null || d < best.d) { best = {d: d, p: pts[i]}; }
      }
      return best;
    }
    function move(ev) {
      var m = chart.getScreenCTM();
      if (!m || !tip) { return; }
      var pt = chart.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var x = pt.matrixTransform(m.inverse()).x;
      var shown = data.series.filter(function (s) { return !hidden(s); });
      var col = null;
      shown.forEach(function (s) {
        var n = nearest(s.pts, x);
        if (n && (col === null || n.d < col.d)) { col = n; }
      });
      if (col === null) { hide(); return; }
      while (dots.firstChild) { dots.removeChild(dots.firstChild); }
      while (tip.firstChild) { tip.removeChild(tip.firstChild); }
      var head = document.createElement("div");
      head.textContent = data.x + " " + col.p[2];
      tip.appendChild(head);
      shown.forEach(function (s) {
        var n = nearest(s.pts, col.p[0]);
        if (!n || n.d > 4) { return; }
        var dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
        dot.setAttribute("cx", n.p[0]); dot.setAttribute("cy", n.p[1]); dot.setAttribute("r", "3.5");
        dot.setAttribute("fill", s.color); dot.setAttribute("stroke", "#fff");
        dots.appendChild(dot);
        var row = document.createElement("div");
        var sw = document.createElement("span");
        sw.className = "swatch"; sw.style.background = s.color;
        row.appendChild(sw);
        row.appendChild(document.createTextNode(s.label + ": " + n.p[3]));
        tip.appendChild(row);
      });
      guide.setAttribute("x1", col.p[0]); guide.setAttribute("x2", col.p[0]);
      guide.setAttribute("visibility", "visible");
      tip.hidden = false;
      var px = col.p[0] / width * chart.clientWidth;
      var room = box.clientWidth - tip.offsetWidth - 4;
      var left = px < box.clientWidth / 2 ? px + 12 : px - tip.offsetWidth - 12;
      tip.style.left = Math.max(0, Math.min(room, left)) + "px";
    }
    chart.addEventListener("pointermove", move);
    chart.addEventListener("pointerdown", move);
    chart.addEventListener("pointerleave", hide);
  });
})();
"""
