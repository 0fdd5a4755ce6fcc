"""Write a sample Town (and the lookup tables) as one GeoPackage, via osgeo.ogr.

One layer per IMIS table, named with the bare table name (``buildings``,
``containments``, ``structure_types``, ...), same column names as PostGIS. Geometry
column ``geom`` in EPSG:4326 with a spatial index; non-spatial tables are attribute
tables. OGR types: integer/bigint -> Integer/Integer64, numeric and double -> Real,
boolean -> Integer with the Boolean subtype, date -> Date, timestamp -> DateTime,
text -> String. The IMIS key columns are ordinary columns beside the GeoPackage ``fid``.
"""
import os

from osgeo import ogr, osr

from .lookups import LOOKUPS
from .tables import GEOMETRY_KINDS, LOOKUP_KINDS, TABLES

_OGR_TYPE = {
    "int": (ogr.OFTInteger, None), "bigint": (ogr.OFTInteger64, None), "text": (ogr.OFTString, None),
    "numeric": (ogr.OFTReal, None), "float": (ogr.OFTReal, None), "bool": (ogr.OFTInteger, ogr.OFSTBoolean),
    "date": (ogr.OFTDate, None), "timestamp": (ogr.OFTDateTime, None),
}
_GEOM_TYPE = {"point": ogr.wkbPoint, "multipolygon": ogr.wkbMultiPolygon,
              "multilinestring": ogr.wkbMultiLineString}


def lookup_tables(town):
    """Lookup tables as {qualified name: (columns, kinds, rows)} with the town's overrides applied."""
    out = {}
    for name, spec in LOOKUPS.items():
        cols = list(spec["columns"])
        rows = [list(r) for r in spec["rows"]]
        ov = town.lookup_overrides.get(name)
        if ov:
            key = cols.index(ov["key"])
            by_key = {r[key]: r for r in rows}
            for o in ov["rows"]:
                if o[ov["key"]] in by_key:
                    for c, v in o.items():
                        by_key[o[ov["key"]]][cols.index(c)] = v
                else:
                    rows.append([o.get(c) for c in cols])
        kinds = [LOOKUP_KINDS[name][c] for c in cols]
        out[name] = (cols, kinds, [tuple(r) for r in rows])
    return out


def write_gpkg(town, path, verbose=False):
    """Write ``town`` to the GeoPackage ``path`` (replaced if it exists). Returns {layer: rows}."""
    path = str(path)
    if os.path.exists(path):
        os.remove(path)
    gdal_exc = ogr.GetUseExceptions()
    ogr.UseExceptions()
    try:
        drv = ogr.GetDriverByName("GPKG")
        ds = drv.CreateDataSource(path)
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(4326)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        written = {}
        tables = [(name, cols, kinds, rows) for name, (cols, kinds, rows) in lookup_tables(town).items()]
        for name, table in town.tables.items():
            k = dict(TABLES[name])
            tables.append((name, table.columns, [k[c] for c in table.columns], table.rows))
        for name, cols, kinds, rows in tables:
            written[name.split(".", 1)[1]] = _write_layer(ds, srs, name.split(".", 1)[1], cols, kinds, rows)
            if verbose:
                print(f"  {name.split('.', 1)[1]:28s} {len(rows):8d} rows", flush=True)
        ds = None
    finally:
        if not gdal_exc:
            ogr.DontUseExceptions()
    return written


def _write_layer(ds, srs, name, cols, kinds, rows):
    geom_idx = [i for i, k in enumerate(kinds) if k in GEOMETRY_KINDS]
    if geom_idx:
        gi = geom_idx[0]
        layer = ds.CreateLayer(name, srs, _GEOM_TYPE[kinds[gi]],
                               options=["GEOMETRY_NAME=geom", "FID=fid", "SPATIAL_INDEX=YES"])
    else:
        gi = None
        layer = ds.CreateLayer(name, None, ogr.wkbNone, options=["FID=fid"])
    fields = []
    for i, (c, k) in enumerate(zip(cols, kinds)):
        if i == gi:
            continue
        t, sub = _OGR_TYPE[k]
        fd = ogr.FieldDefn(c, t)
        if sub is not None:
            fd.SetSubType(sub)
        layer.CreateField(fd)
        fields.append((i, layer.GetLayerDefn().GetFieldIndex(c), k))
    defn = layer.GetLayerDefn()
    layer.StartTransaction()
    for row in rows:
        f = ogr.Feature(defn)
        for i, fi, k in fields:
            v = row[i]
            if v is None:
                f.SetFieldNull(fi)
            elif k == "bool":
                f.SetField(fi, 1 if v else 0)
            elif k in ("int", "bigint"):
                f.SetField(fi, int(v))
            elif k in ("numeric", "float"):
                f.SetField(fi, float(v))
            else:
                f.SetField(fi, str(v))
        if gi is not None and row[gi] is not None:
            f.SetGeometryDirectly(ogr.CreateGeometryFromWkt(row[gi]))
        layer.CreateFeature(f)
    layer.CommitTransaction()
    return len(rows)
