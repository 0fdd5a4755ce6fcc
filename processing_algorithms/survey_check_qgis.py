"""The survey checks with QGIS alone, for an IMIS GeoPackage (same rules as the PostGIS engine).

Runs in the algorithm's worker thread on its own read-only layers opened from the file
(never the project's layers). Areas are geodesic (QgsDistanceArea on WGS 84, the same
spheroid as PostGIS geography). Distances are measured on the spheroid between the two
closest points, found in the UTM zone of the data (a local metric projection, so the
closest points are right although the data are in degrees).
"""
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsRectangle,
    QgsSpatialIndex,
    QgsVectorLayer,
    QgsWkbTypes,
)

from .footprint_repair import geodesic_calculator
from .survey_check_catalog import UNLINKED_IN_SCOPE_NOTE, CheckRun

# GeoPackage table names are the bare IMIS names (docs/ARCHITECTURE.md).
NEEDS = {
    "FOOTPRINT_OUTSIDE_CITY": ("citypolys",),
    "WARD_MISMATCH": ("wards",),
    "CONTAINMENT_FAR": ("containments", "build_contains"),
    "CONTAINMENT_UNLINKED": ("containments", "build_contains"),
    "CONTAINMENT_MISSING": ("containments", "build_contains", "containment_types", "sanitation_systems"),
    "NETWORK_CODE_UNKNOWN": ("drains", "sewers", "water_supplys"),
    "NETWORK_CODE_DELETED": ("drains", "sewers", "water_supplys"),
    "NETWORK_CODE_FAR": ("drains", "sewers", "water_supplys"),
}
NETWORKS = (("drain_code", "drains"), ("sewer_code", "sewers"), ("watersupply_pipe_code", "water_supplys"))
BUILDING_FIELDS = ("bin", "ward", "estimated_area", "sanitation_system_id", "drain_code", "sewer_code",
                   "watersupply_pipe_code", "deleted_at")


def _value(value):
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    return value


def _wkb(geometry):
    return None if geometry is None or geometry.isNull() or geometry.isEmpty() else bytes(geometry.asWkb())


def _first_vertex(geometry):
    for vertex in geometry.vertices():
        return QgsGeometry.fromPointXY(QgsPointXY(vertex.x(), vertex.y()))
    return QgsGeometry()


def _polygons(geometry):
    """The polygonal part of an overlay result, as a MultiPolygon (or an empty geometry)."""
    if geometry.isNull() or geometry.isEmpty():
        return QgsGeometry()
    if QgsWkbTypes.flatType(geometry.wkbType()) == QgsWkbTypes.GeometryCollection:
        parts = [QgsGeometry(p.clone()) for p in geometry.constParts()
                 if QgsWkbTypes.geometryType(p.wkbType()) == QgsWkbTypes.PolygonGeometry]
        geometry = QgsGeometry.collectGeometry(parts) if parts else QgsGeometry()
    if geometry.isEmpty() or geometry.type() != QgsWkbTypes.PolygonGeometry:
        return QgsGeometry()
    geometry.convertToMultiType()
    return geometry


class Building:
    __slots__ = ("bin", "geom", "ward", "estimated", "system", "codes", "valid", "engine")

    def __init__(self, bin_, geom, ward, estimated, system, codes):
        self.bin, self.geom, self.ward, self.estimated, self.system, self.codes = (
            bin_, geom, ward, estimated, system, codes)
        self.valid = None
        self.engine = None

    @property
    def has_footprint(self):
        return self.geom is not None and not self.geom.isNull() and not self.geom.isEmpty()

    def marker(self):
        if not self.has_footprint:
            return QgsGeometry()
        return self.geom.pointOnSurface() if self.valid else _first_vertex(self.geom)


class QgisChecks(CheckRun):
    """Runs the chosen checks on the tables of an IMIS GeoPackage."""

    def __init__(self, gpkg_path, thresholds, scope=None, feedback=None, buildings_table="buildings"):
        super().__init__(thresholds, scope, feedback)
        self.path = gpkg_path
        self.buildings_table = buildings_table
        self.calc = geodesic_calculator()
        self._layers = {}
        self._to_utm = None
        self.buildings = {}

    # --- data --------------------------------------------------------------------------
    def layer(self, name):
        if name not in self._layers:
            layer = QgsVectorLayer(f"{self.path}|layername={name}", name, "ogr")
            self._layers[name] = layer if layer.isValid() else None
        return self._layers[name]

    def rows(self, name, live=True, geometry=True):
        layer = self.layer(name)
        request = QgsFeatureRequest()
        if not geometry:
            request.setFlags(QgsFeatureRequest.NoGeometry)
        if live and layer.fields().indexOf("deleted_at") >= 0:
            request.setFilterExpression('"deleted_at" IS NULL')
        for feature in layer.getFeatures(request):
            if self.cancelled():
                return
            yield feature

    def _begin(self):
        layer = self.layer(self.buildings_table)
        if layer is None:
            raise ValueError(f"The GeoPackage {self.path} has no table '{self.buildings_table}'.")
        if layer.crs().authid() != "EPSG:4326":
            raise ValueError(f"Table '{self.buildings_table}' of {self.path} is in {layer.crs().authid()}; "
                             "IMIS footprints are EPSG:4326.")
        names = layer.fields().names()
        for feature in self.rows(self.buildings_table):
            codes = {c: _value(feature[c]) if c in names else None for c, _ in NETWORKS}
            get = lambda f: _value(feature[f]) if f in names else None  # noqa: E731
            building = Building(str(feature["bin"]), feature.geometry(), get("ward"), get("estimated_area"),
                                get("sanitation_system_id"), codes)
            if building.has_footprint:
                building.valid = building.geom.isGeosValid()
            self.buildings[building.bin] = building

    def _missing_tables(self, codes):
        return sorted({t for c in codes for t in NEEDS.get(c, ()) if self.layer(t) is None})

    def _checkable(self):
        """Live buildings with a valid, non-empty footprint, in scope."""
        return [b for b in self.buildings.values() if b.has_footprint and b.valid and self.in_scope(b.bin)]

    def utm(self):
        """Transform to the UTM zone of the buildings (for closest points only)."""
        if self._to_utm is None:
            extent = QgsRectangle()
            for b in self.buildings.values():
                if b.has_footprint:
                    extent.combineExtentWith(b.geom.boundingBox())
            centre = extent.center() if not extent.isNull() else QgsPointXY(0, 0)
            zone = int((centre.x() + 180) // 6) + 1
            epsg = (32600 if centre.y() >= 0 else 32700) + min(max(zone, 1), 60)
            self._to_utm = QgsCoordinateTransform(QgsCoordinateReferenceSystem(f"EPSG:{epsg}"),
                                                  QgsCoordinateReferenceSystem("EPSG:4326"),
                                                  QgsCoordinateTransformContext())
        return self._to_utm

    def to_utm(self, geometry):
        projected = QgsGeometry(geometry)
        projected.transform(self.utm(), QgsCoordinateTransform.ReverseTransform)
        return projected

    def distance(self, a_utm, b_utm):
        """Geodesic distance (m) between the closest points of two geometries given in UTM."""
        line = a_utm.shortestLine(b_utm)
        if line.isNull() or line.isEmpty():
            return None
        ends = line.asPolyline()
        if len(ends) < 2 or ends[0] == ends[1]:
            return 0.0
        line.transform(self.utm())
        ends = line.asPolyline()
        return self.calc.measureLine(ends[0], ends[1])

    # --- steps -------------------------------------------------------------------------
    def _invalid(self, codes):
        self.mark_ran(codes)
        for b in self.buildings.values():
            if b.has_footprint and not b.valid and self.in_scope(b.bin):
                errors = b.geom.validateGeometry(QgsGeometry.ValidatorGeos)
                reason, at, point = "invalid", None, _first_vertex(b.geom)
                if errors:
                    reason = errors[0].what()
                    if errors[0].hasWhere():
                        at = (errors[0].where().x(), errors[0].where().y())
                        point = QgsGeometry.fromPointXY(errors[0].where())
                footprint = QgsGeometry(b.geom)
                footprint.get().dropZValue()
                footprint.get().dropMValue()
                self.report_invalid(b.bin, reason, at, _wkb(point), _wkb(footprint))

    def _missing(self, codes):
        self.mark_ran(codes)
        for b in sorted(self.buildings.values(), key=lambda x: x.bin):
            if not b.has_footprint and self.in_scope(b.bin):
                self.report_missing(b.bin, b.geom is None or b.geom.isNull())

    def _not_multi(self, codes):
        self.mark_ran(codes)
        for b in sorted(self.buildings.values(), key=lambda x: x.bin):
            if not b.has_footprint or not self.in_scope(b.bin):
                continue
            wkb_type = b.geom.wkbType()
            if QgsWkbTypes.flatType(wkb_type) != QgsWkbTypes.MultiPolygon or QgsWkbTypes.hasZ(
                    wkb_type) or QgsWkbTypes.hasM(wkb_type):
                dims = 2 + QgsWkbTypes.hasZ(wkb_type) + QgsWkbTypes.hasM(wkb_type)
                found = f"{QgsWkbTypes.displayString(QgsWkbTypes.flatType(wkb_type))} with {dims} dimensions in SRID 4326"
                self.report_not_multi(b.bin, found, _wkb(b.marker()))

    def _pairs(self, codes):
        self.mark_ran(codes)
        valid = [b for b in self.buildings.values() if b.has_footprint and b.valid]
        index = QgsSpatialIndex()
        by_id = {}
        for number, b in enumerate(valid):
            index.addFeature(number, b.geom.boundingBox())
            by_id[number] = b
        found = []
        for number, a in enumerate(valid):
            if self.cancelled():
                return
            candidates = [by_id[i] for i in index.intersects(a.geom.boundingBox())]
            candidates = [b for b in candidates if a.bin < b.bin and (self.in_scope(a.bin) or self.in_scope(b.bin))]
            if not candidates:
                continue
            engine = QgsGeometry.createGeometryEngine(a.geom.constGet())
            engine.prepareGeometry()
            for b in candidates:
                if not engine.relatePattern(b.geom.constGet(), "2********"):
                    continue
                same = engine.isEqual(b.geom.constGet())
                inter = _polygons(a.geom.intersection(b.geom))
                inter_area = self.calc.measureArea(inter) if not inter.isEmpty() else 0.0
                smaller = min(self.calc.measureArea(a.geom), self.calc.measureArea(b.geom))
                ratio = inter_area / smaller if smaller > 0 else None
                point = inter.pointOnSurface() if not inter.isEmpty() else QgsGeometry()
                found.append((a.bin, b.bin, same, inter_area, ratio, _wkb(point), _wkb(inter)))
        for row in sorted(found):
            self.report_pair(*row)

    def _sliver(self, codes):
        self.mark_ran(codes)
        limit = self.thresholds["sliver_area"]
        for b in sorted(self._checkable(), key=lambda x: x.bin):
            parts = [QgsGeometry(p.clone()) for p in b.geom.constParts()]
            for number, part in enumerate(parts, start=1):
                area = self.calc.measureArea(part)
                if area < limit:
                    multi = QgsGeometry(part)
                    multi.convertToMultiType()
                    self.report_sliver(b.bin, number, len(parts), area, _wkb(part.pointOnSurface()), _wkb(multi))

    def _outside_city(self, codes):
        polygons = [f.geometry().makeValid() for f in self.rows("citypolys") if f.hasGeometry()]
        polygons = [g for g in polygons if not g.isEmpty()]
        if not polygons:
            self.skip("FOOTPRINT_OUTSIDE_CITY", "skipped: citypolys has no live city boundary")
            return
        self.mark_ran(codes)
        city = _polygons(QgsGeometry.unaryUnion(polygons))
        engine = QgsGeometry.createGeometryEngine(city.constGet())
        engine.prepareGeometry()
        for b in sorted(self._checkable(), key=lambda x: x.bin):
            if self.cancelled():
                return
            if engine.contains(b.geom.constGet()):
                continue
            matrix = engine.relate(b.geom.constGet())
            if matrix[6] == "F" and matrix[7] == "F":  # covered: nothing of it outside the city
                continue
            area = self.calc.measureArea(b.geom)
            inside = _polygons(b.geom.intersection(city))
            inside_area = self.calc.measureArea(inside) if not inside.isEmpty() else 0.0
            outside = _polygons(b.geom.difference(city))
            self.report_outside_city(b.bin, area, inside_area, _wkb(b.geom.pointOnSurface()), _wkb(outside))

    def _ward(self, codes):
        wards = [(_value(f["ward"]), f.geometry()) for f in self.rows("wards")
                 if f.hasGeometry() and not f.geometry().isEmpty()]
        if not wards:
            self.skip("WARD_MISMATCH", "skipped: wards has no live ward polygon")
            return
        self.mark_ran(codes)
        index = QgsSpatialIndex()
        engines = {}
        for number, (_, geom) in enumerate(wards):
            index.addFeature(number, geom.boundingBox())
            engine = QgsGeometry.createGeometryEngine(geom.constGet())
            engine.prepareGeometry()
            engines[number] = engine
        for b in sorted(self._checkable(), key=lambda x: x.bin):
            if self.cancelled():
                return
            point = b.geom.pointOnSurface()
            inside = [wards[i][0] for i in index.intersects(point.boundingBox())
                      if engines[i].intersects(point.constGet())]
            geo_ward = min(inside) if inside else None
            if b.ward != geo_ward:
                self.report_ward(b.bin, b.ward, geo_ward, _wkb(point))

    def _area(self, codes):
        self.mark_ran(codes)
        share = self.thresholds["area_share"]
        for b in sorted(self._checkable(), key=lambda x: x.bin):
            area = self.calc.measureArea(b.geom)
            estimated = None if b.estimated is None else float(b.estimated)
            if estimated is None or abs(estimated - area) > share * area:
                self.report_area(b.bin, estimated, area, _wkb(b.geom.pointOnSurface()))

    def _links(self):
        """Live link rows (bin, containment_id), all link rows counted per containment."""
        live, counts = [], {}
        for feature in self.rows("build_contains", live=False, geometry=False):
            cid = _value(feature["containment_id"])
            counts[cid] = counts.get(cid, 0) + 1
            if _value(feature["deleted_at"]) is None:
                live.append((_value(feature["bin"]), cid))
        return live, counts

    def _containments(self):
        return {str(f["id"]): f.geometry() for f in self.rows("containments")}

    def _containment_far(self, codes):
        self.mark_ran(codes)
        containments = self._containments()
        links, _ = self._links()
        linked = {}
        for bin_, cid in set(links):
            if cid in containments and bin_ in self.buildings:
                linked.setdefault(cid, []).append(self.buildings[bin_])
        if self.scope is not None:
            linked = {c: bs for c, bs in linked.items() if any(b.bin in self.scope for b in bs)}
        limit = self.thresholds["containment_distance"]
        for cid in sorted(linked):
            if self.cancelled():
                return
            point = containments[cid]
            if point is None or point.isNull() or point.isEmpty():
                continue
            point_utm = self.to_utm(point)
            distances = [self.distance(point_utm, self.to_utm(b.geom)) for b in linked[cid] if b.has_footprint]
            distances = [d for d in distances if d is not None]
            if distances and min(distances) > limit:
                bins = ", ".join(sorted(b.bin for b in linked[cid] if b.has_footprint))
                self.report_containment_far(cid, bins, min(distances), _wkb(point))

    def _containment_unlinked(self, codes):
        if self.scope is not None:
            self.skip("CONTAINMENT_UNLINKED", UNLINKED_IN_SCOPE_NOTE)
            return
        self.mark_ran(codes)
        containments = self._containments()
        links, counts = self._links()
        alive = {cid for bin_, cid in links if bin_ in self.buildings}
        for cid in sorted(containments):
            if cid not in alive:
                self.report_unlinked(cid, counts.get(cid, 0), _wkb(containments[cid]))

    def _containment_missing(self, codes):
        self.mark_ran(codes)
        systems = {_value(f["sanitation_system_id"]) for f in self.rows("containment_types", geometry=False)}
        systems.discard(None)
        labels = {_value(f["id"]): _value(f["sanitation_system"])
                  for f in self.rows("sanitation_systems", geometry=False)}
        containments = self._containments()
        links, _ = self._links()
        served = {bin_ for bin_, cid in links if cid in containments}
        for b in sorted(self.buildings.values(), key=lambda x: x.bin):
            if b.system in systems and b.bin not in served and self.in_scope(b.bin):
                self.report_containment_missing(b.bin, b.system, labels.get(b.system), _wkb(b.marker()))

    def _network(self, codes):
        self.mark_ran(codes)
        limit = self.thresholds["network_distance"]
        found = []
        for column, table in NETWORKS:
            lines = {str(f["code"]): (_value(f["deleted_at"]), f.geometry())
                     for f in self.rows(table, live=False)}
            projected = {}
            for b in self.buildings.values():
                if self.cancelled():
                    return
                code = b.codes.get(column)
                if code is None or not self.in_scope(b.bin):
                    continue
                line = lines.get(str(code))
                unknown = line is None
                deleted = not unknown and line[0] is not None
                distance = None
                if not unknown and not deleted and b.has_footprint and line[1] is not None \
                        and not line[1].isEmpty():
                    if code not in projected:
                        projected[code] = self.to_utm(line[1])
                    distance = self.distance(self.to_utm(b.geom), projected[code])
                if unknown or deleted or (distance is not None and distance > limit):
                    found.append((b.bin, column, code, unknown, deleted, distance, _wkb(b.marker())))
        for row in sorted(found, key=lambda r: (r[0], r[1])):
            self.report_network(*row)
