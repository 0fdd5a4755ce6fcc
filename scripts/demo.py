"""`make demo`: the plugin's main job on the embedded sample town, headless, outputs in out/.

Builds the sample IMIS town as a GeoPackage when it is absent, starts real QGIS, loads the
built plugin (as qgis_process does), loads the IMIS layers, counts them and runs each
analysis step the plugin has (see DEMO_STEPS).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build"))
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def ensure_sample(gpkg):
    if gpkg.exists():
        print(f"sample town: {gpkg} (present)")
        return
    gpkg.parent.mkdir(parents=True, exist_ok=True)
    print(f"sample town: building {gpkg} …", flush=True)
    subprocess.run([sys.executable, "-m", "sampledata", "--buildings", "3000", "--seed", "7",
                    "--gpkg", str(gpkg)], cwd=REPO, check=True)


def start_qgis():
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    return app


def load_plugin():
    import imis

    plugin = imis.classFactory(None)  # as qgis_process does: no iface
    plugin.initProcessing()
    return plugin


def run_algorithm(alg_id, params):
    """Run a Processing algorithm and return its results (raises on failure)."""
    import processing
    from qgis.core import QgsProcessingFeedback

    class Feedback(QgsProcessingFeedback):
        def reportError(self, error, fatalError=False):  # noqa: N802
            print(f"  error: {error}")

    return processing.run(alg_id, params, feedback=Feedback())


# Each analysis adds a step: a function (gpkg, out_dir, layers) -> list of lines to report.
DEMO_STEPS = []


def waterbody_buffer_step(gpkg, out_dir, layers):
    """imis:waterbodybuffer: buildings and containments within 100 m of all rivers (issue 3)"""
    folder = out_dir / "waterbody_buffer"
    folder.mkdir(parents=True, exist_ok=True)
    workbook = out_dir / "Summary Information buildings close to rivers.xlsx"
    outputs = {name: str(folder / f"{name.lower()[7:]}.gpkg") for name in (
        "OUTPUT_BUILDINGS", "OUTPUT_CONTAINMENTS", "OUTPUT_ZONE", "OUTPUT_SUMMARY", "OUTPUT_CONTAINMENT_SUMMARY")}
    for path in outputs.values():
        if os.path.exists(path):
            os.remove(path)
    result = run_algorithm("imis:waterbodybuffer", {
        "WATERBODIES": layers["rivers"], "BUILDINGS": layers["buildings"], "CONTAINMENTS": layers["containments"],
        "DISTANCE": 100, "OUTPUT_XLSX": str(workbook), **outputs})
    lines = [f"ran in {result['EXECUTION']}; {result['WATERBODIES_USED']} rivers; "
             f"{result['BUILDINGS_IN_ZONE']} buildings within 100 m, {result['BUILDINGS_COUNTED']} counted in the "
             f"IMIS summary ({result['BUILDINGS_LEFT_OUT']} left out); {result['CONTAINMENTS_IN_ZONE']} containments"]
    from qgis.core import QgsVectorLayer

    summary = QgsVectorLayer(result["OUTPUT_SUMMARY"], "summary", "ogr")
    for feature in summary.getFeatures():
        values = feature.attributes()[1:]  # fid first
        lines.append(f"  {values[0] or '(no structure type)':24s} {values[1]:>6}")
    lines.append(f"workbook: {workbook.relative_to(out_dir.parent)}; layers in {folder.relative_to(out_dir.parent)}/")
    return lines


DEMO_STEPS.append(waterbody_buffer_step)


def connection_candidates_step(gpkg, out_dir, layers):
    """Connection candidates: one drain chosen by code, 30 m (imis:connectioncandidates)."""
    from collections import Counter

    from qgis.core import QgsProcessingFeatureSourceDefinition

    # the drain most buildings name as theirs: a busy street, where candidates are worth finding
    drains, buildings = layers["drains"], layers["buildings"]
    live_codes = {feature["code"] for feature in drains.getFeatures()}
    named = Counter(feature["drain_code"] for feature in buildings.getFeatures() if feature["drain_code"] in live_codes)
    code = min(named, key=lambda c: (-named[c], c))
    drains.selectByExpression(f"\"code\" = '{code}'")
    workbook = out_dir / "Drain Potential buildings Buffer Summary Information.xlsx"
    results = run_algorithm("imis:connectioncandidates", {
        "NETWORK": QgsProcessingFeatureSourceDefinition(drains.id(), True), "BUILDINGS": buildings,
        "CONTAINMENTS": layers["containments"], "DISTANCE": 30,
        "OUTPUT": str(out_dir / "drain connection candidates.gpkg"),
        "OUTPUT_SUMMARY": str(out_dir / "drain connection candidates by structure type.csv"),
        "OUTPUT_XLSX": str(workbook)})
    drains.removeSelection()
    return [f"drain {code}, 30 m ({results['EXECUTION']}): {results['BUILDINGS_NEAR']} buildings within 30 m, "
            f"{results['EXCLUDED_CONNECTED']} already connected, {results['CANDIDATES']} candidates",
            f"workbook: {workbook.name}; layer: drain connection candidates.gpkg"]


DEMO_STEPS.append(connection_candidates_step)


def council_map_step(gpkg, out_dir, layers):
    """Council map of the water-body analysis (all rivers, 100 m) -> out/council_map.pdf and .png"""
    from qgis.core import QgsApplication

    if QgsApplication.processingRegistry().algorithmById("imis:waterbodybuffer") is None:
        return ["skipped: imis:waterbodybuffer is not in this build yet"]
    analysis = run_algorithm("imis:waterbodybuffer", {
        "WATERBODIES": layers["rivers"], "BUILDINGS": layers["buildings"], "CONTAINMENTS": layers["containments"],
        "DISTANCE": 100, "OUTPUT_BUILDINGS": "TEMPORARY_OUTPUT", "OUTPUT_CONTAINMENTS": "TEMPORARY_OUTPUT",
        "OUTPUT_ZONE": "TEMPORARY_OUTPUT", "OUTPUT_SUMMARY": "TEMPORARY_OUTPUT",
        "OUTPUT_CONTAINMENT_SUMMARY": "TEMPORARY_OUTPUT"})
    result = run_algorithm("imis:councilmap", {
        "ZONE": analysis["OUTPUT_ZONE"], "RESULT_BUILDINGS": analysis["OUTPUT_BUILDINGS"],
        "RESULT_CONTAINMENTS": analysis["OUTPUT_CONTAINMENTS"], "SUMMARY": analysis["OUTPUT_SUMMARY"],
        "CONTAINMENT_SUMMARY": analysis["OUTPUT_CONTAINMENT_SUMMARY"],
        "WATERBODIES": [layers["rivers"], layers["ponds"]], "ROADS": layers["roads"], "WARDS": layers["wards"],
        "CITY": layers["city"], "PAPER": 0, "ORIENTATION": 0, "DPI": 150,
        "OUTPUT_PDF": str(out_dir / "council_map.pdf"), "OUTPUT_PNG": str(out_dir / "council_map.png")})
    return [f"A4 landscape council map: {result['OUTPUT_PDF']} ({result['PAGES']} page), {result['OUTPUT_PNG']}"]


DEMO_STEPS.append(council_map_step)


def survey_checks(gpkg, out_dir, layers):
    """Survey checks (imis:surveychecks) on the sample town: summary in out/survey_checks_summary.csv"""
    result = run_algorithm("imis:surveychecks", {
        "BUILDINGS": layers["buildings"],
        "OUTPUT": str(out_dir / "survey_issues.gpkg"),
        "OUTPUT_AREAS": "TEMPORARY_OUTPUT",
        "SUMMARY": str(out_dir / "survey_checks_summary.csv"),
        "WORKBOOK": str(out_dir / "survey_checks.xlsx"),
    })
    from qgis.core import QgsVectorLayer

    summary = QgsVectorLayer(result["SUMMARY"], "summary", "ogr")
    lines = [f"{int(result['ISSUES'])} issues ({int(result['ERRORS'])} errors), checked in QGIS on the "
             "GeoPackage (the PostGIS engine runs the same checks in the database):"]
    for feature in summary.getFeatures():
        lines.append(f"{feature['code']:28s} {feature['severity']:8s} {str(feature['issues']):>5s}  {feature['status']}")
    lines.append("outputs: survey_checks_summary.csv, survey_issues.gpkg, survey_checks.xlsx")
    return lines


DEMO_STEPS.append(survey_checks)


def water_supply_coverage_step(gpkg, out_dir, layers):
    """imis:watersupplycoverage: water supply coverage at 50 m (issue 5; not an IMIS analysis)"""
    folder = out_dir / "water_supply_coverage"
    folder.mkdir(parents=True, exist_ok=True)
    workbook = out_dir / "Water supply coverage.xlsx"
    outputs = {name: str(folder / f"{name.lower()[7:]}.gpkg") for name in (
        "OUTPUT_BUILDINGS", "OUTPUT_WARDS", "OUTPUT_SUMMARY")}
    for path in outputs.values():
        if os.path.exists(path):
            os.remove(path)
    result = run_algorithm("imis:watersupplycoverage", {
        "PIPES": layers["water_supply"], "BUILDINGS": layers["buildings"], "WARDS": layers["wards"],
        "DISTANCE": 50, "OUTPUT_XLSX": str(workbook), **outputs})
    lines = [f"ran in {result['EXECUTION']}; {result['PIPES_USED']} live pipes; {result['BUILDINGS_CLASSIFIED']} "
             f"buildings: {result['CONNECTED']} connected with a pipe within 50 m, {result['CONNECTED_NO_PIPE']} "
             f"connected without one, {result['POTENTIAL']} potential customers, {result['OUT_OF_REACH']} out of "
             f"reach; {result['OUTSIDE_WARDS']} outside every ward; {result['PIPE_CODE_FLAGS']} pipe codes flagged"]
    from qgis.core import QgsVectorLayer

    summary = QgsVectorLayer(result["OUTPUT_SUMMARY"], "summary", "ogr")
    for feature in summary.getFeatures():
        values = feature.attributes()[1:]  # fid first
        lines.append(f"  {values[0]:20s} {values[1]:>6} buildings, {values[7]:6.2f} % connected with a pipe in reach")
    lines.append(f"workbook: {workbook.relative_to(out_dir.parent)}; layers in {folder.relative_to(out_dir.parent)}/")
    return lines


DEMO_STEPS.append(water_supply_coverage_step)


def point_buffer_step(gpkg, out_dir, layers):
    """imis:pointbuffer: buildings and containments within 100 m of the town centre (the Point buffer map tool)"""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject

    buildings = layers["buildings"]
    centre = QgsCoordinateTransform(buildings.crs(), QgsCoordinateReferenceSystem("EPSG:4326"),
                                    QgsProject.instance()).transform(buildings.extent().center())
    workbook = out_dir / "Point Buffer Summary Information.xlsx"
    result = run_algorithm("imis:pointbuffer", {
        "POINT": f"{centre.x()!r},{centre.y()!r} [EPSG:4326]", "BUILDINGS": buildings,
        "CONTAINMENTS": layers["containments"], "DISTANCE": 100, "OUTPUT_BUILDINGS": "TEMPORARY_OUTPUT",
        "OUTPUT_SUMMARY": "TEMPORARY_OUTPUT", "OUTPUT_XLSX": str(workbook)})
    return [f"point {centre.x():.5f}, {centre.y():.5f}, 100 m ({result['EXECUTION']}): {result['BUILDINGS_IN_ZONE']} "
            f"buildings, {result['BUILDINGS_COUNTED']} counted in the IMIS summary, {result['CONTAINMENTS_IN_ZONE']} "
            f"containments; workbook: {workbook.name}"]


DEMO_STEPS.append(point_buffer_step)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpkg", default="data/imis_sample_town.gpkg")
    parser.add_argument("--out", default="out")
    args = parser.parse_args()
    gpkg = (REPO / args.gpkg).resolve()
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_sample(gpkg)

    started = time.time()
    app = start_qgis()
    from qgis.core import QgsApplication, QgsProject

    plugin = load_plugin()
    provider = QgsApplication.processingRegistry().providerById("imis")
    algs = sorted(alg.id() for alg in provider.algorithms())
    print(f"plugin loaded; Processing provider '{provider.id()}' ({provider.name()}) with {len(algs)} algorithms: "
          + (", ".join(algs) or "none yet"))

    from imis.imis_plugin.layers import load_imis_layers

    layers, problems = load_imis_layers(gpkg_path=str(gpkg), project=QgsProject.instance())
    for problem in problems:
        print("  problem:", problem)
    counts = {key: layer.featureCount() for key, layer in layers.items()}
    print("IMIS layers loaded from the sample GeoPackage (live rows):")
    for key, count in counts.items():
        print(f"  {layers[key].name():32s} {count:>7d}")
    report = {"gpkg": str(gpkg), "provider": provider.id(), "algorithms": algs, "layer_counts": counts,
              "steps": {}}

    for step in DEMO_STEPS:
        print(f"{step.__doc__.strip().splitlines()[0]}")
        t0 = time.time()
        lines = step(gpkg, out, layers)
        for line in lines:
            print("  " + line)
        report["steps"][step.__name__] = {"seconds": round(time.time() - t0, 2), "report": lines}

    (out / "demo_report.json").write_text(json.dumps(report, indent=2))
    print(f"done in {time.time() - started:.1f} s; outputs in {out}")
    plugin.unload()
    QgsProject.instance().clear()
    app.exitQgis()


if __name__ == "__main__":
    main()
