/* Maps of the portal: the state's town outlines as basemap and a layer on top, all from this host.
   Vector tiles (MVT) when the collection serves them, else its GeoJSON items. */
"use strict";
var GeosvcMap = (function () {
  // The ONE place the vector-tile URL is written (Leaflet fills {z}/{x}/{y}).
  var TILE_URL = "/ogc/collections/{collection}/tiles/WebMercatorQuad/{z}/{y}/{x}";
  var BASEMAP = "ct-towns";
  var ITEM_LIMIT = 5000;
  var probes = {};

  function tileUrl(collection) { return TILE_URL.replace("{collection}", encodeURIComponent(collection)); }

  function hasTiles(collection) {
    if (!(collection in probes)) {
      var url = tileUrl(collection).replace("{z}", "0").replace("{y}", "0").replace("{x}", "0");
      probes[collection] = fetch(url).then(function (r) { return r.ok; }, function () { return false; });
    }
    return probes[collection];
  }

  function create(el, bbox) {
    var map = L.map(el, {preferCanvas: false, zoomSnap: 0.25, attributionControl: true});
    map.attributionControl.setPrefix(false);
    if (bbox) { map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]]); } else { map.setView([41.6, -72.7], 8); }
    return map;
  }

  function pointStyle(style) {
    return function (feature, latlng) { return L.circleMarker(latlng, Object.assign({radius: 4}, style)); };
  }

  /* Add `collection` to `map` with `style`; resolves to the Leaflet layer (null if nothing answers). */
  function overlay(map, collection, style, bbox) {
    return hasTiles(collection).then(function (tiles) {
      var drawn = map.getContainer().dataset;  // which source drew each collection, e.g. "ct-towns:tiles"
      drawn.sources = (drawn.sources ? drawn.sources + " " : "") + collection + ":" + (tiles ? "tiles" : "items");
      if (tiles) {
        var styles = {}; styles[collection] = style;
        return L.vectorGrid.protobuf(tileUrl(collection), {
          rendererFactory: L.svg.tile, vectorTileLayerStyles: styles, interactive: false, maxNativeZoom: 14
        }).addTo(map);
      }
      var url = "/ogc/collections/" + encodeURIComponent(collection) + "/items?f=json&limit=" + ITEM_LIMIT;
      if (bbox) { url += "&bbox=" + bbox.join(","); }
      return fetch(url, {headers: {Accept: "application/geo+json"}}).then(function (r) {
        if (!r.ok) { return null; }
        return r.json().then(function (fc) {
          return L.geoJSON(fc, {style: style, pointToLayer: pointStyle(style), interactive: false}).addTo(map);
        });
      });
    }).catch(function () { return null; });
  }

  function basemap(map) {
    return overlay(map, BASEMAP, {color: "#7a7a7a", weight: 0.8, fill: false, opacity: 0.9});
  }

  return {TILE_URL: TILE_URL, create: create, overlay: overlay, basemap: basemap};
})();
