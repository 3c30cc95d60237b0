-- The event store: an append-only log of immutable events, grouped in streams named
-- `category-id`, with optimistic concurrency per stream, idempotent commands, a gap-free
-- global order for readers, and a SHA-256 hash chain per stream for tamper evidence.

CREATE SCHEMA IF NOT EXISTS event_store;
COMMENT ON SCHEMA event_store IS 'Muster''s append-only event log. Written only through event_store.append().';

-- Roles. NOLOGIN group roles: grant them to login roles (or SET ROLE) to use them.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['muster_planner', 'muster_auditor', 'muster_reporter'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by a migration of another database in this cluster
            END;
        END IF;
    END LOOP;
END
$$;

CREATE TABLE IF NOT EXISTS event_store.streams (
    stream_name text PRIMARY KEY
        CHECK (stream_name ~ '^[a-z][a-z0-9_]{0,30}-[a-z0-9][a-z0-9-]{0,99}$'),
    category    text NOT NULL,
    version     bigint NOT NULL CHECK (version >= 0),
    head_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE event_store.streams IS 'One row per stream: its current version and the hash of its last event.';

CREATE TABLE IF NOT EXISTS event_store.events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_name     text NOT NULL REFERENCES event_store.streams (stream_name),
    category        text NOT NULL,
    stream_version  bigint NOT NULL CHECK (stream_version >= 1),
    event_id        uuid NOT NULL,
    event_type      text NOT NULL CHECK (event_type ~ '^[A-Za-z][A-Za-z0-9_.]{0,127}$'),
    schema_version  integer NOT NULL CHECK (schema_version >= 1),
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    metadata        jsonb NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
    command_id      uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    previous_hash   bytea NOT NULL,
    hash            bytea NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_name, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);
COMMENT ON TABLE event_store.events IS 'Immutable events. Readers of the whole log order by (transaction_id, position) below the snapshot xmin.';
COMMENT ON COLUMN event_store.events.transaction_id IS 'pg_current_xact_id() of the appending transaction: with position, the gap-free global order.';
COMMENT ON COLUMN event_store.events.hash IS 'sha256(previous_hash || event_store.hash_input(...)): chained per stream.';

CREATE INDEX IF NOT EXISTS events_global_order ON event_store.events (transaction_id, position);
CREATE INDEX IF NOT EXISTS events_category_order ON event_store.events (category, transaction_id, position);
CREATE INDEX IF NOT EXISTS events_recorded_at ON event_store.events (recorded_at);
CREATE INDEX IF NOT EXISTS events_command_id ON event_store.events (command_id) WHERE command_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS event_store.commands (
    command_id    uuid PRIMARY KEY,
    request_hash  bytea NOT NULL,
    command       jsonb,
    result        jsonb NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE event_store.commands IS 'Applied command ids, for idempotent retries: the same id returns the original result.';

-- The canonical text an event's hash covers. jsonb prints in a normalised form, and the
-- timestamp is fixed to UTC with microseconds, so the text does not depend on session settings.
CREATE OR REPLACE FUNCTION event_store.hash_input(
    p_stream text, p_version bigint, p_event_id uuid, p_type text, p_schema_version integer,
    p_payload jsonb, p_metadata jsonb, p_recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT convert_to(concat_ws(E'\n',
        p_stream, p_version::text, p_event_id::text, p_type, p_schema_version::text,
        p_payload::text, p_metadata::text,
        to_char(p_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'UTF8')
$$;

-- Appends events to one or more streams atomically.
--
-- p_request: {"streams": [{"stream": "exercise-ts25", "expected": "exact"|"no_stream"|"stream_exists"|"any",
--             "expected_version": 3, "events": [{"event_id", "type", "schema_version", "payload", "metadata"}]}]}
-- p_command: the command as submitted (kept for the audit trail; its hash detects a reused id).
-- Returns {"streams": [{"stream", "from_version", "to_version"}], "first_position", "last_position", "duplicate"}.
-- Raises MU001 on a wrong expected version (nothing is written), MU002 when a command id is
-- reused for different content, MU003 on a malformed request.
CREATE OR REPLACE FUNCTION event_store.append(p_command_id uuid, p_command jsonb, p_request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, event_store
AS $$
DECLARE
    v_hash        bytea;
    v_existing    event_store.commands%ROWTYPE;
    v_stream      jsonb;
    v_event       jsonb;
    v_name        text;
    v_expected    text;
    v_expected_n  bigint;
    v_version     bigint;
    v_head        bytea;
    v_found       boolean;
    v_from        bigint;
    v_now         timestamptz := now();
    v_results     jsonb := '[]'::jsonb;
    v_position    bigint;
    v_first       bigint;
    v_last        bigint;
    v_result      jsonb;
    v_seen        text[] := '{}';
    v_categories  text[] := '{}';
    v_category    text;
BEGIN
    IF p_request IS NULL OR jsonb_typeof(p_request -> 'streams') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_request -> 'streams') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = 'append request has no streams';
    END IF;

    -- What identifies a command's content: the command itself when given, else the events'
    -- streams, types and payloads (event ids and metadata differ between retries).
    v_hash := sha256(convert_to(coalesce(p_command, (
        SELECT jsonb_agg(jsonb_build_object('stream', s -> 'stream', 'events',
                   (SELECT jsonb_agg(jsonb_build_array(e -> 'type', e -> 'schema_version', e -> 'payload'))
                      FROM jsonb_array_elements(s -> 'events') e)))
          FROM jsonb_array_elements(p_request -> 'streams') s))::text, 'UTF8'));

    IF p_command_id IS NOT NULL THEN
        BEGIN
            INSERT INTO event_store.commands (command_id, request_hash, command, result)
            VALUES (p_command_id, v_hash, p_command, '{}'::jsonb);
        EXCEPTION WHEN unique_violation THEN
            -- Already applied (possibly by a concurrent transaction that has just committed).
            SELECT * INTO v_existing FROM event_store.commands WHERE command_id = p_command_id;
            IF v_existing.request_hash <> v_hash THEN
                RAISE EXCEPTION USING ERRCODE = 'MU002',
                    MESSAGE = format('command id %s was already used for a different command', p_command_id),
                    HINT = 'use a new --command-id for a new command';
            END IF;
            RETURN v_existing.result || '{"duplicate": true}'::jsonb;
        END;
    END IF;

    FOR v_stream IN SELECT value FROM jsonb_array_elements(p_request -> 'streams') LOOP
        v_name := v_stream ->> 'stream';
        v_expected := coalesce(v_stream ->> 'expected', 'any');
        IF v_name IS NULL OR v_name !~ '^[a-z][a-z0-9_]{0,30}-[a-z0-9][a-z0-9-]{0,99}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003',
                MESSAGE = format('stream name %L is not of the form category-id (lowercase letters, digits, hyphens)', v_name);
        END IF;
        IF v_name = ANY (v_seen) THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('stream %s appears twice in one append', v_name);
        END IF;
        v_seen := v_seen || v_name;
        IF jsonb_typeof(v_stream -> 'events') IS DISTINCT FROM 'array' OR jsonb_array_length(v_stream -> 'events') = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s has no events', v_name);
        END IF;
        v_category := split_part(v_name, '-', 1);

        SELECT version, head_hash INTO v_version, v_head
          FROM event_store.streams WHERE stream_name = v_name FOR UPDATE;
        v_found := FOUND;

        IF v_expected = 'exact' THEN
            v_expected_n := (v_stream ->> 'expected_version')::bigint;
            IF v_expected_n IS NULL OR v_expected_n < 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s: expected_version is missing', v_name);
            END IF;
            IF coalesce(v_version, 0) <> v_expected_n THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name, v_expected_n, coalesce(v_version, 0)),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', v_expected_n, 'actual', coalesce(v_version, 0))::text;
            END IF;
        ELSIF v_expected = 'no_stream' THEN
            IF v_found THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected no stream but it exists at version %s', v_name, v_version),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', 'no_stream', 'actual', v_version)::text;
            END IF;
        ELSIF v_expected = 'stream_exists' THEN
            IF NOT v_found THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected an existing stream but there is none', v_name),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', 'stream_exists', 'actual', 0)::text;
            END IF;
        ELSIF v_expected <> 'any' THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s: unknown expectation %L', v_name, v_expected);
        END IF;

        IF NOT v_found THEN
            BEGIN
                INSERT INTO event_store.streams (stream_name, category, version, head_hash)
                VALUES (v_name, v_category, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
            EXCEPTION WHEN unique_violation THEN
                -- A concurrent transaction created the stream first: the expectation no longer holds.
                SELECT version INTO v_version FROM event_store.streams WHERE stream_name = v_name;
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name,
                                     CASE WHEN v_expected = 'exact' THEN v_expected_n::text ELSE 'no stream' END, v_version),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', coalesce(v_expected_n::text, v_expected), 'actual', v_version)::text;
            END;
            v_version := 0;
            v_head := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;

        v_from := v_version + 1;
        FOR v_event IN SELECT value FROM jsonb_array_elements(v_stream -> 'events') LOOP
            v_version := v_version + 1;
            v_hash := sha256(v_head || event_store.hash_input(v_name, v_version, (v_event ->> 'event_id')::uuid,
                v_event ->> 'type', (v_event ->> 'schema_version')::integer, v_event -> 'payload',
                coalesce(v_event -> 'metadata', '{}'::jsonb), v_now));
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, command_id, recorded_at, previous_hash, hash)
            VALUES (v_name, v_category, v_version, (v_event ->> 'event_id')::uuid, v_event ->> 'type',
                    (v_event ->> 'schema_version')::integer, v_event -> 'payload', coalesce(v_event -> 'metadata', '{}'::jsonb),
                    p_command_id, v_now, v_head, v_hash)
            RETURNING position INTO v_position;
            v_head := v_hash;
            v_first := coalesce(v_first, v_position);
            v_last := v_position;
        END LOOP;

        UPDATE event_store.streams SET version = v_version, head_hash = v_head, updated_at = v_now
         WHERE stream_name = v_name;
        v_results := v_results || jsonb_build_object('stream', v_name, 'from_version', v_from, 'to_version', v_version);
        IF NOT v_category = ANY (v_categories) THEN
            v_categories := v_categories || v_category;
        END IF;
    END LOOP;

    v_result := jsonb_build_object('streams', v_results, 'first_position', v_first, 'last_position', v_last, 'duplicate', false);
    IF p_command_id IS NOT NULL THEN
        -- The only write to commands after its insert; the immutability trigger allows it while result is empty.
        UPDATE event_store.commands SET result = v_result WHERE command_id = p_command_id;
    END IF;
    -- Wakes projectors; delivered at commit. Polling stays the correctness path.
    PERFORM pg_notify('muster_events', array_to_string(v_categories, ','));
    RETURN v_result;
END
$$;

REVOKE ALL ON FUNCTION event_store.append(uuid, jsonb, jsonb) FROM PUBLIC;

-- Immutability: events and applied commands are never updated, deleted or truncated.
CREATE OR REPLACE FUNCTION event_store.reject_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'commands' THEN
        -- append() records the result of the command it is applying, once.
        IF OLD.result = '{}'::jsonb AND NEW.command_id = OLD.command_id
           AND NEW.request_hash = OLD.request_hash AND NEW.command IS NOT DISTINCT FROM OLD.command THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'MU010',
        MESSAGE = format('%s on %I.%I is not allowed: the event store is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
        HINT = 'record a correcting event with a reason instead';
END
$$;

CREATE OR REPLACE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON event_store.events
    FOR EACH ROW EXECUTE FUNCTION event_store.reject_change();
CREATE OR REPLACE TRIGGER events_no_truncate BEFORE TRUNCATE ON event_store.events
    FOR EACH STATEMENT EXECUTE FUNCTION event_store.reject_change();
CREATE OR REPLACE TRIGGER commands_immutable BEFORE UPDATE OR DELETE ON event_store.commands
    FOR EACH ROW EXECUTE FUNCTION event_store.reject_change();
CREATE OR REPLACE TRIGGER commands_no_truncate BEFORE TRUNCATE ON event_store.commands
    FOR EACH STATEMENT EXECUTE FUNCTION event_store.reject_change();
CREATE OR REPLACE TRIGGER streams_no_delete BEFORE DELETE ON event_store.streams
    FOR EACH ROW EXECUTE FUNCTION event_store.reject_change();
CREATE OR REPLACE TRIGGER streams_no_truncate BEFORE TRUNCATE ON event_store.streams
    FOR EACH STATEMENT EXECUTE FUNCTION event_store.reject_change();

-- Privileges: planners append (only through the function) and read; auditors read.
REVOKE ALL ON ALL TABLES IN SCHEMA event_store FROM PUBLIC;
GRANT USAGE ON SCHEMA event_store TO muster_planner, muster_auditor;
GRANT SELECT ON event_store.events, event_store.streams, event_store.commands TO muster_planner, muster_auditor;
GRANT EXECUTE ON FUNCTION event_store.append(uuid, jsonb, jsonb) TO muster_planner;
GRANT EXECUTE ON FUNCTION event_store.hash_input(text, bigint, uuid, text, integer, jsonb, jsonb, timestamptz) TO muster_planner, muster_auditor;
