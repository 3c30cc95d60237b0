-- The log's integrity checker shared by tools/soak and the fault and soak tests.
--
--   psql -X -q -At -v ON_ERROR_STOP=1 -d DB -f tools/lib/soak-check.sql < outcomes.tsv
--
-- Standard input: what the writers saw, one line per command attempt, tab-separated:
--   command_id <TAB> outcome
-- where outcome is accepted (written now), duplicate (already applied earlier), nochange (valid but
-- wrote nothing), rejected (refused by a rule: nothing may be written) or unknown (the writer was
-- killed or lost the database: either is fine, but only whole). Empty input checks the log alone.
--
-- Prints `figures: ...` and one `FINDING: ...` line per violation, and fails (psql exit status 3)
-- when there is any finding. Reads in one repeatable-read snapshot, so it may run beside writers.

CREATE TEMP TABLE soak_outcomes (command_id uuid NOT NULL, outcome text NOT NULL
    CHECK (outcome IN ('accepted', 'duplicate', 'nochange', 'rejected', 'unknown')));
\copy soak_outcomes FROM pstdin
CREATE TEMP TABLE soak_findings (finding text NOT NULL);

BEGIN ISOLATION LEVEL REPEATABLE READ;

-- Stream versions run 1..n without a gap or a repeat, and pass through the version and hash the stream's
-- row recorded when it was created (schema/0013).
INSERT INTO soak_findings
SELECT format('stream %s: %s event(s), versions %s..%s, its row at version %s',
              s.stream_name, count(e.position), min(e.stream_version), max(e.stream_version), s.version)
  FROM event_store.streams s LEFT JOIN event_store.events e ON e.stream_name = s.stream_name
 GROUP BY s.stream_name, s.version
HAVING count(DISTINCT e.stream_version) <> count(e.position) OR count(e.position) = 0
    OR coalesce(min(e.stream_version), 1) <> 1 OR max(e.stream_version) <> count(e.position)
    OR max(e.stream_version) < s.version;

INSERT INTO soak_findings
SELECT format('stream %s: its row''s hash differs from the hash of its event at version %s', s.stream_name, s.version)
  FROM event_store.streams s JOIN event_store.events e ON e.stream_name = s.stream_name AND e.stream_version = s.version
 WHERE e.hash <> s.head_hash;

-- No event recorded twice.
INSERT INTO soak_findings
SELECT format('event id %s appears %s times', event_id, count(*))
  FROM event_store.events GROUP BY event_id HAVING count(*) > 1;

-- Whole commands: every recorded command has a result whose stream ranges hold exactly its events,
-- and its first and last positions are its own events. An append without a command id is recorded
-- under an id made up for it, with an empty request hash; its events have no command id (schema/0013).
INSERT INTO soak_findings
SELECT format('command %s is recorded without a result (a half-applied append)', command_id)
  FROM event_store.commands WHERE NOT (result ? 'streams');

WITH ranges AS (
    SELECT c.command_id, r ->> 'stream' AS stream, (r ->> 'from_version')::bigint AS from_v, (r ->> 'to_version')::bigint AS to_v,
           length(c.request_hash) = 0 AS made_up
      FROM event_store.commands c, jsonb_array_elements(c.result -> 'streams') r
     WHERE c.result ? 'streams'),
checked AS (
    SELECT r.command_id, r.stream, r.to_v - r.from_v + 1 AS expected,
           count(e.position) AS found, count(e.position) FILTER (WHERE e.command_id = r.command_id OR (r.made_up AND e.command_id IS NULL)) AS own
      FROM ranges r LEFT JOIN event_store.events e
        ON e.stream_name = r.stream AND e.stream_version BETWEEN r.from_v AND r.to_v
     GROUP BY r.command_id, r.stream, r.from_v, r.to_v, r.made_up)
INSERT INTO soak_findings
SELECT format('command %s: stream %s should hold %s of its events, holds %s event(s), %s of them its own',
              command_id, stream, expected, found, own)
  FROM checked WHERE found <> expected OR own <> expected;

WITH expected AS (
    SELECT c.command_id, sum((r ->> 'to_version')::bigint - (r ->> 'from_version')::bigint + 1) AS n,
           (c.result ->> 'first_position')::bigint AS first_position, (c.result ->> 'last_position')::bigint AS last_position
      FROM event_store.commands c, jsonb_array_elements(c.result -> 'streams') r
     WHERE c.result ? 'streams' AND length(c.request_hash) > 0 GROUP BY c.command_id, c.result),
actual AS (
    SELECT command_id, count(*) AS n, min(position) AS first_position, max(position) AS last_position
      FROM event_store.events WHERE command_id IS NOT NULL GROUP BY command_id)
INSERT INTO soak_findings
SELECT format('command %s: %s event(s) in the log (positions %s..%s), its result says %s (positions %s..%s)',
              coalesce(x.command_id, a.command_id), coalesce(a.n, 0), a.first_position, a.last_position,
              coalesce(x.n, 0), x.first_position, x.last_position)
  FROM expected x FULL JOIN actual a ON a.command_id = x.command_id
 WHERE a.n IS DISTINCT FROM x.n OR a.first_position IS DISTINCT FROM x.first_position
    OR a.last_position IS DISTINCT FROM x.last_position;

-- What the writers saw: accepted commands are in the log once; rejected ones left no trace.
INSERT INTO soak_findings
SELECT format('command %s was reported %s but is not in the log', o.command_id, o.outcome)
  FROM soak_outcomes o
 WHERE o.outcome IN ('accepted', 'duplicate')
   AND NOT EXISTS (SELECT FROM event_store.commands c WHERE c.command_id = o.command_id AND c.result ? 'streams');

INSERT INTO soak_findings
SELECT format('command %s was reported %s but wrote %s event(s)', o.command_id, o.outcome, count(e.position))
  FROM soak_outcomes o JOIN event_store.events e ON e.command_id = o.command_id
 WHERE o.outcome IN ('rejected', 'nochange')
 GROUP BY o.command_id, o.outcome;

INSERT INTO soak_findings
SELECT format('command %s was reported both %s', command_id, string_agg(DISTINCT outcome, ' and '))
  FROM soak_outcomes GROUP BY command_id
HAVING count(DISTINCT outcome) FILTER (WHERE outcome IN ('accepted', 'rejected', 'nochange')) > 1;

SELECT format('figures: %s event(s) in %s stream(s) checked, %s command(s) recorded; writers reported %s attempt(s): %s accepted, %s already applied, %s no change, %s rejected, %s unknown (killed or database unavailable); %s finding(s)',
              (SELECT count(*) FROM event_store.events), (SELECT count(*) FROM event_store.streams),
              (SELECT count(*) FROM event_store.commands), (SELECT count(*) FROM soak_outcomes),
              (SELECT count(*) FROM soak_outcomes WHERE outcome = 'accepted'),
              (SELECT count(*) FROM soak_outcomes WHERE outcome = 'duplicate'),
              (SELECT count(*) FROM soak_outcomes WHERE outcome = 'nochange'),
              (SELECT count(*) FROM soak_outcomes WHERE outcome = 'rejected'),
              (SELECT count(*) FROM soak_outcomes WHERE outcome = 'unknown'),
              (SELECT count(*) FROM soak_findings));
SELECT 'FINDING: ' || finding FROM soak_findings ORDER BY finding LIMIT 50;
COMMIT;

DO $$
BEGIN
    IF EXISTS (SELECT FROM soak_findings) THEN
        RAISE EXCEPTION 'the log check found % problem(s)', (SELECT count(*) FROM soak_findings);
    END IF;
END
$$;
