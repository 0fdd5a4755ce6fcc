"""Stand-in for `imis:waterbodybuffer` until it lands on main (council map tests only).

Builds the five result layers the council map reads, from an IMIS GeoPackage, the plain
way: rivers reprojected to their UTM zone, buffered by the distance, buildings whose
footprint intersects the zone, containments linked to them, and the IMIS summary tables
(ANALYSES.md §4 and §6.7). Field names follow the interface of issue 3.
"""
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeature, QgsFeatureRequest,
                       QgsField, QgsGeometry, QgsProject, QgsVectorLayer)
from qgis.core import NULL
from qgis.PyQt.QtCore import QVariant

SANITATION_HEADERS = ["Sewer Network", "Drain Network", "Septic Tank", "Pit / Holding Tank", "Onsite Treatment",
                      "Composting Toilet", "Water Body", "Open Ground", "Community Toilet", "Open Defecation"]


def _table(gpkg, name):
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    assert layer.isValid(), name
    return layer


def _live(features):
    # Filtered here rather than with subset strings (see owned_layers.py on GeoPackage filters).
    return [f for f in features if f.fields().lookupField("deleted_at") < 0 or f["deleted_at"] in (None, NULL)]


def _rows(gpkg, name):
    return _live(_table(gpkg, name).getFeatures())


def _memory(uri, name, fields):
    layer = QgsVectorLayer(uri, name, "memory")
    layer.dataProvider().addAttributes([QgsField(n, t) for n, t in fields])
    layer.updateFields()
    return layer


def _key(value):
    return None if value in (None, NULL) else value


def run(gpkg, distance=100.0):
    """Dict of memory layers: zone, buildings, containments, summary, containment_summary."""
    wgs = QgsCoordinateReferenceSystem("EPSG:4326")
    rivers = [f for f in _rows(gpkg, "waterbodys") if str(f["type"] or "").strip().lower() == "river"]
    centre = QgsGeometry.unaryUnion([f.geometry() for f in rivers]).centroid().asPoint()
    utm = QgsCoordinateReferenceSystem(f"EPSG:{32600 + int((centre.x() + 180) // 6) + 1}")
    to_utm = QgsCoordinateTransform(wgs, utm, QgsProject.instance())
    river_geoms = []
    for f in rivers:
        g = QgsGeometry(f.geometry())
        g.transform(to_utm)
        river_geoms.append(g)
    zone_utm = QgsGeometry.unaryUnion(river_geoms).buffer(distance, 36)
    zone = QgsGeometry(zone_utm)
    zone.transform(to_utm, QgsCoordinateTransform.ReverseTransform)

    structure = {f["id"]: f["type"] for f in _rows(gpkg, "structure_types")}
    sanitation = {f["id"]: (f["sanitation_system"], bool(f["map_display"])) for f in _rows(gpkg, "sanitation_systems")}
    ctypes = {f["id"]: f["type"] for f in _rows(gpkg, "containment_types")}

    zone_layer = _memory("MultiPolygon?crs=EPSG:4326", "zone", [("distance_m", QVariant.Double),
                                                               ("method", QVariant.String),
                                                               ("waterbodies", QVariant.Int)])
    feature = QgsFeature(zone_layer.fields())
    feature.setGeometry(zone)
    feature.setAttributes([float(distance), "exact distance (zone drawn for display)", len(rivers)])
    zone_layer.dataProvider().addFeature(feature)

    buildings = _memory("MultiPolygon?crs=EPSG:4326", "buildings",
                        [("bin", QVariant.String), ("structure_type", QVariant.String),
                         ("sanitation_system", QVariant.String), ("distance_m", QVariant.Double)])
    request = QgsFeatureRequest().setFilterRect(zone.boundingBox())
    in_zone, rows = {}, {}
    engine = QgsGeometry.createGeometryEngine(zone_utm.constGet())
    engine.prepareGeometry()
    for f in _live(_table(gpkg, "buildings").getFeatures(request)):
        g = QgsGeometry(f.geometry())
        g.transform(to_utm)
        if not engine.intersects(g.constGet()):
            continue
        in_zone[f["bin"]] = f
        st = structure.get(_key(f["structure_type_id"]))
        ss = sanitation.get(_key(f["sanitation_system_id"]))
        out = QgsFeature(buildings.fields())
        out.setGeometry(f.geometry())
        out.setAttributes([f["bin"], st, ss[0] if ss else None,
                           min(g.distance(r) for r in river_geoms)])
        buildings.dataProvider().addFeature(out)
        if ss and ss[1]:  # the summary counts systems with map_display (§4.1)
            row = rows.setdefault(_key(f["structure_type_id"]), [0] * 11)
            row[0] += 1
            sid = f["sanitation_system_id"]
            if 1 <= sid <= 10:
                row[sid] += 1

    summary = _memory("None", "summary", [("Structure Type", QVariant.String), ("Buildings", QVariant.Int)]
                      + [(h, QVariant.Int) for h in SANITATION_HEADERS])
    ordered = sorted((k for k in rows if k is not None)) + ([None] if None in rows else [])
    total = [0] * 11
    for key in ordered:
        out = QgsFeature(summary.fields())
        out.setAttributes([structure.get(key, "") if key is not None else ""] + rows[key])
        summary.dataProvider().addFeature(out)
        total = [a + b for a, b in zip(total, rows[key])]
    out = QgsFeature(summary.fields())
    out.setAttributes(["Total"] + total)
    summary.dataProvider().addFeature(out)

    links = {}
    linked = set()
    for f in _rows(gpkg, "build_contains"):
        linked.add(f["containment_id"])
        if f["bin"] in in_zone:
            links.setdefault(f["containment_id"], f["bin"])
    containments = _memory("Point?crs=EPSG:4326", "containments", [("id", QVariant.String),
                                                                   ("containment_type", QVariant.String),
                                                                   ("bin", QVariant.String)])
    counts = {}
    for f in _rows(gpkg, "containments"):
        cid = f["id"]
        if cid not in links:
            if cid in linked:
                continue
            g = QgsGeometry(f.geometry())
            g.transform(to_utm)
            if not engine.intersects(g.constGet()):
                continue
        out = QgsFeature(containments.fields())
        out.setGeometry(f.geometry())
        out.setAttributes([cid, ctypes.get(f["type_id"]), links.get(cid)])
        containments.dataProvider().addFeature(out)
        counts[_key(f["type_id"])] = counts.get(_key(f["type_id"]), 0) + 1
    csummary = _memory("None", "containment_summary", [("Containment Type", QVariant.String),
                                                       ("Containments", QVariant.Int)])
    for key in sorted(k for k in counts if k is not None) + ([None] if None in counts else []):
        out = QgsFeature(csummary.fields())
        out.setAttributes([ctypes.get(key, "") if key is not None else "", counts[key]])
        csummary.dataProvider().addFeature(out)
    out = QgsFeature(csummary.fields())
    out.setAttributes(["Total", sum(counts.values())])
    csummary.dataProvider().addFeature(out)
    return {"zone": zone_layer, "buildings": buildings, "containments": containments, "summary": summary,
            "containment_summary": csummary}
