"""read_vector on the real sample data and on small generated files."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely

from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.sources import raster_path, read_vector
from geosvc.sources.location import locate

POINTS = gpd.GeoDataFrame(
    {"fid": [1, 2, 3], "name": ["Hartford", "New Haven", "Norwich"]},
    geometry=shapely.points([[-72.685, 41.764], [-72.925, 41.308], [-72.075, 41.524]]),
    crs="EPSG:4326",
)


def record(source: dict, **fields) -> LayerRecord:
    base = {"id": "sample", "title": "t", "theme": "testing", "update_cadence": "static", "source": source}
    return LayerRecord.model_validate(base | fields)


@pytest.fixture
def root(tmp_path):
    return tmp_path


@pytest.fixture
def local(root):
    return load_settings(data_root=root, store_dir=root / "store")


# --- the real bundle -------------------------------------------------------------------------------

def test_towns_shapefile(records, settings):
    result = read_vector(records["ct-towns"], settings)
    assert len(result.data) == 169
    assert result.data.crs.to_epsg() == 4269
    assert result.stats.crs_source == "file"
    assert result.stats.file_crs == "EPSG:4269"


def test_tracts_zip_with_join(records, settings):
    result = read_vector(records["ct-tracts-2010"], settings)
    frame, join = result.data, result.stats.join
    assert len(frame) == 833  # duplicated table keys must not duplicate features
    assert frame["GEOID10"].is_unique
    assert join.matched == 833 and join.left_unmatched == 0 and join.right_unmatched == 0
    assert join.right_duplicated == 2
    assert set(join.right_duplicated_examples) == {"09011702600", "09011980000"}
    assert join.right_rows_dropped == 2 and join.right_conflicting == 0
    # the fullest row of a duplicated key is the one kept; 'na' became missing
    kept = frame.set_index("GEOID10").loc["09011702600", "Tot_Population_ACS_12_16"]
    assert kept > 0
    assert frame["Tot_Population_ACS_12_16"].dtype.kind in "if"


def test_csv_points_drop_and_count_blank_rows(records, settings):
    result = read_vector(records["ct-public-schools-csv"], settings)
    points = result.stats.points
    assert result.stats.rows == 1246
    assert points.blank == 40 and points.unparsable == 0
    assert len(result.data) == 1246 - 40
    assert result.stats.crs_source == "assume_crs" and result.stats.file_crs is None
    assert result.data.crs.to_epsg() == 4326
    assert len(points.blank_examples) == 5


def test_national_zip_keeps_native_crs(records, settings):
    result = read_vector(records["ct-hospitals"], settings)
    assert len(result.data) == 7596
    assert result.data.crs.to_epsg() == 3857


def test_multi_layer_gpkg_named_layer(records, settings):
    result = read_vector(records["ct-tracts-2020"], settings)
    assert len(result.data) == 879
    assert result.stats.layer == "tracts_2020"


def test_topojson_with_assumed_crs(settings):
    rec = record({"path": "town_indicators/towns_topo.json", "assume_crs": "OGC:CRS84"})
    result = read_vector(rec, settings)
    assert len(result.data) == 169
    assert result.stats.file_crs is None and result.stats.crs_source == "assume_crs"
    assert result.data.crs.to_authority() == ("OGC", "CRS84")


def test_topojson_without_crs_reads_with_none(settings):
    result = read_vector(record({"path": "town_indicators/towns_topo.json"}), settings)
    assert result.data.crs is None and result.stats.crs_source is None


# --- generated files -------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".fgb", ".geojson", ".gpkg", ".shp"])
def test_formats_roundtrip(root, local, suffix):
    pyogrio.write_dataframe(POINTS, root / f"p{suffix}")
    result = read_vector(record({"path": f"p{suffix}"}), local)
    assert sorted(result.data["name"]) == sorted(POINTS["name"])  # FlatGeobuf reorders by its index
    assert result.data.crs.to_epsg() == 4326


def test_zip_named_layer_and_missing_layer(root, local):
    pyogrio.write_dataframe(POINTS, root / "a.shp")
    pyogrio.write_dataframe(POINTS.head(2), root / "b.geojson")
    with zipfile.ZipFile(root / "two.zip", "w") as zf:
        for part in ("a.shp", "a.shx", "a.dbf", "a.prj", "b.geojson"):
            zf.write(root / part, f"inner/{part}")
    assert len(read_vector(record({"path": "two.zip", "layer": "b"}), local).data) == 2
    assert len(read_vector(record({"path": "two.zip", "layer": "a.shp"}), local).data) == 3
    with pytest.raises(SourceError) as missing:
        read_vector(record({"path": "two.zip", "layer": "c"}), local)
    assert missing.value.code == "source.zip_layer_missing" and missing.value.layer == "sample"
    with pytest.raises(SourceError) as ambiguous:
        read_vector(record({"path": "two.zip"}), local)
    assert ambiguous.value.code == "source.zip_layer_missing"


def test_gpkg_layers(root, local):
    pyogrio.write_dataframe(POINTS, root / "m.gpkg", layer="one")
    pyogrio.write_dataframe(POINTS.head(1), root / "m.gpkg", layer="two")
    assert len(read_vector(record({"path": "m.gpkg", "layer": "two"}), local).data) == 1
    for source in ({"path": "m.gpkg"}, {"path": "m.gpkg", "layer": "three"}):
        with pytest.raises(SourceError) as exc:
            read_vector(record(source), local)
        assert exc.value.code == "source.layer_missing"


def test_csv_unparsable_coordinates(root, local):
    (root / "p.csv").write_text("id,x,y\n1,-72.6,41.7\n2,,41.2\n3,abc,41.3\n4,-72.1,41.5\n")
    result = read_vector(record({"path": "p.csv", "csv": {"x": "x", "y": "y"}, "assume_crs": "EPSG:4326"}, id_field="id"), local)
    assert list(result.data["id"]) == [1, 4]
    assert result.stats.points.blank == 1 and result.stats.points.blank_examples == ("2",)
    assert result.stats.points.unparsable == 1 and result.stats.points.unparsable_examples == ("3",)


def test_join_statistics_and_na_values(root, local):
    pyogrio.write_dataframe(POINTS.assign(code=["01", "02", "03"]), root / "p.gpkg")
    (root / "t.csv").write_text("code,pop\n01,10\n02,n/a\n02,20\n02,21\n09,90\n")
    join = {"path": "t.csv", "left_key": "code", "right_key": "code", "na_values": ["n/a"]}
    result = read_vector(record({"path": "p.gpkg"}, join=join), local)
    stats = result.stats.join
    assert stats.matched == 2 and stats.left_unmatched == 1 and stats.left_unmatched_examples == ("03",)
    assert stats.right_unmatched == 1 and stats.right_unmatched_examples == ("09",)
    assert stats.right_duplicated == 1 and stats.right_rows_dropped == 2
    assert stats.right_conflicting == 1 and stats.right_conflicting_examples == ("02",)
    assert result.data.set_index("code").loc["01", "pop"] == 10
    assert len(result.data) == 3


@pytest.mark.parametrize(
    ("join", "code"),
    [
        ({"path": "none.csv", "left_key": "fid", "right_key": "fid"}, "join.missing"),
        ({"path": "t.csv", "left_key": "nope", "right_key": "fid"}, "join.key_missing"),
        ({"path": "t.csv", "left_key": "fid", "right_key": "nope"}, "join.key_missing"),
    ],
)
def test_join_errors(root, local, join, code):
    pyogrio.write_dataframe(POINTS, root / "p.gpkg")
    (root / "t.csv").write_text("fid,pop\n1,10\n")
    with pytest.raises(SourceError) as exc:
        read_vector(record({"path": "p.gpkg"}, join=join), local)
    assert exc.value.code == code


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("gone.shp", None, "source.missing"),
        ("zero.geojson", b"", "source.empty"),
        ("bad.geojson", b"{not json", "source.corrupt"),
        ("bad.zip", b"PK\x03\x04 nope", "source.corrupt"),
        ("thing.xyz", b"1 2 3\n", "source.unknown_format"),
        ("empty.geojson", b'{"type":"FeatureCollection","features":[]}', "source.empty"),
    ],
)
def test_source_errors(root, local, name, content, code):
    if content is not None:
        (root / name).write_bytes(content)
    with pytest.raises(SourceError) as exc:
        read_vector(record({"path": name}), local)
    assert exc.value.code == code
    assert exc.value.layer == "sample"
    assert "\n" not in str(exc.value)


def test_csv_without_xy_options_has_no_geometry(root, local):
    (root / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError) as exc:
        read_vector(record({"path": "t.csv"}), local)
    assert exc.value.code == "source.no_geometry"


def test_unknown_assumed_crs(root, local):
    (root / "p.csv").write_text("x,y\n-72.6,41.7\n")
    with pytest.raises(SourceError) as exc:
        read_vector(record({"path": "p.csv", "csv": {"x": "x", "y": "y"}, "assume_crs": "EPSG:999999"}), local)
    assert exc.value.code == "crs.unknown"


def test_url_and_raster_paths(root, local):
    url = record({"url": "https://example.org/data/layer.zip", "layer": "roads.shp"})
    assert locate(url, local).gdal_path == "/vsizip//vsicurl/https://example.org/data/layer.zip/roads.shp"
    assert locate(record({"url": "https://example.org/a.fgb"}), local).gdal_path == "/vsicurl/https://example.org/a.fgb"
    (root / "grid.tif").write_bytes(b"II*\x00")
    assert raster_path(record({"path": "grid.tif"}, kind="raster"), local) == str(root / "grid.tif")
    with pytest.raises(SourceError) as exc:
        raster_path(record({"path": "none.tif"}, kind="raster"), local)
    assert exc.value.code == "source.missing"
