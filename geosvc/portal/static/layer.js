/* The layer page: map preview and the download list (shown only when /downloads answers). */
"use strict";
(function () {
  var el = document.getElementById("map");
  var bbox = JSON.parse(el.dataset.bbox);
  var map = GeosvcMap.create(el, bbox);
  GeosvcMap.basemap(map).then(function () {
    var style = {color: "#1f5fbf", weight: 1.2, fillColor: "#3d7fe0", fillOpacity: 0.25, radius: 4};
    if (el.dataset.kind === "raster") {
      L.rectangle([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], style).addTo(map);
    } else {
      GeosvcMap.overlay(map, el.dataset.collection, style, bbox);
    }
  });

  var section = document.getElementById("downloads");
  fetch(section.dataset.url, {headers: {Accept: "application/json"}}).then(function (r) {
    if (!r.ok) { return; }
    return r.json().then(function (doc) {
      var links = (doc.downloads || doc.links || []).filter(function (l) { return l.href && l.rel !== "self"; });
      if (!links.length) { return; }
      var list = document.getElementById("download-list");
      links.forEach(function (l) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = l.href; a.textContent = l.title || l.format || l.type || l.href;
        li.appendChild(a); list.appendChild(li);
      });
      section.hidden = false;
    });
  }).catch(function () {}).then(function () { section.dataset.checked = "yes"; });
})();
