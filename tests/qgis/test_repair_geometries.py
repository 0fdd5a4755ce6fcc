"""imis:repairgeometries on a scratch copy of the sample town: valid footprints, kept areas,
IMIS revisions, all-or-nothing, dry run, edit-buffer mode. Oracles in plain SQL."""
import processing
import psycopg2
import pytest
from qgis.core import (
    QgsDataSourceUri,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from tests.qgis.survey_manifest import planted_bins

BUILDING_CLASS = "App\\Models\\BuildingInfo\\Building"


def buildings_layer(db, name="Buildings"):
    uri = QgsDataSourceUri(db.uri)
    uri.setDataSource("building_info", "buildings", "geom", '"deleted_at" IS NULL', "bin")
    layer = QgsVectorLayer(uri.uri(False), name, "postgres")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


def state(db, bins):
    """What the repair may change, per BIN, plus the revisions count (oracle snapshot)."""
    rows = db.query(
        "SELECT bin, md5(geom::text), estimated_area, user_id, updated_at FROM building_info.buildings "
        "WHERE bin = ANY(%s) ORDER BY bin", (list(bins),))
    return rows, db.query("SELECT count(*) FROM public.revisions")[0][0]


@pytest.fixture
def imis_user(scratch_db):
    from imis.imis_plugin import settings

    user_id = scratch_db.query("SELECT min(id) FROM auth.users WHERE deleted_at IS NULL")[0][0]
    assert user_id is not None
    before = settings.imis_user_id(), settings.timezone()
    settings.set_imis_user_id(user_id)
    settings.set_timezone("Asia/Kathmandu")
    yield user_id
    settings.set_imis_user_id(before[0])
    settings.set_timezone(before[1])


@pytest.fixture
def invalid_bins(scratch_db):
    bins = planted_bins(scratch_db.manifest, "INVALID_FOOTPRINT")
    assert len(bins) >= 2, "the sample town plants at least two invalid footprints"
    assert scratch_db.query("SELECT bool_and(NOT ST_IsValid(geom)) FROM building_info.buildings "
                            "WHERE bin = ANY(%s)", (bins,))[0][0]
    return bins


class Feedback(QgsProcessingFeedback):
    """Keeps the messages the algorithm reports (Processing's exception only says it failed)."""

    def __init__(self):
        super().__init__()
        self.errors, self.warnings = [], []

    def reportError(self, error, fatalError=False):  # noqa: N802
        self.errors.append(error)
        super().reportError(error, fatalError)

    def pushWarning(self, warning):  # noqa: N802
        self.warnings.append(warning)
        super().pushWarning(warning)


def run_repair(params, feedback=None):
    feedback = feedback or Feedback()
    try:
        return processing.run("imis:repairgeometries", params, feedback=feedback)
    except QgsProcessingException as error:
        raise QgsProcessingException(" | ".join(feedback.errors) or str(error)) from None


def repair(layer, bins, dry_run=False, feedback=None):
    return run_repair({"INPUT": layer, "BINS": ", ".join(bins), "DRY_RUN": dry_run, "OUTPUT": "memory:"},
                      feedback)


def test_repair_makes_footprints_valid_keeps_area_and_writes_revisions(
        imis_provider, clean_project, scratch_db, imis_user, invalid_bins):
    clean = scratch_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND ST_IsValid(geom) "
        "AND NOT (bin = ANY(%s)) ORDER BY bin LIMIT 1", (invalid_bins,))[0][0]
    # Oracle for "the area that belongs to it": PostGIS's own repair that keeps every enclosed area.
    expected = dict(scratch_db.query(
        "SELECT bin, ST_Area(ST_MakeValid(geom, 'method=structure')::geography) FROM building_info.buildings "
        "WHERE bin = ANY(%s)", (invalid_bins,)))
    old = dict(scratch_db.query(
        "SELECT bin, geom::text FROM building_info.buildings WHERE bin = ANY(%s)", (invalid_bins,)))
    clean_before = state(scratch_db, [clean])[0]

    result = repair(buildings_layer(scratch_db), invalid_bins + [clean])

    assert result["MODE"] == "database transaction"
    assert result["REPAIRED"] == len(invalid_bins)
    rows = scratch_db.query(
        "SELECT bin, ST_IsValid(geom), GeometryType(geom), ST_NDims(geom), ST_SRID(geom), "
        "ST_Area(geom::geography), estimated_area, round(ST_Area(geom::geography)::numeric, 2), user_id, "
        "updated_at, geom::text FROM building_info.buildings WHERE bin = ANY(%s)", (invalid_bins,))
    for bin_, valid, gtype, dims, srid, area, estimated, oracle_estimated, user_id, updated, new_geom in rows:
        assert valid and gtype == "MULTIPOLYGON" and dims == 2 and srid == 4326, bin_
        assert area == pytest.approx(expected[bin_], rel=0.01), bin_
        assert estimated == oracle_estimated, bin_
        assert user_id == imis_user
        revisions = scratch_db.query(
            "SELECT key, old_value, new_value, user_id, created_at, updated_at FROM public.revisions "
            "WHERE revisionable_type = %s AND revisionable_id = %s ORDER BY key", (BUILDING_CLASS, bin_))
        by_key = {r[0]: r for r in revisions}
        assert set(by_key) >= {"geom", "estimated_area"}, bin_
        assert by_key["geom"][1] == old[bin_] and by_key["geom"][2] == new_geom
        assert by_key["estimated_area"][2] == str(estimated)
        for key, _, _, rev_user, created, rev_updated in revisions:
            assert rev_user == imis_user and created == rev_updated == updated
            assert created.microsecond == 0
    # The clean footprint needed nothing and was not touched.
    assert state(scratch_db, [clean])[0] == clean_before
    report = {f["bin"]: f for f in result["OUTPUT"].getFeatures()}
    assert report[clean]["status"] == "unchanged"
    for bin_ in invalid_bins:
        assert report[bin_]["status"] == "repaired" and report[bin_]["valid_before"] is False
        assert report[bin_]["area_after_m2"] == pytest.approx(expected[bin_], rel=0.01)


def test_failure_midway_leaves_the_database_unchanged(imis_provider, clean_project, scratch_db, imis_user,
                                                      invalid_bins):
    victim = sorted(invalid_bins)[-1]  # updated after the others: they are already written when it fails
    conn = psycopg2.connect(scratch_db.dsn)
    with conn, conn.cursor() as cur:
        cur.execute("""
            CREATE FUNCTION public.refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.bin = TG_ARGV[0] THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
                RETURN NEW;
            END $$;
        """)
        cur.execute("CREATE TRIGGER refuse_one BEFORE UPDATE ON building_info.buildings "
                    "FOR EACH ROW EXECUTE FUNCTION public.refuse_one(%s)", (victim,))
    conn.close()
    before = state(scratch_db, invalid_bins)
    with pytest.raises(QgsProcessingException, match="refused by test trigger.*Nothing was written"):
        repair(buildings_layer(scratch_db), invalid_bins)
    assert state(scratch_db, invalid_bins) == before


def test_dry_run_reports_and_changes_nothing(imis_provider, clean_project, scratch_db, invalid_bins):
    before = state(scratch_db, invalid_bins)
    result = repair(buildings_layer(scratch_db), invalid_bins, dry_run=True)
    assert result["REPAIRED"] == len(invalid_bins) and result["REVISIONS"] == 0
    assert {f["status"] for f in result["OUTPUT"].getFeatures()} == {"would repair"}
    assert all(f.geometry().isGeosValid() for f in result["OUTPUT"].getFeatures())
    assert state(scratch_db, invalid_bins) == before


def test_edit_buffer_mode_changes_only_the_buffer(imis_provider, clean_project, scratch_db, invalid_bins):
    layer = buildings_layer(scratch_db)
    assert layer.startEditing()
    before = state(scratch_db, invalid_bins)
    result = repair(layer, invalid_bins)
    assert result["MODE"] == "layer edit buffer" and result["REVISIONS"] == 0
    changed = layer.editBuffer().changedGeometries()
    assert len(changed) == len(invalid_bins)
    assert all(geometry.isGeosValid() for geometry in changed.values())
    assert state(scratch_db, invalid_bins) == before  # nothing saved yet
    layer.undoStack().undo()  # one undoable step
    assert not layer.editBuffer().changedGeometries()
    layer.rollBack()


def test_refuses_without_imis_user_unknown_bins_or_no_choice(imis_provider, clean_project, scratch_db,
                                                             invalid_bins):
    from imis.imis_plugin import settings

    layer = buildings_layer(scratch_db)
    before = state(scratch_db, invalid_bins)
    saved = settings.imis_user_id()
    settings.set_imis_user_id(None)
    try:
        with pytest.raises(QgsProcessingException, match="No IMIS user"):
            repair(layer, invalid_bins)
    finally:
        settings.set_imis_user_id(saved)
    with pytest.raises(QgsProcessingException, match="B999998"):
        repair(layer, invalid_bins[:1] + ["B999998"], dry_run=True)
    with pytest.raises(QgsProcessingException, match="Choose the buildings"):
        run_repair({"INPUT": layer, "OUTPUT": "memory:"})
    assert state(scratch_db, invalid_bins) == before


def test_repair_rules_on_crafted_footprints(imis_provider, clean_project, scratch_db, imis_user):
    """Repeated vertices dropped, overlapping parts unioned (area kept once), spikes dropped."""
    bins = [r[0] for r in scratch_db.query(
        "SELECT bin FROM building_info.buildings WHERE deleted_at IS NULL AND ST_IsValid(geom) "
        "AND ST_NumGeometries(geom) = 1 AND NOT (bin = ANY(%s)) ORDER BY bin LIMIT 3",
        (sorted(scratch_db.manifest["defect_bins"]),))]
    repeated, parts, spike = bins
    conn = psycopg2.connect(scratch_db.dsn)
    with conn, conn.cursor() as cur:
        # a repeated second vertex: valid for GEOS, but a survey artefact
        cur.execute("UPDATE building_info.buildings SET geom = ST_Multi(ST_MakePolygon(ST_AddPoint("
                    "ST_ExteriorRing(ST_GeometryN(geom, 1)), ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 2), 1)))"
                    " WHERE bin = %s", (repeated,))
        # the footprint plus a copy shifted by half its width: two overlapping parts
        cur.execute("UPDATE building_info.buildings SET geom = ST_Collect(ST_GeometryN(geom, 1), ST_Translate("
                    "ST_GeometryN(geom, 1), (ST_XMax(geom) - ST_XMin(geom)) / 2, 0)) WHERE bin = %s", (parts,))
        # a spike: out to a far point and straight back along the same line
        cur.execute("""UPDATE building_info.buildings SET geom = ST_Multi(ST_MakePolygon(ST_AddPoint(ST_AddPoint(
                           ST_ExteriorRing(ST_GeometryN(geom, 1)),
                           ST_Translate(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 2), 0.0002, 0), 2),
                           ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 2), 3))) WHERE bin = %s""", (spike,))
    conn.close()
    oracle = dict(scratch_db.query(
        "SELECT bin, CASE WHEN bin = %s THEN ST_Area(ST_Union(ST_GeometryN(geom, 1), ST_GeometryN(geom, 2))::geography) "
        "ELSE ST_Area(geom::geography) END FROM building_info.buildings WHERE bin = ANY(%s)", (parts, bins)))
    assert scratch_db.query("SELECT bin, ST_IsValid(geom) FROM building_info.buildings WHERE bin = ANY(%s) "
                            "ORDER BY bin", (bins,)) == sorted([(repeated, True), (parts, False), (spike, False)])
    result = repair(buildings_layer(scratch_db), bins)
    report = {f["bin"]: f for f in result["OUTPUT"].getFeatures()}
    assert report[repeated]["vertices_removed"] == 1 and report[repeated]["status"] == "repaired"
    assert report[parts]["parts_before"] == 2 and report[parts]["parts_after"] == 1
    rows = dict((r[0], r[1:]) for r in scratch_db.query(
        "SELECT bin, ST_IsValid(geom), ST_Area(geom::geography), ST_NPoints(geom), GeometryType(geom) "
        "FROM building_info.buildings WHERE bin = ANY(%s)", (bins,)))
    for bin_ in bins:
        valid, area, _, gtype = rows[bin_]
        assert valid and gtype == "MULTIPOLYGON"
        assert area == pytest.approx(oracle[bin_], rel=0.001), bin_
    assert rows[repeated][2] == 5  # the rectangle again
    keys = {r[0]: r[1] for r in scratch_db.query(
        "SELECT revisionable_id, array_agg(key ORDER BY key) FROM public.revisions WHERE revisionable_id = ANY(%s) "
        "GROUP BY 1", (bins,))}
    # The repeated vertex changed the outline only: estimated_area is the same value and gets no row.
    assert "estimated_area" not in keys[repeated] and "geom" in keys[repeated]
