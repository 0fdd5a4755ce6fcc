"""Seeded lookup rows of Base IMIS v1.0.0 (DATABASE.md section 12).

One source of truth for the sample town: the PostGIS and GeoPackage writers both use
``LOOKUPS``. These are the rows ``php artisan db:seed`` inserts; real deployments change
them, so plugin code must never hard-code these labels (DATABASE.md 12.1).

``LOOKUPS`` is ordered so that inserting in iteration order satisfies the foreign keys
(functional_uses before use_categorys, sanitation_systems before containment_types).
Pure standard library; psycopg2 is imported only inside ``insert_lookups``.
"""

LOOKUPS = {
    # DATABASE.md 12.2 (4 rows)
    "building_info.structure_types": {
        "columns": ["id", "type"],
        "rows": [
            (1, 'RCC framed'),
            (2, 'Load bearing'),
            (3, 'CGI Sheet'),
            (4, 'Wooden/Mud'),
        ],
    },
    # DATABASE.md 12.3 (14 rows)
    "building_info.functional_uses": {
        "columns": ["id", "name"],
        "rows": [
            (1, 'Residential'),
            (2, 'Mixed (Residential, Commercial, Office uses)'),
            (3, 'Educational'),
            (4, 'Health Institution'),
            (5, 'Commercial'),
            (6, 'Industrial'),
            (7, 'Agriculture and Livestock'),
            (8, 'Public Institution'),
            (9, 'Government Institution'),
            (10, 'Recreational Institution'),
            (11, 'Social Institution'),
            (12, 'Cultural and Religious'),
            (13, 'Financial Institution'),
            (14, 'Vacant/Under Construction'),
        ],
    },
    # DATABASE.md 12.4 (67 rows)
    "building_info.use_categorys": {
        "columns": ["id", "name", "functional_use_id"],
        "rows": [
            (1, 'Residential', 1),
            (2, 'Housing', 1),
            (3, 'Apartment', 1),
            (4, 'Orphanage', 1),
            (5, 'Old-aged Home', 1),
            (6, 'Hostel', 1),
            (7, 'Mixed', 2),
            (8, 'School', 3),
            (9, 'College', 3),
            (10, 'University', 3),
            (11, 'Training Center', 3),
            (12, 'Hospital', 4),
            (13, 'Clinic/Health Post', 4),
            (14, 'Shop', 5),
            (15, 'Restaurant', 5),
            (16, 'Hotel / Resort', 5),
            (17, 'Offices (Private)', 5),
            (18, 'Shopping mall / Super Market', 5),
            (19, 'Party Palace/Banquets', 5),
            (20, 'Business Complex', 5),
            (21, 'Industry', 6),
            (22, 'Factory', 6),
            (23, 'Warehouse', 6),
            (24, 'Workshop', 6),
            (25, 'Printing Press', 6),
            (26, 'Agriculture Farm', 7),
            (27, 'LiveStocks', 7),
            (28, 'City hall', 8),
            (29, 'Museum', 8),
            (30, 'Public Library and archive', 8),
            (31, 'Public transportation terminal', 8),
            (32, 'Parking', 8),
            (33, 'Post office', 8),
            (34, 'Community Toilet', 8),
            (35, 'Public Toilet', 8),
            (36, 'Municipal Office', 9),
            (37, 'Ward Office', 9),
            (38, 'Government Office', 9),
            (39, 'Police Office', 9),
            (40, 'Fire Station', 9),
            (41, 'Army barrack', 9),
            (42, 'Jail', 9),
            (43, 'Club', 10),
            (44, 'Stadium', 10),
            (45, 'Cinema/theatre', 10),
            (46, 'Sports complex', 10),
            (47, 'Fitness center', 10),
            (48, 'Recreational center', 10),
            (49, 'NGO', 11),
            (50, 'INGO', 11),
            (51, 'Political Party', 11),
            (52, 'Guthi house', 11),
            (53, 'Media', 11),
            (54, 'Social Group /Samiti Bhawan', 11),
            (55, 'Temple', 12),
            (56, 'Church', 12),
            (57, 'Mosque', 12),
            (58, 'Stupa', 12),
            (59, 'Hermitage (kuti)', 12),
            (60, 'Mourning house', 12),
            (61, 'Bihar/Gumba', 12),
            (62, 'Bhajan Mandal', 12),
            (63, 'Cultural Centers', 12),
            (64, 'Bank', 13),
            (65, 'Cooperative/Finance', 13),
            (66, 'Vacant building', 14),
            (67, 'Building under construction', 14),
        ],
    },
    # DATABASE.md 12.5 (12 rows)
    "building_info.sanitation_systems": {
        "columns": ["id", "sanitation_system", "dashboard_display", "map_display", "icon_name"],
        "rows": [
            (1, 'Sewer Network', True, True, 'sewers.svg'),
            (2, 'Drain Network', False, True, 'others.svg'),
            (3, 'Septic Tank', True, True, 'septic-tank.svg'),
            (4, 'Pit/ Holding Tank', True, True, 'pit.svg'),
            (5, 'Onsite Treatment (e.g., Anaerobic Digestor/ Biogas, DEWATS)', True, True, 'no_icon'),
            (6, 'Composting Toilet (e.g., Ecosan, UDDT, etc.)', True, True, 'no_icon'),
            (7, 'Water Body', False, True, 'others.svg'),
            (8, 'Open Ground', False, True, 'others.svg'),
            (9, 'Community Toilet', False, True, 'others.svg'),
            (10, 'Open Defecation', False, True, 'others.svg'),
            (11, 'Shared Septic Tank', False, False, ''),
            (12, 'Shared Toilet', True, True, ''),
        ],
    },
    # DATABASE.md 12.6 (10 rows)
    "building_info.water_sources": {
        "columns": ["id", "source"],
        "rows": [
            (1, 'Jar Water'),
            (2, 'Rainwater'),
            (3, 'Spring/River/Canal'),
            (4, 'Others'),
            (5, 'Private Tanker water'),
            (6, 'Tube well'),
            (7, 'Deep boring'),
            (8, 'Dug well'),
            (9, 'Stone spout/Pond'),
            (10, 'Municipal/Public water supply'),
        ],
    },
    # DATABASE.md 12.7 (16 rows)
    "fsm.containment_types": {
        "columns": ["id", "type", "sanitation_system_id", "dashboard_display", "map_display"],
        "rows": [
            (1, 'Septic Tank connected to Sewer Network', 3, True, 'Septic Tank'),
            (2, 'Septic Tank connected to Drain Network', 3, True, 'Septic Tank'),
            (3, 'Septic Tank connected to Soak Pit', 3, True, 'Septic Tank'),
            (4, 'Septic Tank connected to Water Body', 3, True, 'Septic Tank'),
            (5, 'Septic Tank connected to Open Ground', 3, True, 'Septic Tank'),
            (6, 'Septic Tank without Outlet Connection', 3, True, 'Septic Tank'),
            (7, 'Septic Tank with Unknown Outlet Connection', 3, True, 'Septic Tank'),
            (8, 'Double Pit', 4, True, 'Double Pit'),
            (9, 'Permeable/ Unlined Pit/Holding Tank', 4, True, 'Permeable/ Unlined Pit/Holding Tank'),
            (10, 'Lined Pit connected to a Soak Pit', 4, True, 'Lined Pit'),
            (11, 'Lined Pit connected to Water Body', 4, True, 'Lined Pit'),
            (12, 'Lined Pit connected to Open Ground', 4, True, 'Lined Pit'),
            (13, 'Lined Pit connected to Sewer Network', 4, True, 'Lined Pit'),
            (14, 'Lined Pit connected to Drain Network', 4, True, 'Lined Pit'),
            (15, 'Lined Pit without Outlet', 4, True, 'Lined Pit'),
            (16, 'Lined Pit with Unknown Outlet Connection', 4, True, 'Lined Pit'),
        ],
    },
}


def insert_lookups(cur):
    """Insert every row of ``LOOKUPS`` with cursor ``cur`` (psycopg2), in FK-safe order.

    Identifiers go through ``psycopg2.sql.Identifier``; values are bound parameters.
    The caller owns the transaction (commit/rollback).
    """
    from psycopg2 import sql

    for qualified, spec in LOOKUPS.items():
        schema, table = qualified.split(".", 1)
        columns = spec["columns"]
        statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(", ").join(sql.Placeholder() for _ in columns),
        )
        cur.executemany(statement, spec["rows"])
