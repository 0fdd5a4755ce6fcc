-- IMIS-compatible schema (Base IMIS v1.0.0), for the test and demo databases only.
--
-- Source: ../shared/imis/DATABASE.md (sections 2-14). Column names, order, types,
-- nullability, defaults, sequences, constraint and index names follow that document.
-- DDL only: the seeded lookup rows live in sampledata/lookups.py.
--
-- Run once on an empty database (psql -v ON_ERROR_STOP=1 -f sql/schema.sql).
-- Includes the trigger tgr_set_builtupperwardsummary on fsm.containments, which
-- (as in a real IMIS database) fully refreshes a materialised view on every row change.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS building_info;
CREATE SCHEMA IF NOT EXISTS fsm;
CREATE SCHEMA IF NOT EXISTS layer_info;
CREATE SCHEMA IF NOT EXISTS utility_info;
CREATE SCHEMA IF NOT EXISTS auth;

-- ---------------------------------------------------------------------------
-- Sequences (names as in the real dump, including the unused ones)
-- ---------------------------------------------------------------------------

CREATE SEQUENCE building_info.owners_id_seq1 AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE building_info.owners_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;  -- unused
CREATE SEQUENCE building_info.build_contains_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE fsm.build_toilets_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE fsm.treatment_plants_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE fsm.applications_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE layer_info.waterbodys_id_seq1 AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE layer_info.waterbodys_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;  -- unused
CREATE SEQUENCE layer_info.low_income_communities_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE public.revisions_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
CREATE SEQUENCE auth.users_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

-- ---------------------------------------------------------------------------
-- fsm.treatment_plants (5.5) -- before auth.users, which references it
-- ---------------------------------------------------------------------------

CREATE TABLE fsm.treatment_plants (
    id integer DEFAULT nextval('fsm.treatment_plants_id_seq'::regclass) NOT NULL,
    name character varying(254),
    location character varying(254),
    type integer,
    capacity_per_day numeric,
    caretaker_name character varying(254),
    caretaker_gender character varying(254),
    caretaker_number bigint,
    status boolean DEFAULT true,
    geom geometry(Point,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT treatment_plants_id_pkey PRIMARY KEY (id),
    CONSTRAINT treatment_plants_type_check CHECK (type IN (1, 2, 3, 4))
);
ALTER SEQUENCE fsm.treatment_plants_id_seq OWNED BY fsm.treatment_plants.id;
CREATE INDEX treatment_plants_geom_idx ON fsm.treatment_plants USING gist (geom);

-- ---------------------------------------------------------------------------
-- auth.users (9)
-- ---------------------------------------------------------------------------

CREATE TABLE auth.users (
    id integer DEFAULT nextval('auth.users_id_seq'::regclass) NOT NULL,
    name character varying(255) NOT NULL,
    gender character varying(255),
    username character varying(255),
    email character varying(255) NOT NULL,
    password character varying(255) NOT NULL,
    remember_token character varying(100),
    user_type character varying(255) NOT NULL,
    treatment_plant_id integer,
    help_desk_id integer,
    service_provider_id integer,
    status integer DEFAULT 1,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT auth_users_email_unique UNIQUE (email),
    CONSTRAINT auth_users_treatment_plant_id_foreign FOREIGN KEY (treatment_plant_id)
        REFERENCES fsm.treatment_plants (id)
);
ALTER SEQUENCE auth.users_id_seq OWNED BY auth.users.id;

-- ---------------------------------------------------------------------------
-- building_info lookup tables (4.4)
-- ---------------------------------------------------------------------------

CREATE TABLE building_info.structure_types (
    id integer NOT NULL,
    type character varying(255),
    CONSTRAINT structure_types_id_pkey PRIMARY KEY (id)
);

CREATE TABLE building_info.functional_uses (
    id integer NOT NULL,
    name character varying(255),
    CONSTRAINT functional_uses_id_pkey PRIMARY KEY (id)
);

CREATE TABLE building_info.use_categorys (
    id integer NOT NULL,
    name character varying(255),
    functional_use_id integer,
    CONSTRAINT use_categorys_id_pkey PRIMARY KEY (id),
    CONSTRAINT use_categorys_functional_use_id_fkey FOREIGN KEY (functional_use_id)
        REFERENCES building_info.functional_uses (id) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE building_info.sanitation_systems (
    id integer NOT NULL,
    sanitation_system character varying(100),
    dashboard_display boolean,
    map_display boolean,
    icon_name character varying(255),
    CONSTRAINT sanitation_systems_id_pkey PRIMARY KEY (id)
);

CREATE TABLE building_info.water_sources (
    id integer NOT NULL,
    source character varying(255),
    CONSTRAINT water_sources_id_pkey PRIMARY KEY (id)
);

-- ---------------------------------------------------------------------------
-- fsm.containment_types (5.2)
-- ---------------------------------------------------------------------------

CREATE TABLE fsm.containment_types (
    id integer NOT NULL,
    type character varying(100),
    sanitation_system_id integer,
    dashboard_display boolean,
    map_display character varying(100),
    CONSTRAINT containment_types_id_pkey PRIMARY KEY (id),
    CONSTRAINT containment_types_sanitation_system_id_fkey FOREIGN KEY (sanitation_system_id)
        REFERENCES building_info.sanitation_systems (id) ON UPDATE CASCADE
);

-- ---------------------------------------------------------------------------
-- layer_info (6)
-- ---------------------------------------------------------------------------

CREATE TABLE layer_info.waterbodys (
    id integer DEFAULT nextval('layer_info.waterbodys_id_seq1'::regclass) NOT NULL,
    name character varying(254),
    type character varying(10),
    geom geometry(MultiPolygon,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT waterbodys_id_pkey PRIMARY KEY (id)
);
ALTER SEQUENCE layer_info.waterbodys_id_seq1 OWNED BY layer_info.waterbodys.id;
CREATE INDEX waterbodys_geom_idx ON layer_info.waterbodys USING gist (geom);
CREATE INDEX waterbodys_name_idx ON layer_info.waterbodys USING btree (name);

CREATE TABLE layer_info.wards (
    ward integer NOT NULL,
    geom geometry(MultiPolygon,4326),
    area double precision,
    total_rdlen double precision,
    no_build integer,
    no_popsrv integer,
    no_hhsrv integer,
    no_rcc_framed integer,
    no_load_bearing integer,
    no_wooden_mud integer,
    no_cgi_sheet integer,
    no_build_directly_to_sewerage_network integer,
    no_contain integer,
    no_septic_tank integer,
    no_pit_holding_tank integer,
    no_emptying integer,
    bldgtaxpdprprtn double precision,
    wtrpmntprprtn double precision,
    swmsrvpmntprprtn double precision,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT wards_ward_pkey PRIMARY KEY (ward)
);
CREATE INDEX wards_geom_idx ON layer_info.wards USING gist (geom);

CREATE TABLE layer_info.grids (
    id integer NOT NULL,
    geom geometry(MultiPolygon,4326),
    total_rdlen double precision,
    no_build integer,
    no_popsrv integer,
    no_hhsrv integer,
    no_rcc_framed integer,
    no_load_bearing integer,
    no_wooden_mud integer,
    no_cgi_sheet integer,
    no_build_directly_to_sewerage_network integer,
    no_contain integer,
    no_septic_tank integer,
    no_pit_holding_tank integer,
    no_emptying integer,
    bldgtaxpdprprtn double precision,
    wtrpmntprprtn double precision,
    swmsrvpmntprprtn double precision,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT grids_id_pkey PRIMARY KEY (id)
);
CREATE INDEX grids_geom_idx ON layer_info.grids USING gist (geom);

CREATE TABLE layer_info.citypolys (
    id integer NOT NULL,
    name character varying(50),
    area double precision,
    geom geometry(MultiPolygon,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT citypolys_id_pkey PRIMARY KEY (id)
);

CREATE TABLE layer_info.places (
    id integer NOT NULL,
    name character varying(254),
    ward integer,
    geom geometry(Point,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT places_id_pkey PRIMARY KEY (id)
);
CREATE INDEX places_geom_idx ON layer_info.places USING gist (geom);
CREATE INDEX places_name_idx ON layer_info.places USING btree (name);

CREATE TABLE layer_info.low_income_communities (
    id integer DEFAULT nextval('layer_info.low_income_communities_id_seq'::regclass) NOT NULL,
    community_name character varying,
    geom geometry(MultiPolygon,4326),
    no_of_buildings integer,
    number_of_households integer,
    population_total integer,
    population_male integer,
    population_female integer,
    population_others integer,
    no_of_septic_tank integer,
    no_of_holding_tank integer,
    no_of_pit integer,
    no_of_sewer_connection integer,
    no_of_community_toilets integer,
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT low_income_communities_id_pkey PRIMARY KEY (id),
    CONSTRAINT low_income_communities_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id)
);
ALTER SEQUENCE layer_info.low_income_communities_id_seq OWNED BY layer_info.low_income_communities.id;
CREATE INDEX low_income_communities_geom_idx ON layer_info.low_income_communities USING gist (geom);

CREATE TABLE layer_info.landuses (
    id integer NOT NULL,
    class character varying(254),
    area numeric,
    geom geometry(MultiPolygon,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT landuses_id_pkey PRIMARY KEY (id)
);
CREATE INDEX landuses_geom_idx ON layer_info.landuses USING gist (geom);

-- ---------------------------------------------------------------------------
-- utility_info (7)
-- ---------------------------------------------------------------------------

CREATE TABLE utility_info.roads (
    code character varying(254) NOT NULL,
    name character varying(254),
    hierarchy character varying(254),
    right_of_way numeric,
    carrying_width numeric,
    surface_type character varying(254),
    length numeric,
    geom geometry(MultiLineString,4326),
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT roads_code_pkey PRIMARY KEY (code),
    CONSTRAINT roads_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
CREATE INDEX roads_geom_idx ON utility_info.roads USING gist (geom);

CREATE TABLE utility_info.drains (
    code character varying(254) NOT NULL,
    road_code character varying,
    cover_type character varying(254),
    surface_type character varying(24),
    size numeric,
    length numeric,
    treatment_plant_id integer,
    geom geometry(MultiLineString,4326),
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT drains_code_pkey PRIMARY KEY (code),
    CONSTRAINT drains_road_code_fkey FOREIGN KEY (road_code) REFERENCES utility_info.roads (code),
    CONSTRAINT drains_treatment_plant_id_fkey FOREIGN KEY (treatment_plant_id) REFERENCES fsm.treatment_plants (id),
    CONSTRAINT drains_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
CREATE INDEX drains_geom_idx ON utility_info.drains USING gist (geom);

CREATE TABLE utility_info.sewers (
    code character varying(254) NOT NULL,
    road_code character varying(254),
    location character varying(254),
    length numeric,
    diameter numeric,
    treatment_plant_id integer,
    geom geometry(MultiLineString,4326),
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT sewers_code_pkey PRIMARY KEY (code),
    CONSTRAINT sewers_road_code_fkey FOREIGN KEY (road_code) REFERENCES utility_info.roads (code),
    CONSTRAINT sewers_treatment_plant_id_fkey FOREIGN KEY (treatment_plant_id) REFERENCES fsm.treatment_plants (id),
    CONSTRAINT sewers_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
CREATE INDEX sewers_geom_idx ON utility_info.sewers USING gist (geom);

CREATE TABLE utility_info.water_supplys (
    code character varying(254) NOT NULL,
    road_code character varying(254),
    project_name character varying(254),
    type character varying(254),
    material_type character varying(254),
    diameter numeric,
    length numeric,
    geom geometry(MultiLineString,4326),
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT water_supplys_code_pkey PRIMARY KEY (code),
    CONSTRAINT water_supplys_road_code_fkey FOREIGN KEY (road_code) REFERENCES utility_info.roads (code),
    CONSTRAINT water_supplys_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
CREATE INDEX water_supplys_geom_idx ON utility_info.water_supplys USING gist (geom);

-- ---------------------------------------------------------------------------
-- building_info.buildings (4.1), owners (4.2)
-- ---------------------------------------------------------------------------

CREATE TABLE building_info.buildings (
    bin character varying(254) NOT NULL,
    building_associated_to character varying(254),
    ward integer,
    road_code character varying(254),
    house_number character varying,
    house_locality character varying,
    tax_code character varying(254),
    structure_type_id integer,
    surveyed_date date,
    floor_count numeric(10,2),
    construction_year date,
    functional_use_id integer,
    use_category_id integer,
    office_business_name character varying(254),
    household_served integer,
    population_served integer,
    male_population integer,
    female_population integer,
    other_population integer,
    diff_abled_male_pop integer,
    diff_abled_female_pop integer,
    diff_abled_others_pop integer,
    low_income_hh boolean,
    lic_id integer,
    water_source_id integer,
    watersupply_pipe_code character varying(255),
    water_customer_id character varying,
    well_presence_status boolean,
    distance_from_well numeric,
    swm_customer_id character varying,
    toilet_status boolean,
    toilet_count integer,
    household_with_private_toilet integer,
    population_with_private_toilet integer,
    sanitation_system_id integer,
    sewer_code character varying(254),
    drain_code character varying(254),
    desludging_vehicle_accessible boolean,
    geom geometry(MultiPolygon,4326),
    verification_status boolean,
    estimated_area numeric(10,2),
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT buildings_bin_pkey PRIMARY KEY (bin),
    CONSTRAINT buildings_house_number_unique UNIQUE (house_number),
    CONSTRAINT buildings_drain_code_fkey FOREIGN KEY (drain_code) REFERENCES utility_info.drains (code),
    CONSTRAINT buildings_functional_use_id_fkey FOREIGN KEY (functional_use_id)
        REFERENCES building_info.functional_uses (id) ON UPDATE CASCADE,
    CONSTRAINT buildings_lic_id_fkey FOREIGN KEY (lic_id) REFERENCES layer_info.low_income_communities (id),
    CONSTRAINT buildings_road_code_fkey FOREIGN KEY (road_code) REFERENCES utility_info.roads (code),
    CONSTRAINT buildings_sanitation_system_id_fkey FOREIGN KEY (sanitation_system_id)
        REFERENCES building_info.sanitation_systems (id) ON UPDATE CASCADE,
    CONSTRAINT buildings_sewer_code_fkey FOREIGN KEY (sewer_code) REFERENCES utility_info.sewers (code),
    CONSTRAINT buildings_structure_type_id_fkey FOREIGN KEY (structure_type_id)
        REFERENCES building_info.structure_types (id) ON UPDATE CASCADE,
    CONSTRAINT buildings_use_category_id_fkey FOREIGN KEY (use_category_id)
        REFERENCES building_info.use_categorys (id) ON UPDATE CASCADE,
    CONSTRAINT buildings_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id),
    CONSTRAINT buildings_ward_fkey FOREIGN KEY (ward) REFERENCES layer_info.wards (ward),
    CONSTRAINT buildings_water_source_id_fkey FOREIGN KEY (water_source_id)
        REFERENCES building_info.water_sources (id) ON UPDATE CASCADE,
    CONSTRAINT buildings_watersupply_pipe_code_fkey FOREIGN KEY (watersupply_pipe_code)
        REFERENCES utility_info.water_supplys (code)
);
CREATE UNIQUE INDEX buildings_bin_idx ON building_info.buildings USING btree (bin);  -- duplicates the PK
CREATE INDEX buildings_geom_index ON building_info.buildings USING gist (geom);
CREATE INDEX buildings_tax_id_idx ON building_info.buildings USING btree (tax_code);

CREATE TABLE building_info.owners (
    id integer DEFAULT nextval('building_info.owners_id_seq1'::regclass) NOT NULL,
    bin character varying(7),
    owner_name character varying(255),
    owner_gender character varying(255),
    owner_contact bigint,
    nid character varying,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT owners_bin_unique UNIQUE (bin),
    CONSTRAINT owners_id_pkey PRIMARY KEY (id),
    CONSTRAINT owners_bin_fkey FOREIGN KEY (bin) REFERENCES building_info.buildings (bin)
);
ALTER SEQUENCE building_info.owners_id_seq1 OWNED BY building_info.owners.id;
CREATE UNIQUE INDEX owners_bin_idx ON building_info.owners USING btree (bin);  -- duplicates owners_bin_unique

-- ---------------------------------------------------------------------------
-- fsm.containments (5.1), build_contains (4.3), toilets (5.3), build_toilets (5.4),
-- applications (5.5)
-- ---------------------------------------------------------------------------

CREATE TABLE fsm.containments (
    id character varying(254) NOT NULL,
    type_id integer,
    location character varying(254),
    size numeric(10,2),
    pit_diameter numeric,
    tank_length numeric,
    tank_width numeric,
    depth numeric,
    septic_criteria boolean,
    construction_date date,
    emptied_status boolean DEFAULT false,
    last_emptied_date date,
    next_emptying_date date,
    no_of_times_emptied integer,
    surveyed_at date,
    toilet_count integer,
    distance_closest_well numeric,
    geom geometry(Point,4326),
    user_id integer,
    verification_required boolean,
    responsible_bin character varying(254),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT containments_id_pkey PRIMARY KEY (id),
    CONSTRAINT containments_type_id_fkey FOREIGN KEY (type_id) REFERENCES fsm.containment_types (id),
    CONSTRAINT containments_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
CREATE INDEX containments_geom_idx ON fsm.containments USING gist (geom);
CREATE UNIQUE INDEX containments_id_idx ON fsm.containments USING btree (id);  -- duplicates the PK

CREATE TABLE building_info.build_contains (
    id integer DEFAULT nextval('building_info.build_contains_id_seq'::regclass) NOT NULL,
    bin character varying(255),
    containment_id character varying(255),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT build_contains_id_pkey PRIMARY KEY (id),
    CONSTRAINT build_contains_bin_fkey FOREIGN KEY (bin) REFERENCES building_info.buildings (bin),
    CONSTRAINT build_contains_containment_id_fkey FOREIGN KEY (containment_id) REFERENCES fsm.containments (id)
);
ALTER SEQUENCE building_info.build_contains_id_seq OWNED BY building_info.build_contains.id;

CREATE TABLE fsm.toilets (
    id integer NOT NULL,
    name character varying,
    type character varying(100),
    ward integer,
    location_name character varying,
    bin character varying,
    access_frm_nearest_road integer,
    status boolean,
    caretaker_name character varying(255),
    caretaker_gender character varying,
    caretaker_contact_number bigint,
    owner character varying,
    owning_institution_name character varying,
    operator_or_maintainer character varying,
    operator_or_maintainer_name character varying,
    total_no_of_toilets integer,
    total_no_of_urinals integer,
    male_or_female_facility boolean,
    male_seats integer,
    female_seats integer,
    handicap_facility boolean,
    pwd_seats integer,
    children_facility boolean,
    separate_facility_with_universal_design boolean,
    indicative_sign boolean,
    sanitary_supplies_disposal_facility boolean,
    fee_collected boolean,
    amount_of_fee_collected numeric,
    frequency_of_fee_collected character varying,
    geom geometry(Point,4326),
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT toilets_id_pkey PRIMARY KEY (id),
    CONSTRAINT toilets_name_key UNIQUE (name)
);
CREATE INDEX toilets_geom_idx ON fsm.toilets USING gist (geom);
CREATE INDEX toilets_name_idx ON fsm.toilets USING btree (name);

CREATE TABLE fsm.build_toilets (
    id integer DEFAULT nextval('fsm.build_toilets_id_seq'::regclass) NOT NULL,
    bin character varying(255),
    toilet_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT build_toilets_id_pkey PRIMARY KEY (id),
    CONSTRAINT build_toilets_bin_fkey FOREIGN KEY (bin) REFERENCES building_info.buildings (bin),
    CONSTRAINT build_toilets_toilet_id_fkey FOREIGN KEY (toilet_id) REFERENCES fsm.toilets (id)
);
ALTER SEQUENCE fsm.build_toilets_id_seq OWNED BY fsm.build_toilets.id;

CREATE TABLE fsm.applications (
    id integer DEFAULT nextval('fsm.applications_id_seq'::regclass) NOT NULL,
    bin character varying,
    containment_id character varying(255),
    application_date date,
    customer_name character varying(255),
    customer_contact bigint,
    emptying_status boolean DEFAULT false,
    user_id integer,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    deleted_at timestamp without time zone,
    CONSTRAINT applications_id_pkey PRIMARY KEY (id),
    CONSTRAINT applications_containment_id_fkey FOREIGN KEY (containment_id) REFERENCES fsm.containments (id),
    CONSTRAINT applications_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
ALTER SEQUENCE fsm.applications_id_seq OWNED BY fsm.applications.id;

-- ---------------------------------------------------------------------------
-- public.revisions (8)
-- ---------------------------------------------------------------------------

CREATE TABLE public.revisions (
    id integer DEFAULT nextval('public.revisions_id_seq'::regclass) NOT NULL,
    revisionable_type character varying(255) NOT NULL,
    revisionable_id character varying(255) NOT NULL,
    user_id integer,
    key character varying(255) NOT NULL,
    old_value text,
    new_value text,
    created_at timestamp(0) without time zone,
    updated_at timestamp(0) without time zone,
    CONSTRAINT revisions_pkey PRIMARY KEY (id),
    CONSTRAINT revisions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users (id)
);
ALTER SEQUENCE public.revisions_id_seq OWNED BY public.revisions.id;
CREATE INDEX revisions_revisionable_id_revisionable_type_index
    ON public.revisions USING btree (revisionable_id, revisionable_type);

-- ---------------------------------------------------------------------------
-- Chart materialised views and the containment trigger (14)
-- ---------------------------------------------------------------------------

-- Present in the dump: containments per land-use class and containment display group.
CREATE MATERIALIZED VIEW public.landuse_summaryforchart AS
    WITH classcount AS (
        SELECT ct.map_display AS type, l.class, count(c.*) AS count
        FROM fsm.containments c
        JOIN fsm.containment_types ct ON ct.id = c.type_id,
             layer_info.landuses l
        WHERE public.st_intersects(c.geom, l.geom) AND c.deleted_at IS NULL
        GROUP BY ct.map_display, l.class
    ),
    totalclasscount AS (
        SELECT count(c.*) AS totalclass, l.class
        FROM fsm.containments c
        JOIN fsm.containment_types ct ON ct.id = c.type_id,
             layer_info.landuses l
        WHERE public.st_intersects(c.geom, l.geom) AND c.deleted_at IS NULL
        GROUP BY l.class
    )
    SELECT classcount.class, classcount.type, classcount.count, totalclasscount.totalclass,
           round(classcount.count * 100 / totalclasscount.totalclass::numeric, 2) AS percentage_proportion
    FROM classcount, totalclasscount
    WHERE classcount.class = totalclasscount.class
    ORDER BY classcount.class
WITH DATA;

-- As in a real IMIS database: not SECURITY DEFINER, the view name is unqualified (it
-- resolves through the writer's search_path), the view is created on first use and
-- then fully refreshed on EVERY inserted, updated or deleted containment row.
-- Only the owner of the view may refresh it (DATABASE.md 14.3).
CREATE OR REPLACE FUNCTION public.fnc_set_builtupperwardsummary()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    CREATE MATERIALIZED VIEW IF NOT EXISTS builtupperward_summaryforchart AS
        WITH wardcount AS (
            SELECT count(c.*) AS count, ct.type, w.ward
            FROM fsm.containments c
            JOIN fsm.containment_types ct ON ct.id = c.type_id,
                 layer_info.wards w, layer_info.landuses l
            WHERE st_intersects(c.geom, w.geom)
              AND (st_intersects(c.geom, l.geom) AND l.class = 'Builtup')
              AND c.deleted_at IS NULL
            GROUP BY w.ward, ct.type
        ),
        totalwardcount AS (
            SELECT count(c.*) AS totalward, w.ward
            FROM fsm.containments c
            JOIN fsm.containment_types ct ON ct.id = c.type_id,
                 layer_info.wards w, layer_info.landuses l
            WHERE st_intersects(c.geom, w.geom)
              AND (st_intersects(c.geom, l.geom) AND l.class = 'Builtup')
              AND c.deleted_at IS NULL
            GROUP BY w.ward
        )
        SELECT wardcount.ward, wardcount.type, wardcount.count, totalwardcount.totalward,
               round(wardcount.count * 100 / totalwardcount.totalward::numeric, 2) AS percentage_proportion
        FROM wardcount, totalwardcount
        WHERE wardcount.ward = totalwardcount.ward
        ORDER BY wardcount.ward;

    REFRESH MATERIALIZED VIEW builtupperward_summaryforchart;

    RETURN NULL;
END
$$;

CREATE TRIGGER tgr_set_builtupperwardsummary
    AFTER INSERT OR DELETE OR UPDATE ON fsm.containments
    FOR EACH ROW
    EXECUTE FUNCTION public.fnc_set_builtupperwardsummary();
