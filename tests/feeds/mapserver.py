"""Debian's MapServer (``mapserv``, package cgi-mapserver) as a real WFS 2 upstream: a mapfile over a
generated shapefile, run as CGI behind a small threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
from upstream import threaded_server

CONFIG = """CONFIG
  ENV
    MS_MAPFILE "{mapfile}"
  END
END
"""
MAPFILE = """MAP
  NAME "feeds"
  EXTENT {minx} {miny} {maxx} {maxy}
  PROJECTION "init=epsg:{epsg}" END
  WEB
    METADATA
      "wfs_title" "feeds test"
      "wfs_onlineresource" "{url}?"
      "wfs_srs" "EPSG:{epsg}"
      "wfs_enable_request" "*"
      "wfs_maxfeatures" "1000"
    END
  END
  LAYER
    NAME "{name}"
    TYPE POINT
    STATUS ON
    DATA "{data}"
    PROJECTION "init=epsg:{epsg}" END
    METADATA
      "wfs_title" "{name}"
      "wfs_srs" "EPSG:{epsg}"
      "gml_include_items" "all"
      "gml_featureid" "id"
      "gml_types" "auto"
      "wfs_use_default_extent_for_getfeature" "false"
    END
  END
END
"""


def write_layer(folder: Path, name: str, frame: gpd.GeoDataFrame) -> None:
    """(Re)write the shapefile MapServer serves: the next WFS request sees the new features."""
    frame.to_file(folder / f"{name}.shp", driver="ESRI Shapefile")


@contextlib.contextmanager
def mapserver(folder: Path, name: str, frame: gpd.GeoDataFrame) -> Iterator[str]:
    """Serve ``frame`` as WFS feature type ``name``; yields the service URL."""
    mapserv = shutil.which("mapserv")
    if mapserv is None:
        import pytest

        pytest.skip("mapserv is not installed (bash scripts/setup.sh --test installs cgi-mapserver)")
    write_layer(folder, name, frame)
    mapfile, config = folder / "feeds.map", folder / "mapserver.conf"
    config.write_text(CONFIG.format(mapfile=mapfile))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            query = self.path.split("?", 1)[1] if "?" in self.path else ""
            env = {"PATH": os.environ.get("PATH", ""), "REQUEST_METHOD": "GET", "QUERY_STRING": query,
                   "MAPSERVER_CONFIG_FILE": str(config), "SERVER_NAME": "127.0.0.1",
                   "SCRIPT_NAME": "/wfs", "SERVER_PORT": str(port)}
            proc = subprocess.run([mapserv], env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            head, _, body = proc.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, body = proc.stdout.partition(b"\n\n")
            status, headers = 200, {}
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers[key.strip()] = value.strip()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with threaded_server(Handler) as server:
        port = server.server_address[1]
        url = f"http://127.0.0.1:{port}/wfs"
        minx, miny, maxx, maxy = frame.total_bounds
        mapfile.write_text(MAPFILE.format(minx=minx - 1000, miny=miny - 1000, maxx=maxx + 1000, maxy=maxy + 1000,
                                          epsg=frame.crs.to_epsg(), url=url, name=name, data=folder / name))
        yield url
