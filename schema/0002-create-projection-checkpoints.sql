-- Projection checkpoints: how far each read model has applied the event log.
--
-- A projection's tables live in their own schema, `rm_<name>` (created by the projection runner,
-- not here, because each projection brings its own tables). The runner updates a projection's
-- rows and its checkpoint row in one transaction, so each event takes effect exactly once.
-- A rebuild builds generation n+1 in a fresh schema and swaps it in; `generation` counts swaps.

CREATE SCHEMA IF NOT EXISTS projection_meta;
COMMENT ON SCHEMA projection_meta IS 'Bookkeeping of the projection runner: one checkpoint per projection.';

CREATE TABLE IF NOT EXISTS projection_meta.checkpoints (
    name              text PRIMARY KEY
        CHECK (name ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$' AND length(name) <= 40),
    transaction_id    xid8 NOT NULL DEFAULT '0',
    position          bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    events_processed  bigint NOT NULL DEFAULT 0 CHECK (events_processed >= 0),
    generation        integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
    rebuilt_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE projection_meta.checkpoints IS 'Per projection: the last event applied, in the global order (transaction_id, position).';
COMMENT ON COLUMN projection_meta.checkpoints.name IS 'The projection''s name; its tables are in schema rm_<name>. No double underscore: rm_<name>__next and rm_<name>__scratch_* are the runner''s working schemas.';
COMMENT ON COLUMN projection_meta.checkpoints.transaction_id IS 'With position: the checkpoint of the last applied event (0/0 before the first).';
COMMENT ON COLUMN projection_meta.checkpoints.events_processed IS 'Events applied by the current generation, from the start of the log.';
COMMENT ON COLUMN projection_meta.checkpoints.generation IS 'Incremented each time a rebuild swaps in a fresh copy of the projection''s tables.';

-- Planners and auditors read progress; only the runner (the schema owner) writes.
REVOKE ALL ON ALL TABLES IN SCHEMA projection_meta FROM PUBLIC;
GRANT USAGE ON SCHEMA projection_meta TO muster_planner, muster_auditor;
GRANT SELECT ON projection_meta.checkpoints TO muster_planner, muster_auditor;
