-- event_store.append without the notification, and with a multi-stream append's heads locked in name
-- order. Otherwise 0004's function: contract, checks, errors, hash chain (byte-identical), result.
--
-- 1. No pg_notify('muster_events', …). A NOTIFY takes a lock on the database's notification queue at
--    commit and holds it until the commit record is flushed, so every appending transaction committed one
--    after the other: with 16 writers the server appended 1,020 events/s with the notification and 1,906
--    without (pgbench calling this function, fsync on). The wake-up now happens after the commit, by the
--    writer that wants it (`EventStore.notifyAppended`, which the planning service calls after each
--    command), and projection workers still poll: the notification only ever made them react sooner.
--
-- 2. With more than one stream, the existing head rows are locked in name order before the streams are
--    worked through in request order. 0004 took each head's lock as it reached the stream, so two appends
--    naming the same streams in opposite orders could deadlock (SQLSTATE 40P01); a test shows it
--    (appendsNamingTheSameStreamsInOppositeOrdersNeverDeadlock). A single-stream append is unchanged.
--    Streams that do not exist yet have no row to lock: two appends creating the same new streams in
--    opposite orders can still deadlock, and PostgreSQL then cancels one of them, which writes nothing.
--
-- Tried and not kept: all streams of an append handled by set-based statements (one INSERT for all
-- events, one UPDATE for all heads). Streams of 10 events, 100 per append, gained 10-14% in alternating
-- runs. But a single-event append, called from pgbench, ran at 690-780 per second against 1,300-1,390
-- for this definition, and with 100 streams per append a growing streams table was scanned whole
-- (custom plans chose a hash join): 2,408 events/s in a full benchmark run. Forcing generic plans cured
-- the scan; whether single appends stayed slower was lost in this machine's noise (±15% run to run).

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
    v_min         bigint;
    v_max         bigint;
    v_result      jsonb;
    v_seen        text[] := '{}';
    v_category    text;
    -- One stream's chain, in request order.
    v_previous    bytea[];
    v_hashes      bytea[];
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

    -- With more than one stream, lock the existing heads in name order first: each stream's own
    -- FOR UPDATE below then finds its row locked already. In request order, two appends naming the same
    -- streams in opposite orders could deadlock.
    IF jsonb_array_length(p_request -> 'streams') > 1 THEN
        PERFORM 1 FROM event_store.streams
          WHERE stream_name IN (SELECT s ->> 'stream' FROM jsonb_array_elements(p_request -> 'streams') s)
          ORDER BY stream_name FOR UPDATE;
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
            INSERT INTO event_store.streams (stream_name, category, version, head_hash)
            VALUES (v_name, v_category, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
            ON CONFLICT (stream_name) DO NOTHING;
            IF NOT FOUND THEN
                -- A concurrent transaction created the stream first: the expectation no longer holds.
                SELECT version INTO v_version FROM event_store.streams WHERE stream_name = v_name;
                RAISE EXCEPTION USING ERRCODE = 'MU001',
                    MESSAGE = format('stream %s: expected version %s but it is at version %s', v_name,
                                     CASE WHEN v_expected = 'exact' THEN v_expected_n::text ELSE 'no stream' END, v_version),
                    DETAIL = jsonb_build_object('stream', v_name, 'expected', coalesce(v_expected_n::text, v_expected), 'actual', v_version)::text;
            END IF;
            v_version := 0;
            v_head := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;

        -- The hash inputs are computed set-based (one query); only the chain itself, where each hash
        -- covers the one before, runs in the loop. Then one INSERT per stream reads the events from the
        -- request again, zipped (ROWS FROM … WITH ORDINALITY) with the chain.
        v_from := v_version + 1;
        v_previous := '{}';
        v_hashes := '{}';
        -- The input is event_store.hash_input(...) written out: PostgreSQL does not inline that function
        -- (it is declared IMMUTABLE but calls the STABLE to_char and convert_to), and calling it per event
        -- ran a query per event. Same arguments, casts and order, so the same bytes (a test compares
        -- this function with 0001's, and ChainVerifier recomputes every chain in Swift).
        FOR v_input IN
            SELECT convert_to(concat_ws(E'\n',
                       v_name, (v_from + x.n - 1)::text, ((x.e ->> 'event_id')::uuid)::text, x.e ->> 'type',
                       ((x.e ->> 'schema_version')::integer)::text, (x.e -> 'payload')::text,
                       coalesce(x.e -> 'metadata', '{}'::jsonb)::text, v_recorded_at), 'UTF8')
              FROM jsonb_array_elements(v_stream -> 'events') WITH ORDINALITY AS x(e, n)
             ORDER BY x.n
        LOOP
            v_hash := sha256(v_head || v_input);
            v_previous := array_append(v_previous, v_head);
            v_hashes := array_append(v_hashes, v_hash);
            v_head := v_hash;
        END LOOP;
        v_version := v_from + cardinality(v_hashes) - 1;

        -- Positions are drawn in version order.
        WITH inserted AS (
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, command_id, recorded_at, previous_hash, hash)
            SELECT v_name, v_category, v_from + x.n - 1, (x.e ->> 'event_id')::uuid, x.e ->> 'type', (x.e ->> 'schema_version')::integer,
                   x.e -> 'payload', coalesce(x.e -> 'metadata', '{}'::jsonb), p_command_id, v_now, x.previous_hash, x.hash
              FROM ROWS FROM (jsonb_array_elements(v_stream -> 'events'), unnest(v_previous), unnest(v_hashes))
                   WITH ORDINALITY AS x(e, previous_hash, hash, n)
             ORDER BY x.n
            RETURNING position)
        SELECT min(position), max(position) INTO v_min, v_max FROM inserted;
        v_first := coalesce(v_first, v_min);
        v_last := v_max;

        UPDATE event_store.streams SET version = v_version, head_hash = v_head, updated_at = v_now
         WHERE stream_name = v_name;
        v_results := v_results || jsonb_build_object('stream', v_name, 'from_version', v_from, 'to_version', v_version);
    END LOOP;

    v_result := jsonb_build_object('streams', v_results, 'first_position', v_first, 'last_position', v_last, 'duplicate', false);
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
