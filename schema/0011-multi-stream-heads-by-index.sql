-- event_store.append: a multi-stream append finds its existing heads through the streams' primary key at any
-- size of the streams table, and checks stream names at a twentieth of the cost. Otherwise 0007's function.
--
-- 1. 0007 locked the heads of a multi-stream append with `stream_name IN (SELECT … FROM
--    jsonb_array_elements(…))`. The planner takes that for a semi-join with 100 names (its guess for the
--    set-returning function) and hashes them against a sequential scan of the whole streams table, a plan it
--    keeps over the index until the table holds many thousands of streams; PL/pgSQL then keeps the plan for
--    the session. Every multi-stream append read every stream's head: an import of streams of 10 events
--    spent a growing share of its time there (perf of one 200,000-event import: 16% of the backend in the
--    scan and the hash). `stream_name = ANY (ARRAY(…))` is an index scan whatever the table's size (EXPLAIN
--    of its generic plan with 0, 200 and 5,000 streams), as `= ANY (u_name)` and `= v_name` below already
--    were. Alternating 100,000-event imports, streams of 10 events, batch 100, three rounds each: 4.09 /
--    3.87 s before, 3.49 / 3.32 s after (0.89× / 0.90× → 0.99× / 1.16× of the INSERT beside them).
-- 2. The check of each stream's name used 0001's pattern, whose bounded repetitions cost 5.6 µs a match
--    (0009's header); it is now 0009's equivalent form: the same names pass, with the same error.
-- Contract, checks, errors and their messages, hash chain, results and command records are 0007's (the
-- tests compare this definition with 0001's).

CREATE OR REPLACE FUNCTION event_store.append(p_command_id uuid, p_command jsonb, p_request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, event_store
AS $$
DECLARE
    v_hash        bytea;
    v_request_hash bytea;
    v_existing    event_store.commands%ROWTYPE;
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
    v_results     jsonb := '[]'::jsonb;
    v_first       bigint;
    v_last        bigint;
    v_result      jsonb;
    v_seen        text[] := '{}';
    v_category    text;
    v_i           integer;
    -- Existing heads of a multi-stream append, locked in name order: name -> [version, head hash in hex].
    v_heads       jsonb;
    v_inserted    text[];
    -- Every event of the append, in request order: its stream, category, version, request object, chain.
    a_name        text[] := '{}';
    a_category    text[] := '{}';
    a_version     bigint[] := '{}';
    a_event       jsonb[] := '{}';
    a_previous    bytea[] := '{}';
    a_hash        bytea[] := '{}';
    -- New streams' heads, with the expectation each was appended under (for the error when one exists).
    n_name        text[] := '{}';
    n_category    text[] := '{}';
    n_version     bigint[] := '{}';
    n_head        bytea[] := '{}';
    n_expected    text[] := '{}';
    n_expected_n  bigint[] := '{}';
    -- Existing streams' heads to move, and the same as a map: name -> [version, head hash in hex].
    v_moved       jsonb;
    u_name        text[] := '{}';
    u_version     bigint[] := '{}';
    u_head        bytea[] := '{}';
BEGIN
    IF p_request IS NULL OR jsonb_typeof(p_request -> 'streams') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_request -> 'streams') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = 'append request has no streams';
    END IF;

    -- What identifies a command's content: the command itself when given, else the events'
    -- streams, types and payloads (event ids and metadata differ between retries). The same value as
    -- 0001's coalesce(p_command, …); the branch keeps a fresh session from planning the subquery it
    -- does not need.
    -- Needed only with a command id.
    IF p_command_id IS NULL THEN
        NULL;
    ELSIF p_command IS NOT NULL THEN
        v_request_hash := sha256(convert_to(p_command::text, 'UTF8'));
    ELSE
        v_request_hash := sha256(convert_to((
            SELECT jsonb_agg(jsonb_build_object('stream', s -> 'stream', 'events',
                       (SELECT jsonb_agg(jsonb_build_array(e -> 'type', e -> 'schema_version', e -> 'payload'))
                          FROM jsonb_array_elements(s -> 'events') e)))
              FROM jsonb_array_elements(p_request -> 'streams') s)::text, 'UTF8'));
    END IF;

    IF p_command_id IS NOT NULL THEN
        -- Held to the end of the transaction: a concurrent append with the same id waits here, then finds
        -- the committed command (below). Nothing is written until the events are.
        PERFORM pg_advisory_xact_lock(1836384260, hashtext(p_command_id::text));
    END IF;

    -- The common append, one event to one existing stream expecting its exact version or any, is one
    -- statement: it locks the head, checks the expectation, inserts the event with its hash, moves the
    -- head and records the command (the general path below takes five to seven). When it writes nothing
    -- (no such stream, another version, or a command id applied before), the general path decides again
    -- and reports why; the failed attempt wrote nothing. The stream exists, so its name passed the check
    -- when it was created.
    IF jsonb_array_length(p_request -> 'streams') = 1 THEN
        v_stream := p_request -> 'streams' -> 0;
        v_expected := coalesce(v_stream ->> 'expected', 'any');
        IF jsonb_typeof(v_stream -> 'events') = 'array' AND jsonb_array_length(v_stream -> 'events') = 1
           AND v_expected IN ('exact', 'any', 'stream_exists')
           AND (v_expected <> 'exact' OR (v_stream ->> 'expected_version') IS NOT NULL) THEN
            v_name := v_stream ->> 'stream';
            v_event := v_stream -> 'events' -> 0;
            v_expected_n := CASE WHEN v_expected = 'exact' THEN (v_stream ->> 'expected_version')::bigint END;
            WITH head AS (
                SELECT version, head_hash FROM event_store.streams WHERE stream_name = v_name FOR UPDATE),
            chained AS (
                -- The hash input as the general path writes it (and event_store.hash_input defines it).
                SELECT head.version + 1 AS version, head.head_hash AS previous_hash,
                       sha256(head.head_hash || convert_to(concat_ws(E'\n',
                           v_name, (head.version + 1)::text, ((v_event ->> 'event_id')::uuid)::text, v_event ->> 'type',
                           ((v_event ->> 'schema_version')::integer)::text, (v_event -> 'payload')::text,
                           coalesce(v_event -> 'metadata', '{}'::jsonb)::text, v_recorded_at), 'UTF8')) AS hash
                  FROM head
                 WHERE (v_expected_n IS NULL OR head.version = v_expected_n)
                   -- A command applied before is the general path's to answer.
                   AND (p_command_id IS NULL
                        OR NOT EXISTS (SELECT FROM event_store.commands c WHERE c.command_id = p_command_id))),
            inserted AS (
                INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                                payload, metadata, command_id, recorded_at, previous_hash, hash)
                SELECT v_name, split_part(v_name, '-', 1), chained.version, (v_event ->> 'event_id')::uuid, v_event ->> 'type',
                       (v_event ->> 'schema_version')::integer, v_event -> 'payload', coalesce(v_event -> 'metadata', '{}'::jsonb),
                       p_command_id, v_now, chained.previous_hash, chained.hash
                  FROM chained
                RETURNING position, stream_version, hash),
            moved AS (
                UPDATE event_store.streams s SET version = inserted.stream_version, head_hash = inserted.hash, updated_at = v_now
                  FROM inserted
                 WHERE s.stream_name = v_name
                RETURNING inserted.position, inserted.stream_version),
            outcome AS (
                SELECT jsonb_build_object('streams', jsonb_build_array(jsonb_build_object(
                           'stream', v_name, 'from_version', moved.stream_version, 'to_version', moved.stream_version)),
                       'first_position', moved.position, 'last_position', moved.position, 'duplicate', false) AS result
                  FROM moved),
            recorded AS (
                INSERT INTO event_store.commands (command_id, request_hash, command, result, recorded_at)
                SELECT p_command_id, v_request_hash, p_command, outcome.result, v_now
                  FROM outcome
                 WHERE p_command_id IS NOT NULL)
            SELECT outcome.result INTO v_result FROM outcome;
            IF v_result IS NOT NULL THEN
                RETURN v_result;
            END IF;
        END IF;
    END IF;

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

    -- With more than one stream, lock the existing heads in name order first, and read them in the same
    -- query: in request order, two appends naming the same streams in opposite orders could deadlock.
    -- The names are one array (= ANY, an index scan at any size of the streams table), not a subquery to
    -- join: see this file's header.
    IF jsonb_array_length(p_request -> 'streams') > 1 THEN
        WITH locked AS (
            SELECT stream_name, version, head_hash FROM event_store.streams
             WHERE stream_name = ANY (ARRAY(SELECT s ->> 'stream' FROM jsonb_array_elements(p_request -> 'streams') s))
             ORDER BY stream_name FOR UPDATE)
        SELECT coalesce(jsonb_object_agg(stream_name, jsonb_build_array(version, encode(head_hash, 'hex'))), '{}'::jsonb)
          INTO v_heads FROM locked;
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
            -- One stream, or one its lock above did not find (it may have been created since).
            SELECT version, head_hash INTO v_version, v_head
              FROM event_store.streams WHERE stream_name = v_name FOR UPDATE;
            v_found := FOUND;
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

        IF NOT v_found THEN
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

        IF v_found THEN
            u_name := array_append(u_name, v_name);
            u_version := array_append(u_version, v_version);
            u_head := array_append(u_head, v_head);
        ELSE
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
                SELECT version INTO v_version FROM event_store.streams WHERE stream_name = v_name;
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

    -- Existing heads, looked up by name (= ANY, an index scan on a large table) with their new version and
    -- hash from a map, not joined with the arrays: with 100 streams per append a join's custom plan
    -- hash-joined a seq scan of the growing streams table (0005's note).
    IF cardinality(u_name) > 0 THEN
        SELECT jsonb_object_agg(u.name, jsonb_build_array(u.version, encode(u.head, 'hex'))) INTO v_moved
          FROM unnest(u_name, u_version, u_head) AS u(name, version, head);
        UPDATE event_store.streams s
           SET version = (v_moved -> s.stream_name ->> 0)::bigint, head_hash = decode(v_moved -> s.stream_name ->> 1, 'hex'),
               updated_at = v_now
         WHERE s.stream_name = ANY (u_name);
    END IF;

    v_result := jsonb_build_object('streams', v_results, 'first_position', v_first, 'last_position', v_last, 'duplicate', false);
    IF p_command_id IS NOT NULL THEN
        -- The command's only write, with its result.
        INSERT INTO event_store.commands (command_id, request_hash, command, result, recorded_at)
        VALUES (p_command_id, v_request_hash, p_command, v_result, v_now);
    END IF;
    RETURN v_result;
END
$$;

-- CREATE OR REPLACE keeps the function's owner and privileges; restate them so the file stands alone.
REVOKE ALL ON FUNCTION event_store.append(uuid, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append(uuid, jsonb, jsonb) TO muster_planner;
