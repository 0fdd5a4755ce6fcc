"""Processing algorithm `imis:councilmap`: a print-ready council map of an analysis result.

Threading: QGIS's own "Export print layout as PDF" (native:printlayouttopdf) declares
FlagNoThreading because it exports a layout of the user's project, whose layers and layouts
belong to the main thread; the QGIS window is blocked while it renders. This algorithm keeps
the default (background) flags instead: prepareAlgorithm (main thread) checks the inputs and
takes thread-safe feature-source snapshots of them (owned_layers.py); processAlgorithm (worker
thread) makes its own layers from them, builds its own QgsProject and QgsPrintLayout from the
template and exports them. No object the user's project owns is drawn, styled or changed.
"""
import datetime
import math
import os

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeatureRequest, QgsGeometry,
                       QgsProcessing, QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum, QgsProcessingParameterField,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProcessingParameterString, QgsProject, QgsRectangle,
                       QgsSpatialIndex, QgsVectorLayer, QgsWkbTypes)

from ..imis_plugin.layers import RIVER
from . import council_layout, map_styles
from .owned_layers import LayerRecipe

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
PAPERS = ["A4", "A3"]
ORIENTATIONS = ["landscape", "portrait"]
DEFAULT_TITLE = "Buildings and containments in the analysis zone"


def utm_crs(lon, lat):
    """The WGS 84 / UTM zone CRS of a point (metres, true shapes at town scale)."""
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return QgsCoordinateReferenceSystem(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


def _humanize(name):
    return name.replace("_", " ").strip()


# Zone fields IMIS analyses write, in words for the map's parameter line.
ZONE_FIELD_WORDS = {"distance_m": ("Distance", "{:g} m"), "distance": ("Distance", "{:g} m"),
                    "method": ("Method", "{}"), "waterbodies": ("Water bodies used", "{:,}"),
                    "waterbody_types": ("Water body types", "{}")}


def _plural(kinds):
    """"River, Pond" -> "rivers and ponds"."""
    words = [k.strip().lower() for k in str(kinds).split(",") if k.strip()]
    words = [w if w.endswith("s") else (w[:-1] + "ies" if w.endswith("y") else w + "s") for w in words]
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def default_title(attributes, layer_title=""):
    """The map title an analysis zone implies (see ZONE_FIELD_WORDS for the fields read)."""
    if attributes.get("title"):
        return str(attributes["title"])
    distance = attributes.get("distance_m", attributes.get("distance"))
    if isinstance(distance, (int, float)):
        if attributes.get("waterbody_types"):
            target = _plural(attributes["waterbody_types"])
        elif "waterbodies" in attributes:
            target = "water bodies"
        else:
            target = str(attributes.get("target") or "")
        if target:
            return f"Buildings and containments within {distance:g} m of {target}"
    return layer_title or DEFAULT_TITLE


def parameters_text(attributes):
    parts = []
    for key, value in attributes.items():
        if key in ("title", "target"):
            continue
        label, pattern = ZONE_FIELD_WORDS.get(key, (_humanize(key).capitalize(), "{}"))
        try:
            text = pattern.format(value)
        except (ValueError, TypeError):
            text = str(value)
        parts.append(f"{label}: {text}")
    return "; ".join(parts)


class CouncilMapAlgorithm(QgsProcessingAlgorithm):
    ZONE = "ZONE"
    RESULT_BUILDINGS = "RESULT_BUILDINGS"
    CATEGORY_FIELD = "CATEGORY_FIELD"
    RESULT_CONTAINMENTS = "RESULT_CONTAINMENTS"
    SUMMARY = "SUMMARY"
    CONTAINMENT_SUMMARY = "CONTAINMENT_SUMMARY"
    WATERBODIES = "WATERBODIES"
    ROADS = "ROADS"
    WARDS = "WARDS"
    CITY = "CITY"
    TITLE = "TITLE"
    PARAMETERS_TEXT = "PARAMETERS_TEXT"
    DATA_SOURCE = "DATA_SOURCE"
    PAPER = "PAPER"
    ORIENTATION = "ORIENTATION"
    ATLAS_BY_WARD = "ATLAS_BY_WARD"
    DPI = "DPI"
    TEMPLATE = "TEMPLATE"
    OUTPUT_PDF = "OUTPUT_PDF"
    OUTPUT_PNG = "OUTPUT_PNG"
    PAGES = "PAGES"

    WATER_KINDS = (QgsWkbTypes.PolygonGeometry, QgsWkbTypes.LineGeometry)
    LAYERS = {  # parameter: (allowed geometry types, description for messages)
        ZONE: ((QgsWkbTypes.PolygonGeometry,), "analysis zone"),
        RESULT_BUILDINGS: ((QgsWkbTypes.PolygonGeometry,), "buildings in the zone"),
        RESULT_CONTAINMENTS: ((QgsWkbTypes.PointGeometry,), "containments in the zone"),
        ROADS: ((QgsWkbTypes.LineGeometry,), "roads"),
        WARDS: ((QgsWkbTypes.PolygonGeometry,), "wards"),
        CITY: ((QgsWkbTypes.PolygonGeometry,), "city boundary"),
    }

    def name(self):
        return "councilmap"

    def displayName(self):
        return "Council map of an analysis (PDF and PNG)"

    def group(self):
        return "Maps"

    def groupId(self):
        return "maps"

    def shortHelpString(self):
        return (
            "<p>Makes a print-ready map of an analysis result for the municipal council: the analysis zone, "
            "the buildings in it coloured by structure type (or another field), their containments, water "
            "bodies, roads and ward boundaries on a plain background, with legend, scale bar, north arrow, "
            "the summary tables, the municipality's name, the date, the data source and the analysis "
            "parameters. Output: a PDF and a PNG.</p>"
            "<p><b>Inputs</b>: the outputs of an IMIS analysis, e.g. <i>Buildings and containments near "
            "water bodies</i>: its zone, its buildings, its containments (optional) and its summary tables. "
            "The base layers are the IMIS layers (from the IMIS database or GeoPackage); each is drawn with "
            "the same style as <i>Load IMIS layers</i> uses. The municipality's name comes from the "
            "<i>name</i> field of the city boundary layer.</p>"
            "<p><b>Title</b>: left empty, it is taken from the analysis zone layer: its <i>title</i> field, "
            "else its distance and water body fields (e.g. 'Buildings and containments within 100 m of water "
            "bodies'), else its metadata title. <b>Analysis parameters</b>: left empty, they are taken from the "
            "fields of the zone layer (distance, method, ...).</p>"
            "<p><b>Paper</b>: A4 or A3, landscape or portrait; A3 is the A4 page enlarged, so the map shows "
            "more detail.</p>"
            "<p><b>One page per ward</b>: the PDF gets one page per ward of the ward layer (tick "
            "'Selected features only' on the ward layer for some wards: all wards are still drawn); the "
            "ward is outlined and the rest veiled; each page notes how many of the "
            "zone's buildings and containments lie in that ward, while the tables stay those of the whole "
            "zone. The PNG is then the whole-zone map, and one more PNG per ward is written beside it "
            "(<i>name</i>_ward_<i>N</i>.png).</p>"
            "<p>Sanitation columns of the buildings table that are zero in every row are left out, as in "
            "IMIS's on-screen summary.</p>"
            "<p><b>Layout template</b>: the map is made from the template shipped with the plugin "
            "(layouts/council_map_landscape.qpt or council_map_portrait.qpt). To change its look, open that "
            "file in QGIS (Project > Layout Manager > New from template > Specific), edit it, save it as a "
            "template and choose your file here. Items are found by their ids (map, legend, scalebar, "
            "north_arrow, title, buildings_table, containments_table, ...).</p>"
            "<p>The map is drawn in the background: QGIS stays usable, and Cancel stops between pages.</p>"
        )

    def createInstance(self):
        return CouncilMapAlgorithm()

    def initAlgorithm(self, config=None):
        polygon, point, line, table = (QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint,
                                       QgsProcessing.TypeVectorLine, QgsProcessing.TypeVector)
        self.addParameter(QgsProcessingParameterFeatureSource(self.ZONE, "Analysis zone", [polygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(self.RESULT_BUILDINGS, "Buildings in the zone",
                                                              [polygon]))
        self.addParameter(QgsProcessingParameterField(
            self.CATEGORY_FIELD, "Colour the buildings by (default: the structure type field)",
            parentLayerParameterName=self.RESULT_BUILDINGS, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.RESULT_CONTAINMENTS, "Containments in the zone", [point], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.SUMMARY, "Summary table: buildings by structure type", [table]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CONTAINMENT_SUMMARY, "Summary table: containments by type", [table], optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.WATERBODIES, "Water bodies (one or more layers, e.g. Rivers and Ponds)", QgsProcessing.TypeVector,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(self.ROADS, "Roads", [line], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(self.WARDS, "Wards", [polygon], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.CITY, "City boundary (its 'name' is the municipality's name)", [polygon], optional=True))
        self.addParameter(QgsProcessingParameterString(self.TITLE, "Title (default: from the analysis)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.PARAMETERS_TEXT, "Analysis parameters shown on the map (default: from the analysis zone)",
            optional=True, multiLine=True))
        self.addParameter(QgsProcessingParameterString(
            self.DATA_SOURCE, "Data source shown on the map (default: the layers' database or file)",
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PAPER, "Paper size", PAPERS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.ORIENTATION, "Orientation",
                                                     ["Landscape", "Portrait"], defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.ATLAS_BY_WARD, "One page per ward",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterNumber(
            self.DPI, "Resolution (dots per inch) of the PNG and of raster parts of the PDF",
            QgsProcessingParameterNumber.Integer, defaultValue=200, minValue=50, maxValue=600))
        template = QgsProcessingParameterFile(self.TEMPLATE, "Layout template (default: the IMIS council map)",
                                              extension="qpt", optional=True)
        template.setFlags(template.flags() | template.FlagAdvanced)
        self.addParameter(template)
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_PDF, "Council map (PDF)",
                                                                "PDF files (*.pdf)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_PNG, "Council map (PNG image)",
                                                                "PNG images (*.png)", optional=True))
        self.addOutput(QgsProcessingOutputNumber(self.PAGES, "Pages in the PDF"))

    # Main thread: check the inputs and take thread-safe snapshots of them (no features read).
    def prepareAlgorithm(self, parameters, context, feedback):
        self.recipes = {}
        for name, (allowed, what) in self.LAYERS.items():
            recipe = LayerRecipe.describe(self, parameters, name, context)
            if recipe is None:
                if not self.parameterDefinition(name).flags() & self.parameterDefinition(name).FlagOptional:
                    raise QgsProcessingException(f"The {what} layer is missing or could not be opened.")
                continue
            self._check_geometry(recipe, allowed, what)
            self.recipes[name] = recipe
        self.water = []
        for layer in self.parameterAsLayerList(parameters, self.WATERBODIES, context):
            if not isinstance(layer, QgsVectorLayer):
                raise QgsProcessingException(f"The water body layer '{layer.name()}' is not a vector layer.")
            recipe = LayerRecipe(layer)
            self._check_geometry(recipe, self.WATER_KINDS, "water body")
            self.water.append(recipe)
        self.tables = {}
        for name, what in ((self.SUMMARY, "buildings summary"), (self.CONTAINMENT_SUMMARY, "containments summary")):
            recipe = LayerRecipe.describe(self, parameters, name, context)
            if recipe is not None and recipe.fields.count() < 2:
                raise QgsProcessingException(
                    f"The {what} table '{recipe.name}' must have a label column and at least one count column.")
            self.tables[name] = recipe
        if self.parameterAsBoolean(parameters, self.ATLAS_BY_WARD, context) and self.WARDS not in self.recipes:
            raise QgsProcessingException("'One page per ward' needs the wards layer.")
        if not (self._destination(parameters, self.OUTPUT_PDF, context)
                or self._destination(parameters, self.OUTPUT_PNG, context)):
            raise QgsProcessingException("Choose where to save the map: a PDF file, a PNG file or both.")
        template = self.parameterAsFile(parameters, self.TEMPLATE, context)
        if template and not os.path.isfile(template):
            raise QgsProcessingException(f"The layout template {template} does not exist.")
        return True

    @staticmethod
    def _check_geometry(recipe, allowed, what):
        if recipe.geometry_type not in allowed:
            kinds = " or ".join(QgsWkbTypes.geometryDisplayString(k).lower() for k in allowed)
            has = QgsWkbTypes.geometryDisplayString(recipe.geometry_type).lower()
            raise QgsProcessingException(
                f"The {what} layer '{recipe.name}' has {has} geometries; it must have {kinds} geometries.")

    def _destination(self, parameters, name, context):
        value = parameters.get(name)
        if value is None or value == "":
            return ""
        return self.parameterAsFileOutput(parameters, name, context)

    # Worker thread: everything below uses objects created here.
    def processAlgorithm(self, parameters, context, feedback):
        feedback.setProgressText("Reading the analysis result")
        pdf_path = self._destination(parameters, self.OUTPUT_PDF, context)
        png_path = self._destination(parameters, self.OUTPUT_PNG, context)
        paper = PAPERS[self.parameterAsEnum(parameters, self.PAPER, context)]
        orientation = ORIENTATIONS[self.parameterAsEnum(parameters, self.ORIENTATION, context)]
        atlas = self.parameterAsBoolean(parameters, self.ATLAS_BY_WARD, context)
        dpi = self.parameterAsInt(parameters, self.DPI, context)
        template = self.parameterAsFile(parameters, self.TEMPLATE, context) or None

        buildings_table = self._table(self.tables[self.SUMMARY])
        containments_table = self._table(self.tables[self.CONTAINMENT_SUMMARY])
        feedback.setProgress(5)

        def open_layer(name, title):
            recipe = self.recipes.get(name)
            # A selection on a base layer (the wards for the pages) does not hide the rest of it.
            base = name in (self.ROADS, self.WARDS, self.CITY)
            return None if recipe is None else recipe.open(feedback, title, selection=not base)

        zone = open_layer(self.ZONE, "Analysis zone")
        zone_attributes = self._zone_attributes(zone)
        title = (self.parameterAsString(parameters, self.TITLE, context).strip()
                 or default_title(zone_attributes, self.recipes[self.ZONE].metadata_title))
        map_styles.apply_zone_style(zone, "Analysis zone")

        buildings = open_layer(self.RESULT_BUILDINGS, "Buildings in the zone")
        category = self.parameterAsString(parameters, self.CATEGORY_FIELD, context) or self._structure_field(buildings)
        if category:
            map_styles.categorize_buildings(buildings, category, [str(row[0]) for row in buildings_table.rows],
                                            f"Buildings in the zone, by {_humanize(category)}")
        else:
            map_styles.apply_imis_style(buildings, "buildings", "Buildings in the zone")
        containments = open_layer(self.RESULT_CONTAINMENTS, "Containments in the zone")
        if containments is not None:
            map_styles.apply_imis_style(containments, "containments", "Containments in the zone")
        if feedback.isCanceled():
            return {}

        water = self._water_layers(feedback)
        roads = open_layer(self.ROADS, "Roads")
        if roads is not None:
            map_styles.apply_imis_style(roads, "roads")
        wards = open_layer(self.WARDS, "Ward boundaries")
        if wards is not None:
            map_styles.apply_imis_style(wards, "wards", "Ward boundaries")
        city = open_layer(self.CITY, "City boundary")
        if city is not None:
            map_styles.apply_imis_style(city, "city")
        feedback.setProgress(15)

        layers = [lyr for lyr in [containments, buildings, wards, roads] + water + [zone, city] if lyr is not None]
        extent = self._overview_extent(zone, buildings, containments, city)
        map_crs = utm_crs(extent.center().x(), extent.center().y())
        pages = [council_layout.Page("", QgsGeometry.fromRect(extent), file_stem=self._stem(png_path))]
        if atlas:
            pages += self._ward_pages(buildings, containments, png_path, feedback)
        if feedback.isCanceled():
            return {}

        data_source = (self.parameterAsString(parameters, self.DATA_SOURCE, context).strip()
                       or self._data_source())
        variables = {
            "imis_title": title,
            "imis_municipality": self._municipality(city),
            "imis_parameters": (self.parameterAsString(parameters, self.PARAMETERS_TEXT, context).strip()
                                or parameters_text(zone_attributes)),
            "imis_data_source": data_source,
            "imis_crs": map_crs.description(),
            "imis_table_note": self._table_note(buildings_table, buildings),
            "imis_date": datetime.date.today().isoformat(),
        }
        content = council_layout.MapContent(layers, pages, WGS84, map_crs, buildings_table, containments_table,
                                            variables)
        project = QgsProject()
        project.setCrs(map_crs)
        project.addMapLayers([lyr for lyr in layers], False)
        try:
            feedback.setProgressText("Drawing the map")
            layout = council_layout.build_layout(project, content, paper, orientation, template)
            longest = max((p.name for p in pages), key=len)
            council_layout.fit_label(layout.itemById("title"), title + (f" \u2014 {longest}" if longest else ""))
            feedback.setProgress(25)
            pdf_pages = council_layout.export(layout, pdf_path or None, png_path or None, dpi, feedback,
                                              pdf_filter='"ward" IS NOT NULL' if atlas else "")
        finally:
            layout = None
            project.clear()
        feedback.setProgress(100)
        results = {self.PAGES: pdf_pages}
        if pdf_path:
            results[self.OUTPUT_PDF] = pdf_path
        if png_path:
            results[self.OUTPUT_PNG] = png_path
        return results

    @staticmethod
    def _table(recipe):
        if recipe is None:
            return None
        rows = [[None if v is None or str(v) == "NULL" else v for v in feature.attributes()]
                for feature in recipe.features()]
        return council_layout.Table(recipe.fields.names(), rows)

    @staticmethod
    def _table_note(table, buildings):
        """Why the table's total can be smaller than the number of buildings on the map."""
        total = next((row for row in table.rows if str(row[0]).strip() == council_layout.TOTAL_LABEL), None)
        if total is None or len(total) < 2 or not isinstance(total[1], (int, float)):
            return ""
        shown = buildings.featureCount()
        if shown <= total[1]:
            return ""
        return (f"The table counts {int(total[1]):,} of the {shown:,} buildings in the zone: as in IMIS, buildings "
                "with no sanitation system recorded, or with one IMIS does not show on its map, are left out.")

    @staticmethod
    def _zone_attributes(zone):
        for feature in zone.getFeatures():
            values = {}
            for field, value in zip(zone.fields().names(), feature.attributes()):
                if field.lower() in ("fid", "id") or value is None or str(value) in ("", "NULL"):
                    continue
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                values[field.lower()] = value
            return values
        return {}

    @staticmethod
    def _structure_field(layer):
        for field in layer.fields():
            if "structure" in field.name().lower() and field.type() not in (2, 4):  # not an integer id
                return field.name()
        return ""

    def _water_layers(self, feedback):
        """Each water body layer with its IMIS style. An IMIS waterbodys table holding rivers and
        other water bodies is drawn as two layers, each with its own style and legend line."""
        layers = []
        for recipe in self.water:
            if recipe.imis_key in ("rivers", "ponds"):
                parts = [(recipe.imis_key, "")]
            elif recipe.fields.lookupField("type") >= 0:
                parts = [("rivers", RIVER), ("ponds", f"NOT ({RIVER})")]
            else:
                parts = [("rivers", "")]
            for key, subset in parts:
                title = map_styles.SPECS[key].title if subset or recipe.imis_key else recipe.name
                layer = recipe.open(feedback, title, subset, selection=False)
                if subset and layer.featureCount() == 0:
                    continue
                map_styles.apply_imis_style(layer, key, title)
                layers.append(layer)
        return layers

    @staticmethod
    def _extent_4326(*layers):
        extent = QgsRectangle()
        extent.setMinimal()
        for layer in layers:
            if layer is None or layer.featureCount() == 0:
                continue
            transform = QgsCoordinateTransform(layer.crs(), WGS84, QgsProject())
            extent.combineExtentWith(transform.transformBoundingBox(layer.extent()))
        return None if extent.isEmpty() or extent.isNull() else extent

    def _overview_extent(self, zone, buildings, containments, city):
        """The whole-zone page: the zone within the town (a river's zone may run far beyond
        it), and always every building and containment of the result."""
        zone_extent = self._extent_4326(zone)
        results = self._extent_4326(buildings, containments)
        town = self._extent_4326(city)
        if zone_extent is None and results is None:
            raise QgsProcessingException("The analysis zone and its results are empty: there is nothing to map.")
        extent = zone_extent or results
        if zone_extent is not None and town is not None and town.intersects(zone_extent):
            extent = town.intersect(zone_extent)
        if results is not None:
            extent.combineExtentWith(results)
        return extent

    @staticmethod
    def _stem(png_path):
        return os.path.splitext(os.path.basename(png_path))[0] if png_path else "council_map"

    def _ward_pages(self, buildings, containments, png_path, feedback):
        """One page per ward of the WARDS input (its selection, if 'selected features only')."""
        recipe = self.recipes[self.WARDS]
        to_wgs = QgsCoordinateTransform(recipe.crs, WGS84, QgsProject())
        label_field = "ward" if recipe.fields.lookupField("ward") >= 0 else None
        wards_geom, index = {}, QgsSpatialIndex()
        for feature in recipe.features(feedback):
            geometry = QgsGeometry(feature.geometry())
            if geometry.isEmpty():
                continue
            geometry.transform(to_wgs)
            key = feature[label_field] if label_field else feature.id()
            wards_geom[feature.id()] = (key, geometry)
            index.addFeature(feature.id(), geometry.boundingBox())
        counts = {fid: [0, 0] for fid in wards_geom}
        for slot, layer in ((0, buildings), (1, containments)):
            if layer is None:
                continue
            transform = QgsCoordinateTransform(layer.crs(), WGS84, QgsProject())
            request = QgsFeatureRequest().setNoAttributes()
            for feature in layer.getFeatures(request):
                if feedback.isCanceled():
                    return []
                point = feature.geometry().pointOnSurface()
                point.transform(transform)
                for fid in index.intersects(point.boundingBox()):
                    if wards_geom[fid][1].contains(point):
                        counts[fid][slot] += 1
                        break
        total_b = buildings.featureCount()
        total_c = containments.featureCount() if containments is not None else 0
        stem = self._stem(png_path)

        def sort_key(item):
            key = item[1][0]
            return (0, key, "") if isinstance(key, (int, float)) else (1, 0, str(key))

        pages = []
        for fid, (key, geometry) in sorted(wards_geom.items(), key=sort_key):
            n_b, n_c = counts[fid]
            note = f"Ward {key}: {n_b:,} of the zone's {total_b:,} buildings"
            if containments is not None:
                note += f" and {n_c:,} of its {total_c:,} containments"
            note += " lie in this ward. The tables are for the whole zone."
            safe = "".join(ch if ch.isalnum() else "_" for ch in str(key))
            pages.append(council_layout.Page(f"Ward {key}", geometry, note, key, f"{stem}_ward_{safe}"))
        if not pages:
            raise QgsProcessingException("'One page per ward': the wards layer has no ward with a geometry.")
        return pages

    def _municipality(self, city):
        if city is None or city.fields().lookupField("name") < 0:
            return ""
        names = []
        for feature in city.getFeatures():
            name = feature["name"]
            if name not in (None, "") and str(name) != "NULL" and name not in names:
                names.append(str(name))
        return ", ".join(names)

    def _data_source(self):
        described = []
        recipes = self.water + [self.recipes.get(n) for n in (self.ROADS, self.WARDS, self.CITY,
                                                                   self.RESULT_BUILDINGS)]
        for recipe in recipes:
            if recipe is not None and recipe.provider != "memory":
                text = recipe.describe_source()
                if text not in described:
                    described.append(text)
        return ", ".join(described) or "IMIS"
