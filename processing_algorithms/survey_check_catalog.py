"""The survey checks: stable codes, severities, titles and the plain-text messages.

Pure Python (no QGIS, no database) so the wording is tested on its own. Codes are part of
the plugin's interface: data editors filter on them and the workbook lists them; never rename.
"""
from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    code: str
    severity: str
    title: str
    description: str
    subject: str  # "building" or "containment": which id the issue carries
    threshold: str = ""  # name of the threshold parameter the check uses, if any


CHECKS = (
    Check("FOOTPRINT_INVALID", ERROR, "Invalid footprint",
          "The footprint is not a valid polygon (self-intersection, ring crossing, hole outside "
          "its shell…). The message gives the reason and the place.", "building"),
    Check("FOOTPRINT_MISSING", ERROR, "Empty or missing footprint",
          "The building has no footprint (NULL) or an empty one.", "building"),
    Check("FOOTPRINT_NOT_MULTIPOLYGON", ERROR, "Footprint not a 2D MultiPolygon",
          "The footprint is not stored as a 2D MultiPolygon in EPSG:4326, as IMIS requires.",
          "building"),
    Check("FOOTPRINT_DUPLICATE", ERROR, "Duplicate footprints",
          "Two live buildings have the same footprint (same area and outline, vertex order "
          "aside). Reported once per pair, on the building with the higher BIN.", "building"),
    Check("FOOTPRINT_OVERLAP", WARNING, "Overlapping buildings",
          "Two live footprints overlap by more than the given share of the smaller one. "
          "Footprints that only touch (shared walls) are not reported.", "building",
          "OVERLAP_SHARE"),
    Check("FOOTPRINT_SLIVER", WARNING, "Sliver footprint",
          "A footprint, or one part of a multi-part footprint, is smaller than the given "
          "area.", "building", "SLIVER_AREA"),
    Check("FOOTPRINT_OUTSIDE_CITY", WARNING, "Footprint outside the city boundary",
          "The footprint is not inside the city boundary (layer_info.citypolys), wholly or "
          "partly.", "building"),
    Check("WARD_MISMATCH", WARNING, "Ward differs from the footprint's ward",
          "The building's ward number is not the ward its footprint lies in (the ward that "
          "holds a point inside the footprint), or is empty.", "building"),
    Check("AREA_MISMATCH", WARNING, "Estimated area differs from the footprint",
          "estimated_area is empty or differs from the geodesic area of the footprint by more "
          "than the given share.", "building", "AREA_SHARE"),
    Check("CONTAINMENT_FAR", WARNING, "Containment far from its buildings",
          "The containment point is farther than the given distance from every live building "
          "it is linked to.", "containment", "CONTAINMENT_DISTANCE"),
    Check("CONTAINMENT_UNLINKED", WARNING, "Containment without a live link",
          "A live containment has no live link (build_contains) to a live building: it is "
          "invisible to every building-based analysis.", "containment"),
    Check("CONTAINMENT_MISSING", WARNING, "Septic/pit building without containment",
          "The building's sanitation system is one that uses containments (a system that "
          "fsm.containment_types refers to: septic tank or pit in IMIS), but it has no live "
          "link to a live containment.", "building"),
    Check("NETWORK_CODE_UNKNOWN", ERROR, "Drain, sewer or pipe code does not exist",
          "drain_code, sewer_code or watersupply_pipe_code names a line that is not in the "
          "network table.", "building"),
    Check("NETWORK_CODE_DELETED", ERROR, "Drain, sewer or pipe code is deleted",
          "drain_code, sewer_code or watersupply_pipe_code names a line that is soft-deleted.",
          "building"),
    Check("NETWORK_CODE_FAR", WARNING, "Drain, sewer or pipe far from the building",
          "The drain, sewer or water-supply line named by the building lies farther than the "
          "given distance from its footprint.", "building", "NETWORK_DISTANCE"),
)
BY_CODE = {check.code: check for check in CHECKS}
CODES = tuple(check.code for check in CHECKS)

NETWORK_COLUMNS = {
    "drain_code": "drain",
    "sewer_code": "sewer",
    "watersupply_pipe_code": "water-supply pipe",
}


@dataclass
class Issue:
    code: str
    message: str
    bin: str = None
    containment_id: str = None
    other_id: str = None
    value: float = None
    point_wkb: bytes = None
    area_wkb: bytes = None

    @property
    def severity(self):
        return BY_CODE[self.code].severity


@dataclass
class CheckStatus:
    """What happened to one check in a run (one summary row)."""
    code: str
    ran: bool = False
    count: int = 0
    threshold: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


def fmt_area(value):
    return f"{value:,.2f} m²"


def fmt_distance(value):
    return f"{value:,.1f} m"


def fmt_share(value):
    return f"{value * 100:.1f} %"


def fmt_point(lon, lat):
    return f"{lon:.6f}, {lat:.6f}"


def message(code, /, **v):
    """The message of one issue; `v` holds the values the check found."""
    if code == "FOOTPRINT_INVALID":
        where = f" near {fmt_point(*v['at'])}" if v.get("at") else ""
        return f"Building {v['bin']}: invalid footprint: {v['reason']}{where}."
    if code == "FOOTPRINT_MISSING":
        what = "no footprint (NULL)" if v.get("null") else "an empty footprint"
        return f"Building {v['bin']} has {what}."
    if code == "FOOTPRINT_NOT_MULTIPOLYGON":
        return (f"Building {v['bin']}: footprint is {v['found']}, not a 2D MultiPolygon in "
                "EPSG:4326.")
    if code == "FOOTPRINT_DUPLICATE":
        return (f"Building {v['bin']} has the same footprint as building {v['other']} "
                f"({fmt_area(v['area'])}).")
    if code == "FOOTPRINT_OVERLAP":
        return (f"Buildings {v['bin']} and {v['other']} overlap by {fmt_area(v['area'])}, "
                f"{fmt_share(v['share'])} of the smaller footprint.")
    if code == "FOOTPRINT_SLIVER":
        if v["parts"] > 1:
            return (f"Building {v['bin']}: part {v['part']} of {v['parts']} of the footprint "
                    f"is a sliver of {fmt_area(v['area'])}.")
        return f"Building {v['bin']}: the footprint is a sliver of {fmt_area(v['area'])}."
    if code == "FOOTPRINT_OUTSIDE_CITY":
        if v["inside"] <= 0:
            return f"Building {v['bin']} lies entirely outside the city boundary."
        outside = max(v["area"] - v["inside"], 0.0)
        share = outside / v["area"] if v["area"] > 0 else 0.0
        return (f"Building {v['bin']}: {fmt_area(outside)} ({fmt_share(share)}) of the footprint "
                "lies outside the city boundary.")
    if code == "WARD_MISMATCH":
        recorded = "no ward" if v["ward"] is None else f"ward {v['ward']}"
        actual = "no ward polygon" if v["geo_ward"] is None else f"ward {v['geo_ward']}"
        return f"Building {v['bin']} is recorded in {recorded} but its footprint lies in {actual}."
    if code == "AREA_MISMATCH":
        if v["estimated"] is None:
            return (f"Building {v['bin']}: estimated_area is empty; the footprint measures "
                    f"{fmt_area(v['area'])}.")
        diff = v["estimated"] - v["area"]
        share = f" ({fmt_share(abs(diff) / v['area'])})" if v["area"] > 0 else ""
        return (f"Building {v['bin']}: estimated_area is {fmt_area(v['estimated'])} but the "
                f"footprint measures {fmt_area(v['area'])}{share}.")
    if code == "CONTAINMENT_FAR":
        return (f"Containment {v['id']} is {fmt_distance(v['distance'])} from the nearest of its "
                f"linked buildings ({v['bins']}).")
    if code == "CONTAINMENT_UNLINKED":
        if v["links"]:
            return (f"Containment {v['id']} has no live link to a live building "
                    f"({v['links']} deleted link(s) or link(s) to deleted buildings).")
        return f"Containment {v['id']} is not linked to any building."
    if code == "CONTAINMENT_MISSING":
        return (f"Building {v['bin']} has sanitation system '{v['system']}' but no live "
                "containment.")
    if code == "NETWORK_CODE_UNKNOWN":
        return (f"Building {v['bin']}: {v['column']} '{v['code']}' is not a "
                f"{NETWORK_COLUMNS[v['column']]} in the network table.")
    if code == "NETWORK_CODE_DELETED":
        return (f"Building {v['bin']}: {v['column']} '{v['code']}' is a deleted "
                f"{NETWORK_COLUMNS[v['column']]}.")
    if code == "NETWORK_CODE_FAR":
        return (f"Building {v['bin']}: {NETWORK_COLUMNS[v['column']]} '{v['code']}' "
                f"({v['column']}) is {fmt_distance(v['distance'])} from the footprint.")
    raise KeyError(code)


STEPS = (  # (step method, codes it serves), in the order they run
    ("_invalid", ("FOOTPRINT_INVALID",)),
    ("_missing", ("FOOTPRINT_MISSING",)),
    ("_not_multi", ("FOOTPRINT_NOT_MULTIPOLYGON",)),
    ("_pairs", ("FOOTPRINT_DUPLICATE", "FOOTPRINT_OVERLAP")),
    ("_sliver", ("FOOTPRINT_SLIVER",)),
    ("_outside_city", ("FOOTPRINT_OUTSIDE_CITY",)),
    ("_ward", ("WARD_MISMATCH",)),
    ("_area", ("AREA_MISMATCH",)),
    ("_containment_far", ("CONTAINMENT_FAR",)),
    ("_containment_unlinked", ("CONTAINMENT_UNLINKED",)),
    ("_containment_missing", ("CONTAINMENT_MISSING",)),
    ("_network", ("NETWORK_CODE_UNKNOWN", "NETWORK_CODE_DELETED", "NETWORK_CODE_FAR")),
)


class CheckRun:
    """What both engines (PostGIS, QGIS) share: steps, statuses, and turning findings into issues.

    Subclasses implement _begin/_end, _missing_tables(codes) and one method per step of STEPS;
    steps call the report_* helpers with what they measured, so both engines word and
    classify findings identically.
    """

    def __init__(self, thresholds, scope=None, feedback=None):
        self.thresholds = dict(thresholds)
        self.scope = set(scope) if scope is not None else None
        self.feedback = feedback
        self.issues = []
        self.statuses = {}

    def cancelled(self):
        return self.feedback is not None and self.feedback.isCanceled()

    def in_scope(self, bin_):
        return self.scope is None or bin_ in self.scope

    def run(self, codes, progress=None):
        """Run the checks in `codes`; returns (issues, statuses by code)."""
        wanted = set(codes)
        for code in CODES:
            if code in wanted:
                self.statuses[code] = CheckStatus(code)
        # The invalid-footprint step always runs: the other footprint checks leave those out.
        steps = [(name, [c for c in step_codes if c in wanted]) for name, step_codes in STEPS]
        steps = [(name, chosen) for name, chosen in steps if chosen or name == "_invalid"]
        self._begin()
        try:
            for number, (name, chosen) in enumerate(steps):
                if self.cancelled():
                    break
                missing = self._missing_tables(chosen)
                if missing:
                    for code in chosen:
                        self.statuses[code].note = "skipped: table(s) missing: " + ", ".join(missing)
                else:
                    getattr(self, name)(chosen)
                if progress:
                    progress(number + 1, len(steps))
        finally:
            self._end()
        return self.issues, self.statuses

    def _begin(self):
        pass

    def _end(self):
        pass

    def _missing_tables(self, codes):
        return []

    def mark_ran(self, codes):
        for code in codes:
            if code in self.statuses:
                self.statuses[code].ran = True

    def skip(self, code, note):
        if code in self.statuses:
            self.statuses[code].note = note

    def add(self, code, values, **kw):
        if code not in self.statuses:
            return
        self.issues.append(Issue(code=code, message=message(code, **values), **kw))
        self.statuses[code].count += 1

    # --- findings -> issues (shared wording and classification) ---------------------------
    def report_invalid(self, bin_, reason, at, point, area):
        if self.in_scope(bin_):
            self.add("FOOTPRINT_INVALID", {"bin": bin_, "reason": reason or "invalid", "at": at},
                     bin=bin_, point_wkb=point, area_wkb=area)

    def report_missing(self, bin_, is_null):
        self.add("FOOTPRINT_MISSING", {"bin": bin_, "null": is_null}, bin=bin_)

    def report_not_multi(self, bin_, found, point):
        self.add("FOOTPRINT_NOT_MULTIPOLYGON", {"bin": bin_, "found": found}, bin=bin_, point_wkb=point)

    def report_pair(self, bin_a, bin_b, same, inter, ratio, point, area):
        if same:
            self.add("FOOTPRINT_DUPLICATE", {"bin": bin_b, "other": bin_a, "area": inter},
                     bin=bin_b, other_id=bin_a, value=inter, point_wkb=point, area_wkb=area)
        elif ratio is not None and ratio > self.thresholds["overlap_share"]:
            self.add("FOOTPRINT_OVERLAP", {"bin": bin_a, "other": bin_b, "area": inter, "share": ratio},
                     bin=bin_a, other_id=bin_b, value=ratio, point_wkb=point, area_wkb=area)

    def report_sliver(self, bin_, part, parts, area, point, geom):
        self.add("FOOTPRINT_SLIVER", {"bin": bin_, "part": part, "parts": parts, "area": area},
                 bin=bin_, value=area, point_wkb=point, area_wkb=geom)

    def report_outside_city(self, bin_, area, inside, point, geom):
        share = (area - inside) / area if area else None
        self.add("FOOTPRINT_OUTSIDE_CITY", {"bin": bin_, "area": area, "inside": inside},
                 bin=bin_, value=share, point_wkb=point, area_wkb=geom)

    def report_ward(self, bin_, ward, geo_ward, point):
        self.add("WARD_MISMATCH", {"bin": bin_, "ward": ward, "geo_ward": geo_ward}, bin=bin_,
                 other_id=None if geo_ward is None else str(geo_ward), point_wkb=point)

    def report_area(self, bin_, estimated, area, point):
        self.add("AREA_MISMATCH", {"bin": bin_, "estimated": estimated, "area": area},
                 bin=bin_, value=area, point_wkb=point)

    def report_containment_far(self, cid, bins, distance, point):
        first = bins.split(", ")[0] if bins else None
        self.add("CONTAINMENT_FAR", {"id": cid, "distance": distance, "bins": bins},
                 containment_id=cid, bin=first, other_id=bins, value=distance, point_wkb=point)

    def report_unlinked(self, cid, links, point):
        self.add("CONTAINMENT_UNLINKED", {"id": cid, "links": links}, containment_id=cid, point_wkb=point)

    def report_containment_missing(self, bin_, system_id, system, point):
        label = system if system else f"id {system_id}"
        self.add("CONTAINMENT_MISSING", {"bin": bin_, "system": label}, bin=bin_, point_wkb=point)

    def report_network(self, bin_, column, code, unknown, deleted, distance, point):
        if unknown:
            found = "NETWORK_CODE_UNKNOWN"
        elif deleted:
            found = "NETWORK_CODE_DELETED"
        elif distance is not None and distance > self.thresholds["network_distance"]:
            found = "NETWORK_CODE_FAR"
        else:
            return
        self.add(found, {"bin": bin_, "column": column, "code": code, "distance": distance},
                 bin=bin_, other_id=code, value=distance, point_wkb=point)


UNLINKED_IN_SCOPE_NOTE = "skipped: a containment without links cannot belong to the chosen buildings"


def help_table():
    """The check list as help text (HTML, as Processing help shows it)."""
    rows = "".join(
        f"<li><b>{c.code}</b> ({c.severity}): {c.description}</li>" for c in CHECKS
    )
    return f"<ul>{rows}</ul>"
