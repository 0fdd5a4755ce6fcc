"""imis:connectioncandidates on the real PostGIS sample town and its GeoPackage.

Oracles are plain PostGIS written here, independently of the plugin: ST_Distance on
geography, DISTINCT ON for the nearest line, IMIS's ids for "already connected".
"""
import pytest
from qgis.core import (
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from tests.support.analysis import Feedback, gpkg_layer, pg_layer

ALG = "imis:connectioncandidates"
EDGE = 0.01  # buildings within 1 cm of the distance are reported apart (float noise at the limit)
# IMIS's hard-coded ids (DATABASE.md 12.1), written out for the oracle.
CONNECTED = {"drain": ("drain_code", 2, [2, 14]), "sewer": ("sewer_code", 1, [1, 13])}

ORACLE = """
WITH lines AS (
    SELECT code, geom FROM utility_info.{table}
    WHERE deleted_at IS NULL AND geom IS NOT NULL AND (%(codes)s::text[] IS NULL OR code = ANY(%(codes)s))
), near AS (
    SELECT DISTINCT ON (b.bin) b.bin, l.code, ST_Distance(b.geom::geography, l.geom::geography) AS distance
    FROM building_info.buildings b JOIN lines l ON ST_DWithin(b.geom::geography, l.geom::geography, %(d)s)
    WHERE b.deleted_at IS NULL
    ORDER BY b.bin, distance, l.code
)
SELECT n.bin, n.code, n.distance, b.sanitation_system_id,
       NULLIF(btrim(b.{code_field}), '') IS NOT NULL
       OR b.sanitation_system_id = %(system)s
       OR EXISTS (SELECT 1 FROM building_info.build_contains bc JOIN fsm.containments c ON c.id = bc.containment_id
                  WHERE bc.bin = b.bin AND bc.deleted_at IS NULL AND c.deleted_at IS NULL
                    AND c.type_id = ANY(%(types)s)) AS connected,
       -- PostGIS 3.3 geography can read nearly parallel edges as touching (distance 0 for a
       -- line metres away); such buildings are flagged by a UTM cross-check (0.05 %% scale error)
       EXISTS (SELECT 1 FROM lines l WHERE ST_DWithin(b.geom::geography, l.geom::geography, %(d)s + 1)
               AND abs(ST_Distance(b.geom::geography, l.geom::geography)
                       - ST_Distance(ST_Transform(b.geom, u.srid), ST_Transform(l.geom, u.srid)))
                   > 0.05 + 0.001 * ST_Distance(b.geom::geography, l.geom::geography)) AS anomaly
FROM near n JOIN building_info.buildings b ON b.bin = n.bin
CROSS JOIN LATERAL (SELECT 32601 + floor((ST_X(ST_Centroid(b.geom)) + 180) / 6)::int AS srid) u
"""


def oracle(db, kind, distance, codes=None):
    """{bin: (nearest code, metres, sanitation id, connected, anomaly)} of the live buildings within `distance`."""
    code_field, system, types = CONNECTED[kind]
    query = ORACLE.replace("{table}", kind + "s").replace("{code_field}", code_field)
    rows = db.query(query, {"codes": codes, "d": distance, "system": system, "types": types})
    return {row[0]: row[1:] for row in rows}


def in_project(layer):
    """Selected-features-only sources are looked up in the project."""
    QgsProject.instance().addMapLayer(layer)
    return layer


@pytest.fixture
def pg(sample_db, clean_project, imis_provider):
    return {name: in_project(pg_layer(sample_db, name)) for name in ("drains", "sewers", "buildings", "containments")}


@pytest.fixture
def gpkg(sample_gpkg, clean_project, imis_provider):
    return {name: in_project(gpkg_layer(sample_gpkg, name))
            for name in ("drains", "sewers", "buildings", "containments")}


def run(params, feedback=None):
    """Results of the algorithm; a failure raises QgsProcessingException with the algorithm's message."""
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = feedback or Feedback()
    try:
        results = processing.run(ALG, params, context=context, feedback=feedback)
    except QgsProcessingException as error:
        raise QgsProcessingException("\n".join(getattr(feedback, "errors", []) + [str(error)])) from None
    for name in ("OUTPUT", "OUTPUT_SUMMARY"):
        value = results.get(name)
        if isinstance(value, str):
            results[name] = context.takeResultLayer(value) or QgsProject.instance().mapLayer(value)
    return results


def params(layers, network="drains", selected=False, **extra):
    source = layers[network]
    value = QgsProcessingFeatureSourceDefinition(source.id(), True) if selected else source
    base = {"NETWORK": value, "BUILDINGS": layers["buildings"], "CONTAINMENTS": layers["containments"],
            "DISTANCE": 30, "OUTPUT": "memory:", "OUTPUT_SUMMARY": "memory:"}
    base.update(extra)
    return base


def rows(layer):
    names = layer.fields().names()
    return {feature["bin"]: dict(zip(names, feature.attributes())) for feature in layer.getFeatures()}


def assert_matches(found, expected, distance, tolerance=1e-3):
    """Same BINs, same nearest code, same metres (to `tolerance`).

    Left out of the comparison (and printed): buildings within 1 cm of the limit, and the few
    where PostGIS's geography distance is contradicted by UTM (see ORACLE); the plugin
    measures in metric projections on both paths.
    """
    edge = {bin_ for bin_, row in expected.items() if row[1] > distance - EDGE}
    anomalies = {bin_ for bin_, row in expected.items() if row[4]}
    print(f"within 1 cm of the limit: {sorted(edge)}; PostGIS geography anomalies: {sorted(anomalies)}")
    assert len(anomalies) <= 3
    edge |= anomalies
    assert set(found) - edge == set(expected) - edge
    for bin_ in (set(found) & set(expected)) - edge:
        code, metres = expected[bin_][0], expected[bin_][1]
        assert found[bin_]["distance_m"] == pytest.approx(metres, abs=tolerance), bin_
        if found[bin_]["network_code"] != code:
            # equidistant lines (e.g. two drains meeting at a junction): either is the nearest
            assert abs(found[bin_]["distance_m"] - metres) < tolerance, (bin_, found[bin_], expected[bin_])
    return edge


@pytest.mark.parametrize("network", ["drains", "sewers"])
def test_candidates_equal_the_postgis_oracle(pg, sample_db, network):
    kind = network[:-1]
    expected_near = oracle(sample_db, kind, 30.0)
    expected = {bin_: row for bin_, row in expected_near.items() if not row[3]}
    assert len(expected) > 20 and len(expected_near) > len(expected)  # both groups exist: the test can fail
    results = run(params(pg, network))
    assert results["EXECUTION"] == "PostGIS"
    assert results["NETWORK_KIND_USED"] == kind
    (live_lines,), = sample_db.query(f"SELECT count(*) FROM utility_info.{network} WHERE deleted_at IS NULL")
    (all_lines,), = sample_db.query(f"SELECT count(*) FROM utility_info.{network}")
    assert results["LINES_USED"] == live_lines < all_lines  # soft-deleted lines never count
    found = rows(results["OUTPUT"])
    assert_matches(found, expected, 30.0)
    assert results["CANDIDATES"] == len(found)
    edge = sum(1 for row in expected_near.values() if row[1] > 30.0 - EDGE)
    assert abs(results["BUILDINGS_NEAR"] - len(expected_near)) <= edge
    assert results["EXCLUDED_CONNECTED"] == results["BUILDINGS_NEAR"] - results["CANDIDATES"]
    assert not any(row["connected"] for row in found.values())


def test_connected_buildings_are_included_when_asked(pg, sample_db):
    expected = oracle(sample_db, "drain", 30.0)
    found = rows(run(params(pg, EXCLUDE_CONNECTED=False))["OUTPUT"])
    assert_matches(found, expected, 30.0)
    connected = {bin_ for bin_, row in expected.items() if row[3]}
    marked = {bin_ for bin_, row in found.items() if row["connected"]}
    assert connected and marked == connected & set(found)
    # the reasons name what the database says, labels included
    (drain_label,), = sample_db.query("SELECT sanitation_system FROM building_info.sanitation_systems WHERE id = 2")
    reasons = " | ".join(found[bin_]["connected"] for bin_ in marked)
    assert "drain_code D" in reasons and f"sanitation system '{drain_label}'" in reasons


def test_one_selected_drain_gives_only_its_own_candidates(pg, sample_db):
    code = sample_db.manifest["keys"]["drain_with_buildings"]["code"]
    drains = pg["drains"]
    drains.selectByExpression(f"\"code\" = '{code}'")
    assert drains.selectedFeatureCount() == 1
    results = run(params(pg, selected=True))
    assert results["LINES_USED"] == 1
    found = rows(results["OUTPUT"])
    expected = {bin_: row for bin_, row in oracle(sample_db, "drain", 30.0, [code]).items() if not row[3]}
    assert found and {row["network_code"] for row in found.values()} == {code}
    assert_matches(found, expected, 30.0)
    # the buildings named after this drain (Drain Network) are near it but already connected
    near = oracle(sample_db, "drain", 30.0, [code])
    assert sum(1 for row in near.values() if row[3]) >= 1


def test_sewer_list_reproduces_imis_when_connected_are_kept(pg, sample_db):
    """ANALYSES.md 7.4: IMIS lists every live building whose footprint meets B(sewer, d)."""
    code = sample_db.manifest["keys"]["sewer_with_buildings"]["code"]
    imis_list = {row[0] for row in sample_db.query(
        "SELECT b.bin FROM building_info.buildings b, utility_info.sewers s "
        "WHERE s.code = %s AND b.deleted_at IS NULL "
        "AND ST_Intersects(b.geom, ST_Buffer(s.geom::geography, %s)::geometry)", (code, 30))}
    assert imis_list
    pg["sewers"].selectByExpression(f"\"code\" = '{code}'")
    imis = rows(run(params(pg, "sewers", selected=True, EXCLUDE_CONNECTED=False, IMIS_COMPATIBLE=True))["OUTPUT"])
    assert set(imis) == imis_list
    exact = rows(run(params(pg, "sewers", selected=True, EXCLUDE_CONNECTED=False))["OUTPUT"])
    # exact distances keep IMIS's list and add only buildings in the rim IMIS's polygon misses (0.5 % of d)
    assert set(exact) >= imis_list
    assert all(exact[bin_]["distance_m"] > 30 * (1 - 0.0049) for bin_ in set(exact) - imis_list)
    # connected buildings are in IMIS's list; the default leaves them out
    default = rows(run(params(pg, "sewers", selected=True))["OUTPUT"])
    connected = {bin_ for bin_, row in exact.items() if row["connected"]}
    assert connected and set(default) == set(exact) - connected


def test_geopackage_gives_the_oracle_answer(gpkg, sample_db):
    expected = {bin_: row for bin_, row in oracle(sample_db, "drain", 30.0).items() if not row[3]}
    results = run(params(gpkg))
    assert results["EXECUTION"] == "QGIS" and results["NETWORK_KIND_USED"] == "drain"
    found = rows(results["OUTPUT"])
    edge = assert_matches(found, expected, 30.0, tolerance=2e-3)
    print(f"buildings within 1 cm of the limit (either side accepted): {sorted(edge)}")


def test_geopackage_selected_drain(gpkg, sample_db):
    code = sample_db.manifest["keys"]["drain_with_buildings"]["code"]
    gpkg["drains"].selectByExpression(f"\"code\" = '{code}'")
    found = rows(run(params(gpkg, selected=True))["OUTPUT"])
    expected = {bin_: row for bin_, row in oracle(sample_db, "drain", 30.0, [code]).items() if not row[3]}
    assert {row["network_code"] for row in found.values()} == {code}
    assert_matches(found, expected, 30.0, tolerance=2e-3)


def test_sanitation_filter_by_stored_names_of_a_renamed_deployment(scratch_db, clean_project, imis_provider):
    conn = scratch_db.connect()
    with conn.cursor() as cur:
        cur.execute("UPDATE building_info.sanitation_systems SET sanitation_system = 'Septic tank (any)' WHERE id = 3")
        cur.execute("UPDATE building_info.sanitation_systems SET sanitation_system = 'Nala' WHERE id = 2")
    conn.commit()
    conn.close()
    layers = {name: in_project(pg_layer(scratch_db, name)) for name in ("drains", "buildings", "containments")}
    results = run(params(layers, SANITATION_FILTER="septic TANK (any); Open Ground", EXCLUDE_CONNECTED=False))
    found = rows(results["OUTPUT"])
    near = oracle(scratch_db, "drain", 30.0)
    expected = {bin_: row for bin_, row in near.items() if row[2] in (3, 8)}
    assert_matches(found, expected, 30.0)
    assert {row["sanitation_system"] for row in found.values()} == {"Septic tank (any)", "Open Ground"}
    assert results["EXCLUDED_BY_FILTER"] == results["BUILDINGS_NEAR"] - len(found)
    with pytest.raises(QgsProcessingException) as error:
        run(params(layers, SANITATION_FILTER="Septic Tank"))
    assert "'Septic Tank'" in str(error.value) and "Septic tank (any)" in str(error.value)
    # the reasons use the renamed label
    connected = rows(run(params(layers, EXCLUDE_CONNECTED=False))["OUTPUT"])
    assert any("sanitation system 'Nala'" in (row["connected"] or "") for row in connected.values())


def test_workbook(pg, sample_db, output_dir):
    openpyxl = pytest.importorskip("openpyxl")
    code = sample_db.manifest["keys"]["drain_with_buildings"]["code"]
    pg["drains"].selectByExpression(f"\"code\" = '{code}'")
    path = output_dir / "Drain Potential buildings Buffer Summary Information.xlsx"
    if path.exists():
        path.unlink()
    results = run(params(pg, selected=True, OUTPUT_XLSX=str(path)))
    found = rows(results["OUTPUT"])
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Buildings Sheet", "Buildings List", "Containments by Type", "Containment List",
                               "Candidates", "Parameters"]
    sheet = [list(row) for row in book["Candidates"].iter_rows(values_only=True)]
    assert sheet[0] == ["BIN", "Nearest Drain Code", "Distance (m)", "Structure Type", "Sanitation System",
                        "Containment IDs", "Containment Types", "Population of Building"]
    body = sheet[1:]
    assert [row[0] for row in body] == sorted(found, key=lambda bin_: (found[bin_]["distance_m"], bin_))
    assert all(row[1] == code for row in body)
    assert [row[2] for row in body] == sorted(row[2] for row in body)
    by_bin = {row[0]: row for row in body}
    population = dict(sample_db.query("SELECT bin, population_served FROM building_info.buildings WHERE bin = ANY(%s)",
                                      (list(found),)))
    assert all(by_bin[bin_][7] == population[bin_] for bin_ in found)
    summary = [list(row) for row in book["Buildings Sheet"].iter_rows(values_only=True)]
    table = {feature[0]: list(feature.attributes()) for feature in results["OUTPUT_SUMMARY"].getFeatures()}
    assert summary[0][:3] == ["Structure Type", "Buildings", "Sewer Network"]
    assert summary[-1][0] == "Total" and summary[-1][1] == table["Total"][1]
    assert table["Total"][3] == 0  # no Drain Network building among drain candidates
    listed = {row[0] for row in book["Buildings List"].iter_rows(min_row=2, values_only=True)}
    assert listed == set(found)
    parameters = {row[0]: row[1] for row in book["Parameters"].iter_rows(min_row=2, values_only=True)}
    assert parameters["Distance (m)"] == 30 and parameters["Candidates"] == len(found)
    assert "already connected" in parameters["Candidate rule"]
    assert "drain_code is set" in parameters["Already connected means"]
    assert parameters["Leave out buildings already connected"] == "Yes"
    # containments of the candidates: ids match the live links
    linked = sample_db.query(
        "SELECT bc.bin, c.id FROM building_info.build_contains bc JOIN fsm.containments c ON c.id = bc.containment_id "
        "WHERE bc.deleted_at IS NULL AND c.deleted_at IS NULL AND bc.bin = ANY(%s) ORDER BY 1, 2", (list(found),))
    expected_ids = {}
    for bin_, containment_id in linked:
        expected_ids.setdefault(bin_, []).append(containment_id)
    for bin_, row in found.items():
        assert (row["containment_ids"] or None) == (", ".join(sorted(set(expected_ids[bin_])))
                                                    if bin_ in expected_ids else None)


def memory_lines(name, field_name, source_layer, code_field="code"):
    layer = QgsVectorLayer("MultiLineString?crs=EPSG:4326", name, "memory")
    layer.dataProvider().addAttributes([QgsField(field_name, QVariant.String)])
    layer.updateFields()
    features = []
    for feature in source_layer.getFeatures("\"deleted_at\" IS NULL"):
        copy = QgsFeature(layer.fields())
        copy.setGeometry(QgsGeometry(feature.geometry()))
        copy.setAttributes([feature[code_field]])
        features.append(copy)
    layer.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(layer)
    return layer


def test_other_line_layers(pg, sample_db):
    # a line layer without a code field is refused, naming the fields it would need
    pg["lines"] = memory_lines("planned lines", "name", pg["drains"])
    with pytest.raises(QgsProcessingException) as error:
        run(params(pg, "lines"))
    message = str(error.value)
    assert "'planned lines'" in message and "'code'" in message and "'drain_code'" in message
    # with a 'code' field it is accepted; connected = a building names one of its lines
    pg["lines"] = memory_lines("planned lines", "code", pg["drains"])
    results = run(params(pg, "lines"))
    assert results["NETWORK_KIND_USED"] == "other" and results["EXECUTION"] == "QGIS"
    found = rows(results["OUTPUT"])
    codes = {row[0] for row in sample_db.query("SELECT code FROM utility_info.drains WHERE deleted_at IS NULL")}
    drain_codes = dict(sample_db.query("SELECT bin, drain_code FROM building_info.buildings WHERE bin = ANY(%s)",
                                       (list(found),)))
    assert found and not any(drain_codes[bin_] in codes for bin_ in found)
    # a layer named for drains with its code in 'drain_code' is read as drains
    pg["lines"] = memory_lines("lines", "drain_code", pg["drains"])
    results = run(params(pg, "lines"))
    assert results["NETWORK_KIND_USED"] == "drain"
    expected = {bin_: row for bin_, row in oracle(sample_db, "drain", 30.0).items() if not row[3]}
    assert_matches(rows(results["OUTPUT"]), expected, 30.0, tolerance=2e-3)


def test_bad_input_messages(pg, sample_db):
    def message(**extra):
        with pytest.raises(QgsProcessingException) as error:
            run(params(pg, **extra))
        return str(error.value)

    assert "zero or more metres" in message(DISTANCE=-5)
    text = message(SANITATION_FILTER="Septic Tank; Cesspit")
    assert "'Cesspit'" in text and "Pit/ Holding Tank" in text
    pg["drains"].removeSelection()
    text = message(NETWORK=QgsProcessingFeatureSourceDefinition(pg["drains"].id(), True))
    assert "No feature is selected" in text and "drains" in text
    # a buildings layer without the code field cannot tell who is connected
    bare = QgsVectorLayer("MultiPolygon?crs=EPSG:4326&field=bin:string&field=structure_type_id:integer"
                          "&field=sanitation_system_id:integer", "bare buildings", "memory")
    QgsProject.instance().addMapLayer(bare)
    text = message(BUILDINGS=bare)
    assert "'bare buildings'" in text and "drain_code" in text
    # IMIS's buffer of a line at 0 m is empty: say so instead of returning nothing
    assert "0 m" in message(DISTANCE=0, IMIS_COMPATIBLE=True)


def test_registered_with_help(imis_provider):
    alg = imis_provider.algorithm("connectioncandidates")
    assert alg is not None
    text = alg.shortHelpString()
    for phrase in ("30 m", "already connected", "Sanitation filter", "Sewer Potential buildings Buffer Summary "
                   "Information.xlsx", "Drain Potential buildings Buffer Summary Information.xlsx", "(ids 2 and 14)"):
        assert phrase in text, phrase
    definitions = {p.name(): p for p in alg.parameterDefinitions()}
    assert definitions["DISTANCE"].defaultValue() == 30.0
    assert definitions["EXCLUDE_CONNECTED"].defaultValue() is True
