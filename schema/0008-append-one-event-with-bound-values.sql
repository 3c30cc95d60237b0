-- event_store.append_one: one event on one stream, its fields bound one by one instead of in a JSON request.
-- Most planner commands append one event to one existing stream; event_store.append takes those in one
-- statement already (schema/0006), but only after parsing the whole request as jsonb and taking the stream
-- and the event back out of it. Here the client binds the stream, the expectation and the event's fields
-- as parameters. pgbench, 16 clients, prepared statements, alternating 8 s runs: 6,050-6,300 appends/s
-- through event_store.append, 6,900-7,250 through this function (same statement, same rows).
--
-- The same contract, rows, hash chain, result and command record as event_store.append for the same event:
-- the statement is 0006's single-event statement with parameters for the request's fields, and the command
-- id's content hash, when no command is given, is computed from the same JSON value append computes it
-- from. Whatever that statement does not write (no such stream, another version, a stream expected not to
-- exist, a command id applied before) goes to event_store.append with the equivalent request, which
-- decides and reports exactly as it would have. The tests compare both functions with 0001's definition.

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
        END IF;
        WITH head AS (
            SELECT version, head_hash FROM event_store.streams WHERE stream_name = p_stream FOR UPDATE),
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
            RETURNING position, stream_version, hash),
        moved AS (
            UPDATE event_store.streams s SET version = inserted.stream_version, head_hash = inserted.hash, updated_at = v_now
              FROM inserted
             WHERE s.stream_name = p_stream
            RETURNING inserted.position, inserted.stream_version),
        outcome AS (
            SELECT jsonb_build_object('streams', jsonb_build_array(jsonb_build_object(
                       'stream', p_stream, 'from_version', moved.stream_version, 'to_version', moved.stream_version)),
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
