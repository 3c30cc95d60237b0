-- Appends to one stream go one at a time again: the stream's append lock is exclusive for every append.
-- Restates 0014's two functions; event_store.append holds the general append again, and append_request goes.
--
-- A review of 0014 found that its shared lock did not end the starvation it was written against: pgbench,
-- 10 clients of one-event "any" appends to one stream, fsync on, 10 s: 9 of 10 clients still stopped on
-- MU001. With a shared lock nothing orders one-event appends to one stream: one that loses the next
-- version wakes when the winner commits, and by the time it has tried again the winner's client has taken
-- the next one. It found a deadlock as well: a transaction that called append_one and then append on a
-- stream, while another append_one on it waited for the first's insert, each waiting for the other (and,
-- through hashtext collisions, between unrelated streams). With the lock exclusive for every append:
--
-- 1. append_one takes its stream's lock exclusively (the guard in its statement). Appends to one stream
--    queue on it as they queued on the head row's lock until 0012, and no row is written for it; appends
--    to different streams take different locks. Its statement reads the head with the snapshot it began
--    with, so after a wait it finds the version taken, writes nothing, and tries again holding the lock.
-- 2. event_store.append takes every stream's lock exclusively, in key order, as append_request did, and
--    writes its events with ON CONFLICT DO NOTHING: under the locks no version it chose is taken; under
--    REPEATABLE READ or SERIALIZABLE, a version taken by an append outside the snapshot fails the INSERT
--    with 40001. No attempts, no subtransaction. append_one hands its requests to it; a transaction takes
--    a lock it holds again at no cost, so appending twice to a stream in one transaction cannot deadlock
--    with itself, and two transactions that do wait in the order they took the lock.
-- pgbench, 10 clients, one stream, fsync on: see BENCHMARKS.md (session 9).
-- Contract, checks, errors and their messages, hash chain and results are 0014's otherwise.

DROP FUNCTION IF EXISTS event_store.append_request(uuid, jsonb, jsonb, boolean);

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
    v_written     integer;
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

    -- One event on one existing stream is event_store.append_one's: the client calls it directly, and it
    -- hands here whatever it does not write.

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

    -- Each stream's append lock (schema/0014), exclusively, in the order of its key, so that two appends
    -- naming the same streams in opposite orders do not deadlock; held to the end of the transaction. Every
    -- append to these streams waits for it, so the heads read below stay the heads. A transaction holds
    -- the lock already when append_one hands its request here, and takes it again at no cost.
    PERFORM pg_advisory_xact_lock(1836384261, k)
       FROM (SELECT DISTINCT hashtext(s ->> 'stream') AS k FROM jsonb_array_elements(p_request -> 'streams') s) x
      ORDER BY k;

    v_results := '[]'::jsonb;
    v_seen := '{}';
    a_name := '{}'; a_category := '{}'; a_version := '{}'; a_event := '{}'; a_previous := '{}'; a_hash := '{}';
    n_name := '{}'; n_category := '{}'; n_version := '{}'; n_head := '{}'; n_expected := '{}'; n_expected_n := '{}';

    -- With more than one stream, the existing ones and their heads (each one's last event) in one query.
    -- The names are one array (= ANY, an index scan at any size of the streams table), not a subquery
    -- to join (0011).
    IF jsonb_array_length(p_request -> 'streams') > 1 THEN
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
            -- One stream, or one the query above did not find (it may have been created since).
            PERFORM FROM event_store.streams WHERE stream_name = v_name;
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
    -- ascending within each. Under the locks no other append takes these versions. Under REPEATABLE READ or
    -- SERIALIZABLE the heads are those of the transaction's snapshot, and a version taken by an append it
    -- does not see makes the INSERT fail with a serialization failure (40001), a conflict to retry.
    WITH inserted AS (
        INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                        payload, metadata, command_id, recorded_at, previous_hash, hash)
        SELECT x.name, x.category, x.version, (x.e ->> 'event_id')::uuid, x.e ->> 'type', (x.e ->> 'schema_version')::integer,
               x.e -> 'payload', coalesce(x.e -> 'metadata', '{}'::jsonb), p_command_id, v_now, x.previous_hash, x.hash
          FROM unnest(a_name, a_category, a_version, a_event, a_previous, a_hash)
               WITH ORDINALITY AS x(name, category, version, e, previous_hash, hash, n)
         ORDER BY x.n
        ON CONFLICT (stream_name, stream_version) DO NOTHING
        RETURNING position)
    SELECT min(position), max(position), count(*) INTO v_first, v_last, v_written FROM inserted;
    IF v_written < cardinality(a_name) THEN
        -- Not reached while every append takes the locks; if one did not, nothing of this one is kept.
        RAISE EXCEPTION USING ERRCODE = 'MU001',
            MESSAGE = 'a concurrent append took a version this append chose; nothing was written, try again';
    END IF;

    v_result := jsonb_build_object('streams', v_results, 'first_position', v_first, 'last_position', v_last, 'duplicate', false);
    -- Every append is recorded with its result, which names the versions it wrote: the evidence of a
    -- stream's last events (ChainVerifier).
    INSERT INTO event_store.commands (command_id, request_hash, command, result, recorded_at)
    VALUES (v_record_id, v_request_hash, p_command, v_result, v_now);
    RETURN v_result;
END
$$;



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
    v_try          integer;
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
        -- The head is the stream's last event. The stream's append lock is taken exclusively (guard), so
        -- appends to one stream go one at a time, as they did on the head row's lock, without writing a
        -- row. The statement reads the head with the snapshot it started with: after waiting for the lock,
        -- that head may be old, the INSERT then finds the next version taken and writes nothing, and the
        -- next try (below), holding the lock, reads the new head. Under REPEATABLE READ, a version taken by
        -- an append committed after the transaction's snapshot is a serialization failure (40001).
        FOR v_try IN 1 .. 10 LOOP
            WITH guard AS MATERIALIZED (
                SELECT pg_advisory_xact_lock(1836384261, hashtext(p_stream))),
            head AS (
                SELECT e.stream_version AS version, e.hash AS head_hash FROM guard, event_store.events e
                 WHERE e.stream_name = p_stream ORDER BY e.stream_version DESC LIMIT 1),
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
            -- Nothing written. Try again only when a concurrent append took the version this one chose: no
            -- version was expected, the stream has events, and the command id has not been applied since.
            -- Anything else is event_store.append's to decide and report.
            EXIT WHEN p_expected = 'exact'
                   OR NOT EXISTS (SELECT FROM event_store.events WHERE stream_name = p_stream)
                   OR (p_command_id IS NOT NULL AND EXISTS (SELECT FROM event_store.commands WHERE command_id = p_command_id));
        END LOOP;
    END IF;
    -- The request the client would have sent event_store.append. A missing metadata is {} (JSON null
    -- would fail the events' check; append_one's own statement writes {}).
    RETURN event_store.append(p_command_id, p_command, jsonb_build_object('streams', jsonb_build_array(
        jsonb_strip_nulls(jsonb_build_object('stream', p_stream, 'expected', p_expected,
                                             'expected_version', CASE WHEN p_expected = 'exact' THEN p_expected_version END))
        || jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
               'event_id', p_event_id, 'type', p_type, 'schema_version', p_schema_version,
               'payload', p_payload, 'metadata', coalesce(p_metadata, '{}'::jsonb)))))));
END
$$;



REVOKE ALL ON FUNCTION event_store.append(uuid, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append(uuid, jsonb, jsonb) TO muster_planner;
REVOKE ALL ON FUNCTION event_store.append_one(uuid, jsonb, text, text, bigint, uuid, text, integer, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append_one(uuid, jsonb, text, text, bigint, uuid, text, integer, jsonb, jsonb) TO muster_planner;
