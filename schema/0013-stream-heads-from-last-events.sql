-- A stream's head is its last event: appends no longer move a head row, and every append is recorded.
-- Until now each append locked its stream's row in event_store.streams and updated its version and head hash,
-- a second row written per event. The head is already in the events: the last version of the stream, found
-- through the (stream_name, stream_version) key, and that event's hash.
--
-- 1. event_store.append_one reads the last event without a lock and inserts the next version with
--    ON CONFLICT (stream_name, stream_version) DO NOTHING: the key decides between concurrent appends. One
--    that loses (its INSERT waits for the winner to commit) writes nothing and hands the request to
--    event_store.append, as it did when the version was not the one expected. pgbench calling append_one,
--    16 clients, fresh copies of a template with 64 streams, six alternating 6 s rounds: median 6,350
--    appends/s (5,245-6,879) with 0012's function, 6,917 (6,231-7,188) with this one; the machine's CPU
--    per append, median 289 µs (262-350) against 261 (253-290).
-- 2. event_store.append still locks the rows of the existing streams it appends to (in name order), so
--    general appends to a stream queue as before, and reads each head from the last event after the lock.
--    append_one does not take that lock: when it inserts a version the general append chose after reading
--    the heads, the general append's INSERT fails on the key, nothing of that attempt remains (each attempt
--    runs in a subtransaction), and the next attempt reads the heads again and decides again. The
--    one-event statement that 0006 added to it is gone: that is append_one's.
-- 3. The rows of event_store.streams are written once, when a stream is created: its version and head hash
--    are those after its first append (or after its last append before this migration), a point the
--    chain must pass through, no longer its current head (ChainVerifier checks both).
-- 4. Evidence of a stream's last events. The head row showed that a stream's last event was deleted; it
--    was updated by every append and had no trigger. Now every append writes a row in event_store.commands,
--    whose rows a trigger keeps from change, and whose result names the versions the append wrote: an
--    append without a command id is recorded under an id made up here, with an empty content hash (it is
--    never looked up), and the events keep a null command id. ChainVerifier checks that every version a
--    recorded result names is stored. Appends without a command id before this migration have no record:
--    the head row, as it stood here, covers their streams up to that point.
-- Contract, checks, errors and their messages, hash chain and results are 0011's and 0008's (the tests
-- compare both functions with 0001's definition).

COMMENT ON TABLE event_store.streams IS
    'One row per stream, written when it is created. A stream''s current head is its last event (schema/0013).';
COMMENT ON COLUMN event_store.streams.version IS
    'The stream''s version after its first append, or after its last append before schema/0013: a version the chain passes through.';
COMMENT ON COLUMN event_store.streams.head_hash IS 'The hash of the event at version.';
COMMENT ON TABLE event_store.commands IS
    'Every append since schema/0013 (and every append with a command id before it), with its result. A command id repeated returns the original result; an append without one is recorded under an id made up for it, with an empty request_hash.';

CREATE OR REPLACE FUNCTION event_store.append_one(
    p_command_id uuid, p_command jsonb, p_stream text, p_expected text, p_expected_version bigint,
    p_event_id uuid, p_type text, p_schema_version integer, p_payload jsonb, p_metadata jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, event_store
AS $$
DECLARE
    v_request_hash bytea;
    -- The id the append is recorded under: the command id, or one made up when there is none.
    v_record_id    uuid := p_command_id;
    v_now          timestamptz := now();
    -- recorded_at as event_store.hash_input prints it.
    v_recorded_at  text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_result       jsonb;
BEGIN
    IF p_expected IN ('exact', 'any', 'stream_exists') AND (p_expected <> 'exact' OR p_expected_version IS NOT NULL)
       AND p_stream IS NOT NULL THEN
        IF p_command_id IS NOT NULL THEN
            -- As event_store.append computes it: the command when given, else the streams, types and payloads.
            IF p_command IS NOT NULL THEN
                v_request_hash := sha256(convert_to(p_command::text, 'UTF8'));
            ELSE
                v_request_hash := sha256(convert_to(jsonb_build_array(jsonb_build_object('stream', to_jsonb(p_stream), 'events',
                                      jsonb_build_array(jsonb_build_array(to_jsonb(p_type), to_jsonb(p_schema_version), p_payload))))::text, 'UTF8'));
            END IF;
            -- Held to the end of the transaction: a concurrent append with the same id waits here.
            PERFORM pg_advisory_xact_lock(1836384260, hashtext(p_command_id::text));
        ELSE
            -- Recorded under an id made up here: never looked up, so no content hash.
            v_record_id := gen_random_uuid();
            v_request_hash := '\x'::bytea;
        END IF;
        -- The head is the stream's last event, read without a lock. A concurrent append that takes the
        -- same next version first makes the INSERT do nothing (it waits for that append to commit or
        -- roll back), and event_store.append decides again.
        WITH head AS (
            SELECT stream_version AS version, hash AS head_hash FROM event_store.events
             WHERE stream_name = p_stream ORDER BY stream_version DESC LIMIT 1),
        chained AS (
            -- The hash input as event_store.hash_input defines it.
            SELECT head.version + 1 AS version, head.head_hash AS previous_hash,
                   sha256(head.head_hash || convert_to(concat_ws(E'\n',
                       p_stream, (head.version + 1)::text, p_event_id::text, p_type, p_schema_version::text,
                       p_payload::text, coalesce(p_metadata, '{}'::jsonb)::text, v_recorded_at), 'UTF8')) AS hash
              FROM head
             WHERE (p_expected <> 'exact' OR head.version = p_expected_version)
               -- A command applied before is event_store.append's to answer.
               AND (p_command_id IS NULL
                    OR NOT EXISTS (SELECT FROM event_store.commands c WHERE c.command_id = p_command_id))),
        inserted AS (
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, command_id, recorded_at, previous_hash, hash)
            SELECT p_stream, split_part(p_stream, '-', 1), chained.version, p_event_id, p_type, p_schema_version,
                   p_payload, coalesce(p_metadata, '{}'::jsonb), p_command_id, v_now, chained.previous_hash, chained.hash
              FROM chained
            ON CONFLICT (stream_name, stream_version) DO NOTHING
            RETURNING position, stream_version),
        outcome AS (
            SELECT jsonb_build_object('streams', jsonb_build_array(jsonb_build_object(
                       'stream', p_stream, 'from_version', inserted.stream_version, 'to_version', inserted.stream_version)),
                   'first_position', inserted.position, 'last_position', inserted.position, 'duplicate', false) AS result
              FROM inserted),
        recorded AS (
            INSERT INTO event_store.commands (command_id, request_hash, command, result, recorded_at)
            SELECT v_record_id, v_request_hash, p_command, outcome.result, v_now
              FROM outcome)
        SELECT outcome.result INTO v_result FROM outcome;
        IF v_result IS NOT NULL THEN
            RETURN v_result;
        END IF;
    END IF;
    -- The request the client would have sent event_store.append.
    RETURN event_store.append(p_command_id, p_command, jsonb_build_object('streams', jsonb_build_array(
        jsonb_strip_nulls(jsonb_build_object('stream', p_stream, 'expected', p_expected,
                                             'expected_version', CASE WHEN p_expected = 'exact' THEN p_expected_version END))
        || jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
               'event_id', p_event_id, 'type', p_type, 'schema_version', p_schema_version,
               'payload', p_payload, 'metadata', p_metadata))))));
END
$$;

REVOKE ALL ON FUNCTION event_store.append_one(uuid, jsonb, text, text, bigint, uuid, text, integer, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append_one(uuid, jsonb, text, text, bigint, uuid, text, integer, jsonb, jsonb) TO muster_planner;

CREATE OR REPLACE FUNCTION event_store.append(p_command_id uuid, p_command jsonb, p_request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, event_store
-- 0012: every statement reads by key.
SET enable_seqscan = off
AS $$
DECLARE
    v_hash        bytea;
    v_request_hash bytea;
    v_existing    event_store.commands%ROWTYPE;
    -- The id the append is recorded under: the command id, or one made up when there is none.
    v_record_id   uuid;
    v_attempt     integer;
    v_constraint  text;
    v_stream      jsonb;
    v_events      jsonb;
    v_j           integer;
    v_event       jsonb;
    v_input       bytea;
    v_name        text;
    v_expected    text;
    v_expected_n  bigint;
    v_version     bigint;
    v_head        bytea;
    v_found       boolean;
    v_from        bigint;
    v_now         timestamptz := now();
    -- recorded_at as event_store.hash_input prints it.
    v_recorded_at text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_results     jsonb;
    v_first       bigint;
    v_last        bigint;
    v_result      jsonb;
    v_seen        text[];
    v_category    text;
    v_i           integer;
    -- Existing heads of a multi-stream append, locked in name order: name -> [version, head hash in hex].
    v_heads       jsonb;
    v_inserted    text[];
    -- Every event of the append, in request order: its stream, category, version, request object, chain.
    a_name        text[];
    a_category    text[];
    a_version     bigint[];
    a_event       jsonb[];
    a_previous    bytea[];
    a_hash        bytea[];
    -- New streams' heads, with the expectation each was appended under (for the error when one exists).
    n_name        text[];
    n_category    text[];
    n_version     bigint[];
    n_head        bytea[];
    n_expected    text[];
    n_expected_n  bigint[];
BEGIN
    IF p_request IS NULL OR jsonb_typeof(p_request -> 'streams') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_request -> 'streams') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = 'append request has no streams';
    END IF;

    -- What identifies a command's content: the command itself when given, else the events'
    -- streams, types and payloads (event ids and metadata differ between retries). The same value as
    -- 0001's coalesce(p_command, …); the branch keeps a fresh session from planning the subquery it
    -- does not need.
    IF p_command_id IS NULL THEN
        -- Recorded under an id made up here: never looked up, so no content hash.
        v_record_id := gen_random_uuid();
        v_request_hash := '\x'::bytea;
    ELSIF p_command IS NOT NULL THEN
        v_request_hash := sha256(convert_to(p_command::text, 'UTF8'));
    ELSE
        v_request_hash := sha256(convert_to((
            SELECT jsonb_agg(jsonb_build_object('stream', s -> 'stream', 'events',
                       (SELECT jsonb_agg(jsonb_build_array(e -> 'type', e -> 'schema_version', e -> 'payload'))
                          FROM jsonb_array_elements(s -> 'events') e)))
              FROM jsonb_array_elements(p_request -> 'streams') s)::text, 'UTF8'));
    END IF;

    v_record_id := coalesce(v_record_id, p_command_id);
    IF p_command_id IS NOT NULL THEN
        -- Held to the end of the transaction: a concurrent append with the same id waits here, then finds
        -- the committed command (below). Nothing is written until the events are.
        PERFORM pg_advisory_xact_lock(1836384260, hashtext(p_command_id::text));
    END IF;

    -- One event on one existing stream is event_store.append_one's (schema/0013): the client calls it
    -- directly, and it hands here whatever it does not write.

    IF p_command_id IS NOT NULL THEN
        SELECT * INTO v_existing FROM event_store.commands WHERE command_id = p_command_id;
        IF FOUND THEN
            -- Already applied (possibly by a concurrent transaction that has just committed).
            IF v_existing.request_hash <> v_request_hash THEN
                RAISE EXCEPTION USING ERRCODE = 'MU002',
                    MESSAGE = format('command id %s was already used for a different command', p_command_id),
                    HINT = 'use a new --command-id for a new command';
            END IF;
            RETURN v_existing.result || '{"duplicate": true}'::jsonb;
        END IF;
    END IF;

    -- Each attempt reads the heads and writes everything. event_store.append_one takes no lock: when it
    -- inserts a version this attempt chose, after the attempt read the heads, the INSERT of the events
    -- fails on the (stream, version) key and nothing of the attempt remains; the next attempt reads the
    -- heads again (each statement sees what has committed before it) and decides again, so an expected
    -- version that no longer holds is reported as a conflict, and "any" appends after the new event.
    FOR v_attempt IN 1 .. 20 LOOP
    BEGIN
        v_results := '[]'::jsonb;
        v_seen := '{}';
        v_heads := NULL;
        a_name := '{}'; a_category := '{}'; a_version := '{}'; a_event := '{}'; a_previous := '{}'; a_hash := '{}';
        n_name := '{}'; n_category := '{}'; n_version := '{}'; n_head := '{}'; n_expected := '{}'; n_expected_n := '{}';

        -- With more than one stream, lock the existing streams in name order first: in request order, two
        -- appends naming the same streams in opposite orders could deadlock. The names are one array (= ANY,
        -- an index scan at any size of the streams table), not a subquery to join (0011). Their heads are
        -- each one's last event, read after the lock, by a statement that sees what committed before it.
        IF jsonb_array_length(p_request -> 'streams') > 1 THEN
            PERFORM FROM event_store.streams
             WHERE stream_name = ANY (ARRAY(SELECT s ->> 'stream' FROM jsonb_array_elements(p_request -> 'streams') s))
             ORDER BY stream_name FOR UPDATE;
            SELECT coalesce(jsonb_object_agg(s.stream_name, jsonb_build_array(coalesce(l.stream_version, 0),
                       encode(coalesce(l.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea), 'hex'))), '{}'::jsonb)
              INTO v_heads
              FROM event_store.streams s
              LEFT JOIN LATERAL (SELECT e.stream_version, e.hash FROM event_store.events e WHERE e.stream_name = s.stream_name
                                  ORDER BY e.stream_version DESC LIMIT 1) l ON true
             WHERE s.stream_name = ANY (ARRAY(SELECT x ->> 'stream' FROM jsonb_array_elements(p_request -> 'streams') x));
        END IF;

        FOR v_stream IN SELECT value FROM jsonb_array_elements(p_request -> 'streams') LOOP
            v_name := v_stream ->> 'stream';
            v_expected := coalesce(v_stream ->> 'expected', 'any');
            -- 0009's form of 0001's pattern (the same names, without the bounded repetitions' cost).
            IF v_name IS NULL OR NOT (strpos(v_name, '-') BETWEEN 2 AND 32
                                      AND length(v_name) - strpos(v_name, '-') BETWEEN 1 AND 100
                                      AND v_name ~ '^[a-z][a-z0-9_]*-[a-z0-9][a-z0-9-]*$') THEN
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

            IF v_expected = 'no_stream' THEN
                -- No head to lock or read: the INSERT of the heads below finds a stream that exists.
                v_found := false;
            ELSIF v_heads ? v_name THEN
                v_version := (v_heads -> v_name ->> 0)::bigint;
                v_head := decode(v_heads -> v_name ->> 1, 'hex');
                v_found := true;
            ELSE
                -- One stream, or one its lock above did not find (it may have been created since): lock it,
                -- then read its last event.
                PERFORM FROM event_store.streams WHERE stream_name = v_name FOR UPDATE;
                v_found := FOUND;
                v_version := NULL;
                v_head := NULL;
                IF v_found THEN
                    SELECT stream_version, hash INTO v_version, v_head
                      FROM event_store.events WHERE stream_name = v_name ORDER BY stream_version DESC LIMIT 1;
                END IF;
            END IF;

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
                v_expected_n := NULL;
            ELSIF v_expected = 'stream_exists' THEN
                v_expected_n := NULL;
                IF NOT v_found THEN
                    RAISE EXCEPTION USING ERRCODE = 'MU001',
                        MESSAGE = format('stream %s: expected an existing stream but there is none', v_name),
                        DETAIL = jsonb_build_object('stream', v_name, 'expected', 'stream_exists', 'actual', 0)::text;
                END IF;
            ELSIF v_expected <> 'any' THEN
                RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s: unknown expectation %L', v_name, v_expected);
            ELSE
                v_expected_n := NULL;
            END IF;

            IF NOT v_found OR v_version IS NULL THEN
                v_version := 0;
                v_head := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
            END IF;

            -- The chain runs in a loop of simple expressions, which PL/pgSQL evaluates without a query; the
            -- events are written below, all streams' in one INSERT. The input is event_store.hash_input(...)
            -- written out (PostgreSQL does not inline that function): same arguments, casts and order, so the
            -- same bytes (a test compares this function with 0001's, and ChainVerifier recomputes every chain).
            v_from := v_version + 1;
            v_events := v_stream -> 'events';
            FOR v_j IN 0 .. jsonb_array_length(v_events) - 1 LOOP
                v_event := v_events -> v_j;
                v_input := convert_to(concat_ws(E'\n',
                               v_name, (v_from + v_j)::text, ((v_event ->> 'event_id')::uuid)::text, v_event ->> 'type',
                               ((v_event ->> 'schema_version')::integer)::text, (v_event -> 'payload')::text,
                               coalesce(v_event -> 'metadata', '{}'::jsonb)::text, v_recorded_at), 'UTF8');
                v_hash := sha256(v_head || v_input);
                a_name := array_append(a_name, v_name);
                a_category := array_append(a_category, v_category);
                a_version := array_append(a_version, v_from + v_j);
                a_event := array_append(a_event, v_event);
                a_previous := array_append(a_previous, v_head);
                a_hash := array_append(a_hash, v_hash);
                v_head := v_hash;
            END LOOP;
            v_version := v_from + jsonb_array_length(v_events) - 1;

            IF NOT v_found THEN
                n_name := array_append(n_name, v_name);
                n_category := array_append(n_category, v_category);
                n_version := array_append(n_version, v_version);
                n_head := array_append(n_head, v_head);
                n_expected := array_append(n_expected, v_expected);
                n_expected_n := array_append(n_expected_n, v_expected_n);
            END IF;
            v_results := v_results || jsonb_build_object('stream', v_name, 'from_version', v_from, 'to_version', v_version);
        END LOOP;

        -- New streams' heads, written once with their final version and hash, in one statement (in request
        -- order, as 0006 wrote them one by one). One that exists already (a stream expected not to, or one a
        -- concurrent transaction created first) is a conflict: the first such in request order is reported.
        IF cardinality(n_name) > 0 THEN
            WITH inserted AS (
                INSERT INTO event_store.streams (stream_name, category, version, head_hash, created_at, updated_at)
                SELECT h.name, h.category, h.version, h.head, v_now, v_now
                  FROM unnest(n_name, n_category, n_version, n_head) WITH ORDINALITY AS h(name, category, version, head, n)
                 ORDER BY h.n
                ON CONFLICT (stream_name) DO NOTHING
                RETURNING stream_name)
            SELECT coalesce(array_agg(stream_name), '{}') INTO v_inserted FROM inserted;
            IF cardinality(v_inserted) < cardinality(n_name) THEN
                FOR v_i IN 1 .. cardinality(n_name) LOOP
                    CONTINUE WHEN n_name[v_i] = ANY (v_inserted);
                    v_name := n_name[v_i];
                    SELECT coalesce(max(stream_version), 0) INTO v_version FROM event_store.events WHERE stream_name = v_name;
                    IF n_expected[v_i] = 'no_stream' THEN
                        RAISE EXCEPTION USING ERRCODE = 'MU001',
                            MESSAGE = format('stream %s: expected no stream but it exists at version %s', v_name, v_version),
                            DETAIL = jsonb_build_object('stream', v_name, 'expected', 'no_stream', 'actual', v_version)::text;
                    END IF;
                    RAISE EXCEPTION USING ERRCODE = 'MU001',
                        MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name,
                                         CASE WHEN n_expected[v_i] = 'exact' THEN n_expected_n[v_i]::text ELSE 'no stream' END, v_version),
                        DETAIL = jsonb_build_object('stream', v_name, 'expected', coalesce(n_expected_n[v_i]::text, n_expected[v_i]), 'actual', v_version)::text;
                END LOOP;
            END IF;
        END IF;

        -- Every event in one statement; positions are drawn in request order: streams in order, versions
        -- ascending within each.
        WITH inserted AS (
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, command_id, recorded_at, previous_hash, hash)
            SELECT x.name, x.category, x.version, (x.e ->> 'event_id')::uuid, x.e ->> 'type', (x.e ->> 'schema_version')::integer,
                   x.e -> 'payload', coalesce(x.e -> 'metadata', '{}'::jsonb), p_command_id, v_now, x.previous_hash, x.hash
              FROM unnest(a_name, a_category, a_version, a_event, a_previous, a_hash)
                   WITH ORDINALITY AS x(name, category, version, e, previous_hash, hash, n)
             ORDER BY x.n
            RETURNING position)
        SELECT min(position), max(position) INTO v_first, v_last FROM inserted;

        v_result := jsonb_build_object('streams', v_results, 'first_position', v_first, 'last_position', v_last, 'duplicate', false);
        -- Every append is recorded with its result, which names the versions it wrote: the evidence of a
        -- stream's last events (ChainVerifier).
        INSERT INTO event_store.commands (command_id, request_hash, command, result, recorded_at)
        VALUES (v_record_id, v_request_hash, p_command, v_result, v_now);
        RETURN v_result;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'events_stream_version_key' THEN
            RAISE;
        END IF;
    END;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = 'MU001',
        MESSAGE = 'concurrent appends took the next version of a stream in this append 20 times in a row; try again';
END
$$;

-- CREATE OR REPLACE keeps the function's owner and privileges; restate them so the file stands alone.
REVOKE ALL ON FUNCTION event_store.append(uuid, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append(uuid, jsonb, jsonb) TO muster_planner;
