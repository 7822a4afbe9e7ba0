/* The equity explorer: a form that POSTs to /equity/{exposure,access}, then draws a choropleth,
   tables, an RR chart with intervals, method and provenance. The query string holds the question. */
"use strict";
(function () {
  var OPTIONS = JSON.parse(document.getElementById("explorer-options").textContent);
  var form = document.getElementById("explorer");
  var status = document.getElementById("status");
  var METRICS = {
    exposure: [["rate_per_1000", "Exposed per 1,000"], ["rr", "Rate ratio (RR) to reference"],
               ["exposed", "Exposed people"], ["population", "Population"]],
    access: [["mean_km", "Mean distance to nearest (km)"], ["share_within", "Share within distance"],
             ["access_per_1000", "2SFCA access per 1,000"], ["mean_km_ratio", "Distance ratio to reference"],
             ["access_ratio", "Access ratio to reference"]]
  };
  var COLUMNS = {
    exposure: [["population", "Population", 0], ["exposed", "Exposed", 0], ["rate_per_1000", "Per 1,000", 1],
               ["rr", "RR", 2], ["rr_low", "RR low", 2], ["rr_high", "RR high", 2], ["rd_per_1000", "RD per 1,000", 1]],
    access: [["population", "Population", 0], ["mean_km", "Mean km", 2], ["p50_km", "Median km", 2],
             ["p90_km", "P90 km", 2], ["share_within", "Share within", 3], ["access_per_1000", "Access per 1,000", 4],
             ["mean_km_ratio", "Distance ratio", 2], ["access_ratio", "Access ratio", 2]]
  };
  var RATIO = {exposure: ["rr", "rr_low", "rr_high"], access: ["mean_km_ratio", null, null]};
  var COLOURS = ["#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d"];
  var state = {answer: null, geojson: null, body: null, question: null};
  var emap = null, choropleth = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function question() { return form.querySelector("input[name=question]:checked").value; }
  function population() {
    var id = form.population.value;
    return OPTIONS.populations.filter(function (p) { return p.id === id; })[0] || {groups: []};
  }

  function fillGroups(chosen, reference) {
    var boxes = document.getElementById("group-boxes"), ref = form.reference;
    boxes.textContent = ""; ref.textContent = "";
    population().groups.forEach(function (g) {
      var label = el("label"), box = el("input", {type: "checkbox", name: "groups", value: g.id});
      box.checked = chosen ? chosen.indexOf(g.id) >= 0 : true;
      label.appendChild(box); label.appendChild(document.createTextNode(" " + g.label));
      boxes.appendChild(label);
      ref.appendChild(el("option", {value: g.id}, g.label));
    });
    ref.appendChild(el("option", {value: "rest"}, "Everyone else (rest)"));
    ref.appendChild(el("option", {value: "total"}, "Total population"));
    ref.value = reference || (population().groups.some(function (g) { return g.id === "nh_white"; }) ? "nh_white" : "total");
  }

  function showQuestion() {
    var q = question();
    form.querySelectorAll("[data-for]").forEach(function (node) { node.hidden = node.dataset.for !== q; });
  }

  /* The request body of the form, and the same question as query-string parameters. */
  function request() {
    var q = question(), body = {population: form.population.value, reference: form.reference.value};
    var groups = Array.prototype.map.call(form.querySelectorAll("input[name=groups]:checked"), function (b) { return b.value; });
    if (groups.length) { body.groups = groups; }
    if (form.places.value) { body.places = form.places.value; }
    if (q === "exposure") {
      body.hazard = {collection: form.hazard.value};
      if (form.filter.value.trim()) { body.hazard.filter = form.filter.value.trim(); }
    } else {
      body.facilities = form.facilities.value;
      body.within_km = Number(form.within_km.value);
      body.catchment_km = Number(form.catchment_km.value);
    }
    var params = new URLSearchParams({question: q, population: body.population, reference: body.reference,
                                      places: form.places.value, groups: groups.join(",")});
    if (q === "exposure") { params.set("hazard", form.hazard.value); params.set("filter", form.filter.value); }
    else { ["facilities", "within_km", "catchment_km"].forEach(function (n) { params.set(n, form[n].value); }); }
    return {question: q, body: body, params: params};
  }

  function restore(params) {
    var q = params.get("question");
    if (q) { form.querySelector("input[name=question][value=" + (q === "access" ? "access" : "exposure") + "]").checked = true; }
    ["hazard", "filter", "facilities", "within_km", "catchment_km", "population", "places"].forEach(function (n) {
      if (params.has(n)) { form[n].value = params.get(n); }
    });
    var groups = params.has("groups") ? params.get("groups").split(",").filter(Boolean) : null;
    fillGroups(groups, params.get("reference"));
    showQuestion();
    return Boolean(q);
  }

  function post(q, body, f) {
    return fetch("/equity/" + q + "?f=" + f, {method: "POST", headers: {"Content-Type": "application/json"},
                                               body: JSON.stringify(body)}).then(function (r) {
      if (r.ok) { return f === "json" || f === "geojson" ? r.json() : r.text(); }
      return r.json().then(function (e) { throw new Error(e.description || e.detail || r.statusText); },
                           function () { throw new Error(r.status + " " + r.statusText); });
    });
  }

  function run() {
    var req = request();
    history.replaceState(null, "", "?" + req.params.toString());
    status.textContent = "Running the " + req.question + " question…";
    form.querySelector("button[type=submit]").disabled = true;
    Promise.all([post(req.question, req.body, "json"), post(req.question, req.body, "geojson")]).then(function (both) {
      state = {answer: both[0], geojson: both[1], body: req.body, question: req.question};
      render();
      status.textContent = "Done: " + both[0].results.length + " rows. Result hash " + both[0].provenance.result_hash + ".";
      document.body.dataset.explorer = "done";
    }).catch(function (err) {
      status.textContent = "The service refused the question: " + err.message;
      document.body.dataset.explorer = "error";
    }).then(function () { form.querySelector("button[type=submit]").disabled = false; });
  }

  function reasons() { return (state.answer.protections || {}).reason_codes || {}; }
  function isRatio(metric) { return /rr$|_ratio$/.test(metric); }

  /* A table cell: the value, or "withheld" with the reason code in its title. */
  function cell(row, key, digits) {
    var td = el("td", {"data-key": key});
    var value = row[key], reason = row[key + "_suppressed"];
    if (value === null || value === undefined) {
      if (reason) {
        td.className = "withheld";
        td.title = reason + ": " + (reasons()[reason] || "withheld");
        td.dataset.reason = reason;
        td.textContent = "withheld";
      } else { td.textContent = "–"; }
      return td;
    }
    td.dataset.value = String(value);
    td.textContent = typeof value === "number" ? value.toLocaleString("en-US", {maximumFractionDigits: digits, minimumFractionDigits: digits}) : String(value);
    return td;
  }

  function table(id, rows, first) {
    var t = document.getElementById(id), cols = COLUMNS[state.question];
    t.textContent = "";
    var head = el("tr");
    head.appendChild(el("th", {scope: "col"}, first[1]));
    cols.forEach(function (c) { head.appendChild(el("th", {scope: "col"}, c[1])); });
    t.appendChild(el("thead")).appendChild(head);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (row) {
      var tr = el("tr", {"data-place": row.place_id, "data-group": row.group});
      tr.appendChild(el("th", {scope: "row"}, row[first[0]]));
      cols.forEach(function (c) { tr.appendChild(cell(row, c[0], c[2])); });
      body.appendChild(tr);
    });
  }

  function overallRows() {
    var rows = state.answer.results, ids = {};
    rows.forEach(function (r) { ids[r.place_id] = true; });
    var overall = "_all" in ids ? "_all" : Object.keys(ids)[0];
    return rows.filter(function (r) { return r.place_id === overall; });
  }

  function chart() {
    var box = document.getElementById("chart"), keys = RATIO[state.question];
    var ref = state.body.reference, rows = overallRows().filter(function (r) { return r.group !== ref && r.group !== "total"; });
    var W = 420, rowH = 34, left = 200, right = 20, top = 24, H = top + rows.length * rowH + 30;
    var values = [1];
    rows.forEach(function (r) { [keys[0], keys[1], keys[2]].forEach(function (k) { if (k && r[k] != null) { values.push(r[k]); } }); });
    var lo = Math.min.apply(null, values) * 0.9, hi = Math.max.apply(null, values) * 1.1;
    var x = function (v) { return left + (v - lo) / (hi - lo || 1) * (W - left - right); };
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    var label = (state.question === "exposure" ? "Rate ratio (RR)" : "Distance ratio") + " by group, reference " + ref;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("role", "img"); svg.setAttribute("aria-labelledby", "chart-title");
    function add(tag, attrs, text) {
      var n = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text !== undefined) { n.textContent = text; }
      svg.appendChild(n); return n;
    }
    var summary = rows.map(function (r) {
      var v = r[keys[0]];
      return r.group_label + ": " + (v == null ? "withheld" : v.toFixed(2) + (keys[1] && r[keys[1]] != null ? " (" + r[keys[1]].toFixed(2) + "–" + r[keys[2]].toFixed(2) + ")" : ""));
    }).join("; ");
    add("title", {id: "chart-title"}, label + ". " + summary);
    add("line", {x1: x(1), x2: x(1), y1: top - 8, y2: H - 24, stroke: "#555", "stroke-dasharray": "4 3"});
    add("text", {x: x(1), y: top - 10, "text-anchor": "middle", "font-size": 11, fill: "#333"}, "1 = same as reference");
    rows.forEach(function (r, i) {
      var y = top + i * rowH + rowH / 2, v = r[keys[0]];
      add("text", {x: left - 8, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#222"}, r.group_label);
      if (v == null) { add("text", {x: left + 4, y: y + 4, "font-size": 12, fill: "#444"}, "withheld"); return; }
      if (keys[1] && r[keys[1]] != null && r[keys[2]] != null) {
        add("line", {x1: x(r[keys[1]]), x2: x(r[keys[2]]), y1: y, y2: y, stroke: "#045a8d", "stroke-width": 2});
      }
      add("circle", {cx: x(v), cy: y, r: 5, fill: "#045a8d", "data-group": r.group, "data-value": v});
      add("text", {x: x(v) + 8, y: y - 7, "font-size": 11, fill: "#222"}, v.toFixed(2));
    });
    [lo, hi].forEach(function (v, i) {
      add("text", {x: x(v), y: H - 8, "text-anchor": i ? "end" : "start", "font-size": 10, fill: "#333"}, v.toFixed(2));
    });
    box.textContent = ""; box.appendChild(svg);
  }

  function quantileBreaks(values) {
    var sorted = values.slice().sort(function (a, b) { return a - b; }), breaks = [];
    for (var i = 1; i < COLOURS.length; i++) {
      var b = sorted[Math.floor(i * (sorted.length - 1) / COLOURS.length)];
      if (b < sorted[sorted.length - 1] && (!breaks.length || b > breaks[breaks.length - 1])) { breaks.push(b); }
    }
    return breaks;
  }

  function drawMap() {
    var group = document.getElementById("map-group").value, metric = document.getElementById("map-metric").value;
    var key = group + "_" + metric, features = state.geojson.features;
    var values = features.map(function (f) { return f.properties[key]; }).filter(function (v) { return v != null; });
    var breaks = quantileBreaks(values.length ? values : [0]);
    var classes = breaks.length + 1;
    function shade(i) { return COLOURS[classes > 1 ? Math.round(i * (COLOURS.length - 1) / (classes - 1)) : COLOURS.length - 1]; }
    function colour(v) { var i = 0; while (i < breaks.length && v > breaks[i]) { i++; } return shade(i); }
    if (!emap) {
      emap = GeosvcMap.create(document.getElementById("emap"), null);
      GeosvcMap.basemap(emap);
    }
    if (choropleth) { emap.removeLayer(choropleth); }
    choropleth = L.geoJSON(state.geojson, {
      style: function (f) {
        var v = f.properties[key];
        return v == null ? {fillColor: "url(#withheld-hatch)", fillOpacity: 1, color: "#444", weight: 0.6, className: "withheld-place"}
                         : {fillColor: colour(v), fillOpacity: 0.85, color: "#333", weight: 0.6};
      },
      onEachFeature: function (f, layer) {
        var v = f.properties[key], reason = f.properties[key + "_suppressed"];
        layer.bindTooltip((f.properties.place_name || f.id) + ": " + (v == null ? "withheld" + (reason ? " (" + reason + ")" : "") : v.toLocaleString("en-US", {maximumFractionDigits: 2})));
      }
    }).addTo(emap);
    if (features.length) { emap.fitBounds(choropleth.getBounds()); }
    var legend = document.getElementById("legend"), label = document.getElementById("map-metric").selectedOptions[0].textContent;
    legend.textContent = "";
    legend.appendChild(el("p", {}, label + " — " + document.getElementById("map-group").selectedOptions[0].textContent));
    var list = legend.appendChild(el("ul"));
    COLOURS.slice(0, classes).forEach(function (unused, i) {
      var c = shade(i), li = list.appendChild(el("li")), lo = i ? breaks[i - 1] : Math.min.apply(null, values.length ? values : [0]);
      li.appendChild(el("span", {class: "swatch", style: "background:" + c}));
      li.appendChild(document.createTextNode((i ? "> " : "≥ ") + Number(lo).toLocaleString("en-US", {maximumFractionDigits: 2})));
    });
    var w = list.appendChild(el("li"));
    w.appendChild(el("span", {class: "swatch withheld-chip"}));
    w.appendChild(document.createTextNode("withheld"));
  }

  function mapControls() {
    var groupSel = document.getElementById("map-group"), metricSel = document.getElementById("map-metric");
    var previous = groupSel.value, previousMetric = metricSel.value;
    groupSel.textContent = ""; metricSel.textContent = "";
    var seen = {};
    state.answer.results.forEach(function (r) {
      if (!seen[r.group]) { seen[r.group] = true; groupSel.appendChild(el("option", {value: r.group}, r.group_label)); }
    });
    var firstOther = Object.keys(seen).filter(function (g) { return g !== "total" && g !== state.body.reference; })[0];
    groupSel.value = seen[previous] ? previous : (firstOther || "total");
    METRICS[state.question].forEach(function (m) { metricSel.appendChild(el("option", {value: m[0]}, m[1])); });
    if (METRICS[state.question].some(function (m) { return m[0] === previousMetric; })) { metricSel.value = previousMetric; }
  }

  function method() {
    var box = document.getElementById("method"), a = state.answer;
    box.textContent = "";
    var dl = box.appendChild(el("dl", {class: "facts"}));
    Object.keys(a.method).forEach(function (k) {
      var v = a.method[k];
      dl.appendChild(el("dt", {}, k.replace(/_/g, " ")));
      dl.appendChild(el("dd", {}, Array.isArray(v) ? v.join("; ") : (typeof v === "object" ? JSON.stringify(v) : String(v))));
    });
    dl.appendChild(el("dt", {}, "disclosure control"));
    var p = a.protections;
    dl.appendChild(el("dd", {}, "k = " + p.k + "; applied: " + (p.applied || []).join(", ") + "; withheld: " +
      Object.keys(p.withheld || {}).map(function (k) { return k + " " + p.withheld[k]; }).join(", ")));
    dl.appendChild(el("dt", {}, "inputs"));
    dl.appendChild(el("dd", {}, a.provenance.layers.map(function (l) { return l.role + " " + l.id + " v" + l.version + " (sha256 " + l.checksum.slice(0, 12) + "…)"; }).join("; ")));
    dl.appendChild(el("dt", {}, "software"));
    dl.appendChild(el("dd", {}, "geosvc " + a.provenance.software.geosvc + "; areas and distances in " + (a.provenance.crs.areas_and_distances || "")));
    dl.appendChild(el("dt", {}, "result hash"));
    dl.appendChild(el("dd", {}, a.provenance.result_hash));
  }

  function render() {
    document.getElementById("results").hidden = false;
    mapControls();
    drawMap();
    chart();
    table("overall-table", overallRows(), ["group_label", "Group"]);
    var group = document.getElementById("map-group").value;
    var overall = overallRows()[0].place_id;
    table("places-table", state.answer.results.filter(function (r) { return r.group === group && r.place_id !== overall; }), ["place_name", "Place"]);
    document.getElementById("places-h").textContent = "By place: " + document.getElementById("map-group").selectedOptions[0].textContent;
    method();
  }

  function download(f, extension, type) {
    var ready = f === "geojson" ? Promise.resolve(JSON.stringify(state.geojson)) : post(state.question, state.body, f);
    ready.then(function (text) {
      var link = document.getElementById("dl-link");
      link.href = URL.createObjectURL(new Blob([text], {type: type}));
      link.download = "equity-" + state.question + "." + extension;
      link.click();
      status.textContent = "Downloaded equity-" + state.question + "." + extension + ".";
    }).catch(function (err) { status.textContent = "Download failed: " + err.message; });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
  form.querySelectorAll("input[name=question]").forEach(function (r) { r.addEventListener("change", showQuestion); });
  form.population.addEventListener("change", function () { fillGroups(null, null); });
  document.getElementById("map-group").addEventListener("change", function () { render(); });
  document.getElementById("map-metric").addEventListener("change", drawMap);
  document.getElementById("dl-csv").addEventListener("click", function () { download("csv", "csv", "text/csv"); });
  document.getElementById("dl-geojson").addEventListener("click", function () { download("geojson", "geojson", "application/geo+json"); });
  if (restore(new URLSearchParams(location.search))) { run(); }
})();
