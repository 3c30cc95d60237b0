-- event_store.append runs with enable_seqscan off, and the streams table's statistics are rebuilt.
-- 0011 looks up a multi-stream append's heads with `stream_name = ANY (ARRAY(…))`, which is an index scan on an
-- empty table and on one whose statistics are large. On a small table with statistics (1,000 streams after
-- ANALYZE) the planner prefers a sequential scan testing each row against the array, and PL/pgSQL keeps that plan
-- until the statistics change, while the table grows: in run S (BENCHMARKS.md) an import of streams of 10 events
-- fell to 0.73x of the INSERT beside it. Every statement in the function reads the tables by key (a command id,
-- a stream's name, an append's names), so a sequential scan is never the plan wanted, whatever size the
-- statistics last saw. The generic plans of its statements with 0 streams, 100 and 1,000 analyzed, and 10,000:
-- index or bitmap index scans on the primary keys throughout. Alternating full bulk-append runs, three rounds
-- each, 10 events per stream, batch 100: 0.80x / 0.80x with 0010, 1.10x / 1.05x with this setting.
-- 0010 changed the type of streams.stream_name, which drops that column's statistics; ANALYZE rebuilds them
-- rather than leave the planner without them until autovacuum gets to the table.

ALTER FUNCTION event_store.append(uuid, jsonb, jsonb) SET enable_seqscan = off;

ANALYZE event_store.streams;
