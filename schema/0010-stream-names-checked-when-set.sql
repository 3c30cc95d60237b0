-- A stream's name is checked when it is set, not each time the stream's head moves.
-- PostgreSQL checks every CHECK constraint of a row on each UPDATE, whichever columns change, and each statement
-- reads and prepares the constraints' expressions anew. Every append to an existing stream updates its head, so
-- the check on the name, which never changes, ran on each of them. A domain's check runs where a value becomes
-- of the domain: when a stream is created, or its name set. The rule is that of 0009 (and 0001): a category of
-- 1 to 31 characters from [a-z0-9_], starting with a letter, a hyphen, and an id of 1 to 100 characters from
-- [a-z0-9-], starting with a letter or a digit. A name it refuses fails with SQLSTATE 23514, as before.
-- Changing the column's type checks each existing name and rewrites the streams table and its primary key
-- under an exclusive lock: appends and reads wait for the migration.

CREATE DOMAIN event_store.stream_name AS text
    CONSTRAINT stream_name_check CHECK (
        strpos(VALUE, '-') BETWEEN 2 AND 32
        AND length(VALUE) - strpos(VALUE, '-') BETWEEN 1 AND 100
        AND VALUE ~ '^[a-z][a-z0-9_]*-[a-z0-9][a-z0-9-]*$');
COMMENT ON DOMAIN event_store.stream_name IS 'A stream''s name: category-id, as 0001 defines it.';

ALTER TABLE event_store.streams
    DROP CONSTRAINT IF EXISTS streams_stream_name_check,
    ALTER COLUMN stream_name TYPE event_store.stream_name;
