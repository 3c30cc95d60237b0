-- event_store.append with all streams of an append handled together: the same contract, checks, errors,
-- hash chain (byte-identical) and result as 0005, with a fixed number of statements per append instead of
-- five per stream, and the head rows locked in name order.
--
-- - Every stream's request is checked (name, duplicates, events, expectation form) before anything is
--   locked or written. Then the existing heads are locked in name order and read in one query. 0005
--   locked them in request order, so two appends naming the same streams in opposite orders deadlocked
--   (a test shows it: appendsNamingTheSameStreamsInOppositeOrdersNeverDeadlock).
-- - Expectations are checked in request order; the first that fails raises MU001 naming its stream.
-- - The hash inputs of all events are computed in one query (only the chain runs in a loop); new
--   streams' head rows are inserted in one statement at their final version and head (0005 inserted
--   them at version 0 and updated them after their events); all events are inserted in one statement
--   and the existing heads updated in one.
-- - Positions follow the request order: streams in order, versions ascending within each.
--
-- Bulk appends of streams of 10 events, 100 events per append (tools/bench bulk-append, three alternating
-- runs): 11,760 / 13,278 / 13,586 events/s with 0005, 12,990 / 15,114 / 15,453 with this definition.

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
    v_name        text;
    v_expected    text;
    v_expected_n  bigint;
    v_version     bigint;
    v_head        bytea;
    v_now         timestamptz := now();
    -- recorded_at as event_store.hash_input prints it.
    v_recorded_at text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_zero        constant bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    v_first       bigint;
    v_last        bigint;
    v_result      jsonb;
    v_stream_i    integer;
    v_input       record;
    i             integer;
    -- Per stream, in request order.
    v_names       text[] := '{}';
    v_counts      bigint[] := '{}';
    v_versions    bigint[];
    v_heads       bytea[];
    v_found       boolean[];
    v_created     text[];
    -- Per event, in request order: the chain.
    v_previous    bytea[] := '{}';
    v_hashes      bytea[] := '{}';
BEGIN
    IF p_request IS NULL OR jsonb_typeof(p_request -> 'streams') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_request -> 'streams') = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = 'append request has no streams';
    END IF;

    -- What identifies a command's content: the command itself when given, else the events'
    -- streams, types and payloads (event ids and metadata differ between retries). The same value as
    -- 0001's coalesce(p_command, …); the branch keeps a fresh session from planning the subquery it
    -- does not need.
    IF p_command IS NOT NULL THEN
        v_hash := sha256(convert_to(p_command::text, 'UTF8'));
    ELSE
        v_hash := sha256(convert_to((
            SELECT jsonb_agg(jsonb_build_object('stream', s -> 'stream', 'events',
                       (SELECT jsonb_agg(jsonb_build_array(e -> 'type', e -> 'schema_version', e -> 'payload'))
                          FROM jsonb_array_elements(s -> 'events') e)))
              FROM jsonb_array_elements(p_request -> 'streams') s)::text, 'UTF8'));
    END IF;

    IF p_command_id IS NOT NULL THEN
        -- ON CONFLICT DO NOTHING waits, as the unique violation did, for a concurrent transaction
        -- inserting the same id, and needs no subtransaction.
        INSERT INTO event_store.commands (command_id, request_hash, command, result)
        VALUES (p_command_id, v_hash, p_command, '{}'::jsonb)
        ON CONFLICT (command_id) DO NOTHING;
        IF NOT FOUND THEN
            -- Already applied (possibly by a concurrent transaction that has just committed).
            SELECT * INTO v_existing FROM event_store.commands WHERE command_id = p_command_id;
            IF v_existing.request_hash <> v_hash THEN
                RAISE EXCEPTION USING ERRCODE = 'MU002',
                    MESSAGE = format('command id %s was already used for a different command', p_command_id),
                    HINT = 'use a new --command-id for a new command';
            END IF;
            RETURN v_existing.result || '{"duplicate": true}'::jsonb;
        END IF;
    END IF;

    -- Every stream's request is checked, in request order, before anything is locked or written.
    FOR v_stream IN SELECT value FROM jsonb_array_elements(p_request -> 'streams') LOOP
        v_name := v_stream ->> 'stream';
        v_expected := coalesce(v_stream ->> 'expected', 'any');
        IF v_name IS NULL OR v_name !~ '^[a-z][a-z0-9_]{0,30}-[a-z0-9][a-z0-9-]{0,99}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003',
                MESSAGE = format('stream name %L is not of the form category-id (lowercase letters, digits, hyphens)', v_name);
        END IF;
        IF v_name = ANY (v_names) THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('stream %s appears twice in one append', v_name);
        END IF;
        IF jsonb_typeof(v_stream -> 'events') IS DISTINCT FROM 'array' OR jsonb_array_length(v_stream -> 'events') = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s has no events', v_name);
        END IF;
        IF v_expected = 'exact' THEN
            v_expected_n := (v_stream ->> 'expected_version')::bigint;
            IF v_expected_n IS NULL OR v_expected_n < 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s: expected_version is missing', v_name);
            END IF;
        ELSIF v_expected NOT IN ('no_stream', 'stream_exists', 'any') THEN
            RAISE EXCEPTION USING ERRCODE = 'MU003', MESSAGE = format('append to stream %s: unknown expectation %L', v_name, v_expected);
        END IF;
        v_names := v_names || v_name;
        v_counts := v_counts || jsonb_array_length(v_stream -> 'events')::bigint;
    END LOOP;

    -- Lock the existing head rows, in name order (two appends to the same streams wait for each other
    -- instead of deadlocking), then read them all.
    PERFORM 1 FROM event_store.streams WHERE stream_name = ANY (v_names) ORDER BY stream_name FOR UPDATE;
    SELECT array_agg(s.version ORDER BY x.i), array_agg(s.head_hash ORDER BY x.i), array_agg(s.stream_name IS NOT NULL ORDER BY x.i)
      INTO v_versions, v_heads, v_found
      FROM unnest(v_names) WITH ORDINALITY AS x(name, i)
      LEFT JOIN event_store.streams s ON s.stream_name = x.name;

    -- Expectations, in request order: the first that fails raises MU001 and nothing is written.
    FOR i IN 1 .. cardinality(v_names) LOOP
        v_stream := p_request -> 'streams' -> (i - 1);
        v_name := v_names[i];
        v_expected := coalesce(v_stream ->> 'expected', 'any');
        v_version := v_versions[i];
        IF v_expected = 'exact' THEN
            v_expected_n := (v_stream ->> 'expected_version')::bigint;
            IF coalesce(v_version, 0) <> v_expected_n THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name, v_expected_n, coalesce(v_version, 0)),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', v_expected_n, 'actual', coalesce(v_version, 0))::text;
            END IF;
        ELSIF v_expected = 'no_stream' THEN
            IF v_found[i] THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected no stream but it exists at version %s', v_name, v_version),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', 'no_stream', 'actual', v_version)::text;
            END IF;
        ELSIF v_expected = 'stream_exists' THEN
            IF NOT v_found[i] THEN
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected an existing stream but there is none', v_name),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', 'stream_exists', 'actual', 0)::text;
            END IF;
        END IF;
    END LOOP;

    -- The hash inputs of every event of every stream in one query, in request order; only the chain
    -- itself, where each hash covers the one before, runs in the loop. The input is
    -- event_store.hash_input(...) written out, as in 0004 (a test compares with 0001's function, and
    -- ChainVerifier recomputes every chain in Swift).
    FOR v_input IN
        SELECT x.i::integer AS i, convert_to(concat_ws(E'\n',
                   x.name, (coalesce(x.version, 0) + e.n)::text, ((e.e ->> 'event_id')::uuid)::text, e.e ->> 'type',
                   ((e.e ->> 'schema_version')::integer)::text, (e.e -> 'payload')::text,
                   coalesce(e.e -> 'metadata', '{}'::jsonb)::text, v_recorded_at), 'UTF8') AS input
          FROM unnest(v_names, v_versions) WITH ORDINALITY AS x(name, version, i)
         CROSS JOIN LATERAL jsonb_array_elements(p_request -> 'streams' -> (x.i::integer - 1) -> 'events') WITH ORDINALITY AS e(e, n)
         ORDER BY x.i, e.n
    LOOP
        IF v_input.i IS DISTINCT FROM v_stream_i THEN
            v_stream_i := v_input.i;
            v_head := coalesce(v_heads[v_stream_i], v_zero);
        END IF;
        v_hash := sha256(v_head || v_input.input);
        v_previous := array_append(v_previous, v_head);
        v_hashes := array_append(v_hashes, v_hash);
        v_head := v_hash;
        v_heads[v_stream_i] := v_hash;
    END LOOP;

    -- New streams' head rows, in one INSERT, at their final version and head (they must exist before
    -- their events, which reference them).
    IF NOT (true = ALL (v_found)) THEN
        WITH created AS (
            INSERT INTO event_store.streams (stream_name, category, version, head_hash, created_at, updated_at)
            SELECT x.name, split_part(x.name, '-', 1), x.count, x.head, v_now, v_now
              FROM unnest(v_names, v_found, v_counts, v_heads) WITH ORDINALITY AS x(name, found, count, head, i)
             WHERE NOT x.found
             ORDER BY x.i
            ON CONFLICT (stream_name) DO NOTHING
            RETURNING stream_name)
        SELECT coalesce(array_agg(stream_name), '{}') INTO v_created FROM created;
        FOR i IN 1 .. cardinality(v_names) LOOP
            IF NOT v_found[i] AND NOT v_names[i] = ANY (v_created) THEN
                -- A concurrent transaction created the stream first: the expectation no longer holds.
                v_name := v_names[i];
                v_stream := p_request -> 'streams' -> (i - 1);
                v_expected := coalesce(v_stream ->> 'expected', 'any');
                v_expected_n := (v_stream ->> 'expected_version')::bigint;
                SELECT version INTO v_version FROM event_store.streams WHERE stream_name = v_name;
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name,
                                     CASE WHEN v_expected = 'exact' THEN v_expected_n::text ELSE 'no stream' END, v_version),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', coalesce(v_expected_n::text, v_expected), 'actual', v_version)::text;
            END IF;
        END LOOP;
    END IF;

    -- Every event in one INSERT; positions are drawn in request order: streams in order, versions ascending.
    WITH inserted AS (
        INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                        payload, metadata, command_id, recorded_at, previous_hash, hash)
        SELECT r.name, split_part(r.name, '-', 1), coalesce(r.version, 0) + r.n, (r.e ->> 'event_id')::uuid, r.e ->> 'type',
               (r.e ->> 'schema_version')::integer, r.e -> 'payload', coalesce(r.e -> 'metadata', '{}'::jsonb), p_command_id, v_now,
               h.previous_hash, h.hash
          FROM (SELECT x.name, x.version, e.e, e.n, row_number() OVER (ORDER BY x.i, e.n) AS g
                  FROM unnest(v_names, v_versions) WITH ORDINALITY AS x(name, version, i)
                 CROSS JOIN LATERAL jsonb_array_elements(p_request -> 'streams' -> (x.i::integer - 1) -> 'events') WITH ORDINALITY AS e(e, n)) r
          JOIN unnest(v_previous, v_hashes) WITH ORDINALITY AS h(previous_hash, hash, g) ON h.g = r.g
         ORDER BY r.g
        RETURNING position)
    SELECT min(position), max(position) INTO v_first, v_last FROM inserted;

    -- The existing streams' heads, in one UPDATE.
    IF true = ANY (v_found) THEN
        UPDATE event_store.streams s SET version = x.version + x.count, head_hash = x.head, updated_at = v_now
          FROM unnest(v_names, v_found, v_versions, v_counts, v_heads) AS x(name, found, version, count, head)
         WHERE x.found AND s.stream_name = x.name;
    END IF;

    v_result := jsonb_build_object(
        'streams', (SELECT jsonb_agg(jsonb_build_object('stream', x.name, 'from_version', coalesce(x.version, 0) + 1,
                                                        'to_version', coalesce(x.version, 0) + x.count) ORDER BY x.i)
                      FROM unnest(v_names, v_versions, v_counts) WITH ORDINALITY AS x(name, version, count, i)),
        'first_position', v_first, 'last_position', v_last, 'duplicate', false);
    IF p_command_id IS NOT NULL THEN
        -- The only write to commands after its insert; the immutability trigger allows it while result is empty.
        UPDATE event_store.commands SET result = v_result WHERE command_id = p_command_id;
    END IF;
    RETURN v_result;
END
$$;

-- CREATE OR REPLACE keeps the function's owner and privileges; restate them so the file stands alone.
REVOKE ALL ON FUNCTION event_store.append(uuid, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append(uuid, jsonb, jsonb) TO muster_planner;
