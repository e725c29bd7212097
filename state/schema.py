"""The state file's tables and audit views, as forward-only migrations.

Views are part of the public surface (users script against them): change their columns only
by adding new ones.
"""

from __future__ import annotations

_V1 = """
CREATE TABLE runs (
    run_id BIGINT PRIMARY KEY,
    workflow VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- running, succeeded, partial, failed, crashed
    mode VARCHAR NOT NULL,              -- incremental, full-refresh
    syncer_version VARCHAR NOT NULL,
    config_fingerprint VARCHAR NOT NULL,
    pid INTEGER,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ,
    scanned BIGINT DEFAULT 0, created BIGINT DEFAULT 0, updated BIGINT DEFAULT 0,
    unchanged BIGINT DEFAULT 0, restored BIGINT DEFAULT 0, deleted BIGINT DEFAULT 0,
    filtered BIGINT DEFAULT 0, errors BIGINT DEFAULT 0,
    error VARCHAR
);
CREATE TABLE run_streams (
    run_id BIGINT NOT NULL,
    stream VARCHAR NOT NULL,
    scanned BIGINT, created BIGINT, updated BIGINT, unchanged BIGINT, restored BIGINT,
    deleted BIGINT, filtered BIGINT, errors BIGINT,
    note VARCHAR,                       -- why deletions were skipped, if they were
    PRIMARY KEY (run_id, stream)
);
CREATE TABLE watermarks (
    workflow VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    cursor_field VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (workflow, stream)
);
CREATE TABLE entities (
    workflow VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    parent_key VARCHAR,
    fingerprint VARCHAR NOT NULL,
    last_seq BIGINT NOT NULL,           -- the change that holds its current payload
    first_run BIGINT NOT NULL,
    changed_run BIGINT NOT NULL,
    deleted_run BIGINT,
    PRIMARY KEY (workflow, stream, key)
);
CREATE TABLE changes (
    seq BIGINT NOT NULL,                -- unique: handed out by the single writer, in order
    run_id BIGINT NOT NULL,
    workflow VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- created, updated, deleted, restored
    fingerprint VARCHAR,
    old_fingerprint VARCHAR,
    changed_fields VARCHAR[] NOT NULL,
    description JSON,                   -- fieldsAdded / fieldsUpdated / fieldsDeleted
    payload JSON NOT NULL
);
CREATE TABLE deliveries (
    workflow VARCHAR NOT NULL,
    sink VARCHAR NOT NULL,
    "offset" BIGINT NOT NULL,           -- every change up to here was acknowledged or is pending
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow, sink)
);
CREATE TABLE pending_deliveries (
    workflow VARCHAR NOT NULL,
    sink VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error VARCHAR NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow, sink, seq)
);

CREATE VIEW run_summary AS
SELECT run_id, workflow, status, started_at, ended_at, scanned, created, updated, unchanged,
       restored, deleted, filtered, errors, mode, syncer_version, error
FROM runs;

CREATE VIEW current_entities AS
SELECT e.workflow, e.entity_type, e.key AS fqn, e.fingerprint, c.payload, e.stream,
       e.parent_key AS parent_fqn, e.first_run, e.changed_run
FROM entities e JOIN changes c ON c.seq = e.last_seq
WHERE e.deleted_run IS NULL;

CREATE VIEW change_log AS
SELECT seq, run_id, workflow, key AS fqn, entity_type, kind, changed_fields, description, stream
FROM changes;

CREATE VIEW lineage_edges AS
SELECT workflow,
       payload->>'$.fromEntity.fullyQualifiedName' AS from_fqn,
       payload->>'$.toEntity.fullyQualifiedName' AS to_fqn,
       payload->>'$.source' AS source,
       payload->'$.columnsLineage' AS columns_lineage
FROM current_entities WHERE entity_type = 'lineage';

CREATE VIEW sink_backlog AS
SELECT d.workflow, d.sink, d."offset",
       (SELECT count(*) FROM changes c
        WHERE c.workflow = d.workflow AND c.seq > d."offset") AS backlog,
       (SELECT count(*) FROM pending_deliveries p
        WHERE p.workflow = d.workflow AND p.sink = d.sink) AS refused,
       d.updated_at
FROM deliveries d;

CREATE VIEW pending_changes AS
SELECT p.workflow, p.sink, p.seq, c.run_id, c.key AS fqn, c.entity_type, c.kind, p.attempts,
       p.last_error, p.first_failed_at, p.last_failed_at
FROM pending_deliveries p JOIN changes c USING (seq);
"""

# `syncer state reset` deletes a workflow's changes and runs; the highest seq and run id ever
# handed out are kept here so that they are never reused (sinks such as JSONL skip any seq they
# already wrote, so a reused seq would be silently dropped).
_V2 = """
CREATE TABLE id_high_water (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
"""

# v3: the time each change was committed (events carry it); dead letters (a change a sink
# will not be offered again until someone retries it); the rule violations found per run.
_V3 = """
ALTER TABLE changes ADD COLUMN committed_at TIMESTAMPTZ;
ALTER TABLE pending_deliveries ADD COLUMN dead_at TIMESTAMPTZ;
CREATE TABLE violations (
    run_id BIGINT NOT NULL,
    workflow VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    entity_type VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    action VARCHAR NOT NULL,            -- warn, drop, fail
    message VARCHAR NOT NULL
);
CREATE OR REPLACE VIEW pending_changes AS
SELECT p.workflow, p.sink, p.seq, c.run_id, c.key AS fqn, c.entity_type, c.kind, p.attempts,
       p.last_error, p.first_failed_at, p.last_failed_at, p.dead_at
FROM pending_deliveries p JOIN changes c USING (seq);
"""

# v4: each entity's dependencies (its parent, a lineage edge's ends: the keys whose deletion
# takes it with it), computed by the engine and kept beside it, so that no SQL of the state
# reads an entity's payload. NULL: not computed yet (a row written before v4); the engine
# fills those once, on its first write open (`entities_without_dependencies`).
_V4 = """
ALTER TABLE entities ADD COLUMN depends_on VARCHAR[];
"""

# v5: the file's identity, a random uuid made once, when the file is created (or upgraded to
# v5), and never changed: sinks that keep their own record of what they wrote (a JSONL file)
# key it by this id and the workflow, so that a new state file at the same path, or a second
# one writing to the same sink, is never taken for this one. A copy of the file carries it.
_V5 = """
CREATE TABLE state_identity (
    one_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (one_row),
    id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO state_identity (id, created_at) VALUES (uuid(), now());
"""

# v6: each entity's raw digest (a hash of the source's own rows before mapping, salted with
# what the mapping depends on), so that a record whose raw digest is unchanged is never mapped
# again; and `refused`, the deletions the fail-safe held back, counted per stream and per run.
_V6 = """
ALTER TABLE entities ADD COLUMN raw_digest VARCHAR;
ALTER TABLE runs ADD COLUMN refused BIGINT DEFAULT 0;
ALTER TABLE run_streams ADD COLUMN refused BIGINT DEFAULT 0;
CREATE OR REPLACE VIEW run_summary AS
SELECT run_id, workflow, status, started_at, ended_at, scanned, created, updated, unchanged,
       restored, deleted, filtered, errors, mode, syncer_version, error, refused
FROM runs;
"""

# v7: time travel. The change log holds every payload, so the entities as of the end of any
# run are the last change of each key up to that run, unless it was a deletion; the same
# columns as `current_entities` (plus the seq of the change that holds the version). Runs are
# one at a time per file, so "up to that run" is "run_id <= it". The change rows are picked by
# a semi-join on the latest seqs and the payloads stream through: a join that held them in a
# hash table ran out of the state's 256 MB on 100,000 entities, and was twice as slow. An
# entity's first run and parent never change, so they come from its row.
_V7 = """
CREATE MACRO entities_as_of(as_of_run) AS TABLE
SELECT c.workflow, c.entity_type, c.key AS fqn, c.fingerprint, c.payload, c.stream,
       e.parent_key AS parent_fqn, e.first_run, c.run_id AS changed_run, c.seq
FROM changes c
LEFT JOIN entities e ON e.workflow = c.workflow AND e.stream = c.stream AND e.key = c.key
WHERE c.seq IN (
    SELECT max(seq) FROM changes WHERE run_id <= as_of_run GROUP BY workflow, stream, key
) AND c.kind <> 'deleted';
CREATE MACRO entities_as_of_time(moment) AS TABLE
SELECT * FROM entities_as_of(
    (SELECT max(run_id) FROM runs WHERE ended_at <= CAST(moment AS TIMESTAMPTZ))
);
"""

# v8: the origin of a derived entity (a view's lineage edge): the key of the read entity whose
# relationships gave it. A raw record found unchanged is not mapped, so its relationships are
# not derived again: the entities it gave last time are carried over by this column instead.
_V8 = """
ALTER TABLE entities ADD COLUMN origin VARCHAR;
"""

# Each entry upgrades the file by one version; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
SCHEMA_VERSION = len(MIGRATIONS)

VIEWS = {
    "run_summary": "one row per run: status, times and counters",
    "current_entities": "every entity as last synced (deleted ones excluded), payload as JSON",
    "change_log": "every change ever committed, in order, with the fields that changed",
    "lineage_edges": "current lineage edges: from_fqn, to_fqn, source",
    "pending_changes": "changes a sink refused, waiting to be retried",
    "sink_backlog": "per sink: its offset, changes not yet offered to it, changes it refused",
}
# Table macros: `SELECT * FROM entities_as_of(3)`.
MACROS = {
    "entities_as_of": "(run_id) every entity as of the end of that run: current_entities' columns",
    "entities_as_of_time": "(timestamp) the same, as of the last run that ended at or before it",
}
