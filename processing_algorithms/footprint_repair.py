"""Repairing building footprints: the geometry rule, the plan, and the database write.

The geometry rule is one Python function used by both write paths (database transaction and
layer edit buffer), so both produce the same footprints:

* Z/M values are dropped and consecutive duplicate vertices removed;
* a footprint that is then still invalid is made valid part by part (GEOS "linework" rule,
  which keeps both lobes of a bow-tie), and the parts are unioned, so parts that overlap
  keep their shared area once instead of cancelling out; collapsed bits without area (spikes,
  lines, points) are dropped;
* the result is written as a 2D MultiPolygon in EPSG:4326.

estimated_area is the geodesic area of the new footprint, rounded half away from zero to
2 decimals (EDITING.md §4.2). In the database it is computed by PostGIS in the UPDATE itself.
"""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsDistanceArea,
    QgsGeometry,
    QgsWkbTypes,
)

from ..imis_plugin import db, revisions

# Vertices closer than this (degrees, about 0.1 mm) are the same vertex: a coordinate
# tolerance for equality, not a measurement.
DUPLICATE_TOLERANCE = 1e-9


class RepairError(Exception):
    """A repair that must stop the whole write (nothing is committed)."""


@dataclass
class FootprintRepair:
    bin: str
    fid: int = None
    status: str = ""  # repaired | would repair | unchanged | not repairable
    valid_before: bool = None
    problem: str = ""
    area_before: float = None
    area_after: float = None
    estimated_before: Decimal = None
    estimated_after: Decimal = None
    vertices_removed: int = 0
    parts_before: int = 0
    parts_after: int = 0
    geometry: QgsGeometry = None  # the new footprint (None when not repairable)
    geometry_changed: bool = False
    old_user_id: int = None
    old_geom_text: str = None

    @property
    def area_change(self):
        if self.area_before is None or self.area_after is None:
            return None
        return self.area_after - self.area_before

    @property
    def area_change_share(self):
        if not self.area_before or self.area_after is None:
            return None
        return (self.area_after - self.area_before) / self.area_before

    @property
    def needs_write(self):
        return self.geometry is not None and (
            self.geometry_changed or self.estimated_after != self.estimated_before)


def estimated_area(area_m2):
    """numeric(10,2) rounding of a geodesic area: half away from zero."""
    if area_m2 is None:
        return None
    return Decimal(repr(float(area_m2))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def geodesic_calculator():
    calc = QgsDistanceArea()
    calc.setSourceCrs(QgsCoordinateReferenceSystem("EPSG:4326"), QgsCoordinateTransformContext())
    calc.setEllipsoid("EPSG:7030")  # WGS 84, as PostGIS geography
    return calc


def _vertex_count(geometry):
    return sum(1 for _ in geometry.vertices()) if not geometry.isNull() else 0


def _polygons_only(geometry):
    if geometry.isNull() or geometry.isEmpty():
        return QgsGeometry()
    if QgsWkbTypes.flatType(geometry.wkbType()) == QgsWkbTypes.GeometryCollection:
        parts = [QgsGeometry(p.clone()) for p in geometry.constParts()
                 if QgsWkbTypes.geometryType(p.wkbType()) == QgsWkbTypes.PolygonGeometry]
        if not parts:
            return QgsGeometry()
        geometry = QgsGeometry.collectGeometry(parts)
    if geometry.type() != QgsWkbTypes.PolygonGeometry:
        return QgsGeometry()
    return geometry


def _describe(error):
    if error.hasWhere():
        return f"{error.what()} near {error.where().x():.6f}, {error.where().y():.6f}"
    return error.what()


def repair_geometry(geometry):
    """(new geometry or None, was it valid, problem text, vertices removed, parts before)."""
    if geometry is None or geometry.isNull() or geometry.isEmpty():
        return None, False, "no footprint", 0, 0
    fixed = QgsGeometry(geometry)
    if fixed.type() != QgsWkbTypes.PolygonGeometry:
        return None, False, f"footprint is a {QgsWkbTypes.displayString(fixed.wkbType())}", 0, 0
    parts_before = fixed.constGet().partCount()
    fixed.get().dropZValue()
    fixed.get().dropMValue()
    valid = fixed.isGeosValid()
    errors = [] if valid else fixed.validateGeometry(QgsGeometry.ValidatorGeos)
    problem = _describe(errors[0]) if errors else ("" if valid else "invalid")
    before = _vertex_count(fixed)
    fixed.removeDuplicateNodes(DUPLICATE_TOLERANCE)
    removed = before - _vertex_count(fixed)
    if not fixed.isGeosValid():
        pieces = []
        for part in fixed.constParts():
            made = QgsGeometry(part.clone()).makeValid()
            made = _polygons_only(made)
            if not made.isEmpty():
                pieces.append(made)
        fixed = _polygons_only(QgsGeometry.unaryUnion(pieces)) if pieces else QgsGeometry()
        if not fixed.isEmpty():
            fixed.removeDuplicateNodes(DUPLICATE_TOLERANCE)
    if fixed.isNull() or fixed.isEmpty():
        return None, valid, (problem or "invalid") + "; nothing of the footprint has an area", removed, parts_before
    fixed.convertToMultiType()
    if not fixed.isGeosValid():
        return None, valid, (problem or "invalid") + "; could not be made valid", removed, parts_before
    return fixed, valid, problem, removed, parts_before


def plan_repair(bin_, geometry, old_estimated, calc, fid=None, dry_run=False):
    """The FootprintRepair of one footprint (areas from QgsDistanceArea, WGS 84)."""
    new, valid, problem, removed, parts = repair_geometry(geometry)
    item = FootprintRepair(bin=bin_, fid=fid, valid_before=valid, problem=problem,
                           vertices_removed=removed, parts_before=parts,
                           estimated_before=None if old_estimated is None else Decimal(str(old_estimated)))
    if geometry is not None and not geometry.isNull() and not geometry.isEmpty():
        item.area_before = calc.measureArea(geometry)
    if new is None:
        item.status = "not repairable"
        return item
    item.geometry = new
    item.parts_after = new.constGet().partCount()
    item.geometry_changed = not new.equals(geometry)  # exact: type, vertices and their order
    item.area_after = calc.measureArea(new)
    item.estimated_after = estimated_area(item.area_after)
    if item.needs_write:
        item.status = "would repair" if dry_run else "repaired"
    else:
        item.status = "unchanged"
    return item


# --- database path --------------------------------------------------------------------

SQL_READ = """
SELECT bin, ST_AsBinary(geom), geom::text, estimated_area, user_id
FROM building_info.buildings
WHERE bin = ANY(%s::text[]) AND deleted_at IS NULL
ORDER BY bin
"""
SQL_UPDATE = """
UPDATE building_info.buildings
SET geom = CASE WHEN %(geom_changed)s THEN ST_GeomFromWKB(%(wkb)s, 4326) ELSE geom END,
    estimated_area = round(ST_Area(ST_GeomFromWKB(%(wkb)s, 4326)::geography)::numeric, 2),
    updated_at = %(now)s,
    user_id = %(user_id)s
WHERE bin = %(bin)s AND deleted_at IS NULL
RETURNING geom::text, estimated_area, ST_IsValid(geom), GeometryType(geom)
"""


def read_footprints(cur, bins, lock, feedback=None):
    """Rows (bin, wkb, hex ewkb, estimated_area, user_id) of live buildings in `bins`."""
    query = SQL_READ + (" FOR UPDATE" if lock else "")
    db.run_cancellable(cur, query, (list(bins),), feedback)
    return cur.fetchall()


def plan_from_rows(rows, calc, dry_run, feedback=None):
    plans = []
    for number, (bin_, wkb, geom_text, estimated, user_id) in enumerate(rows):
        if feedback is not None and feedback.isCanceled():
            break
        geometry = QgsGeometry()
        if wkb is not None:
            geometry.fromWkb(bytes(wkb))
        item = plan_repair(bin_, geometry, estimated, calc, dry_run=dry_run)
        item.old_geom_text = geom_text
        item.old_user_id = user_id
        plans.append(item)
        if feedback is not None:
            feedback.setProgress(10 + 50 * (number + 1) / max(len(rows), 1))
    return plans


def apply_in_database(cur, plans, user_id, now, feedback=None):
    """UPDATE each footprint that needs it and write its revisions; returns revisions written.

    Runs inside the caller's transaction: any exception leaves the caller to roll back.
    """
    written = 0
    todo = [p for p in plans if p.needs_write]
    for number, item in enumerate(todo):
        if feedback is not None and feedback.isCanceled():
            raise db.QueryCancelled("Cancelled by the user.")
        params = {"geom_changed": item.geometry_changed, "wkb": db.psycopg2.Binary(item.geometry.asWkb()),
                  "now": now, "user_id": user_id, "bin": item.bin}
        cur.execute(SQL_UPDATE, params)
        row = cur.fetchone()
        if row is None:
            raise RepairError(f"Building {item.bin} was deleted meanwhile.")
        new_text, new_estimated, valid, gtype = row
        if not valid or gtype != "MULTIPOLYGON":
            raise RepairError(f"Building {item.bin}: the repaired footprint is not a valid MultiPolygon "
                              "in the database.")
        item.estimated_after = new_estimated
        changes = []
        if item.geometry_changed:
            changes.append(("geom", item.old_geom_text, new_text))
        if item.estimated_before is None or Decimal(item.estimated_before) != Decimal(new_estimated):
            changes.append(("estimated_area", revisions.value_text(item.estimated_before),
                            revisions.value_text(new_estimated)))
        if item.old_user_id != user_id:
            changes.append(("user_id", revisions.value_text(item.old_user_id), revisions.value_text(user_id)))
        written += revisions.write_revisions(cur, revisions.BUILDING, item.bin, user_id, changes, now)
        if feedback is not None:
            feedback.setProgress(60 + 35 * (number + 1) / len(todo))
    return written
