-- The reporting schema: the stable contract for reporting jobs (staff dashboards, readiness returns,
-- alliance summaries). It holds only views; each read model (module Projections) creates and
-- re-creates its views here over its live tables rm_<name>, with every view and column commented
-- (see docs/reporting.md). Reporters read these views and nothing else: they have no privilege on
-- rm_* or event_store; the views run with their owner's rights.

CREATE SCHEMA IF NOT EXISTS reporting;
COMMENT ON SCHEMA reporting IS 'Stable read-only views for reporting jobs (readiness, interoperability, schedule, audit trail), maintained by Muster''s read models. Documented in docs/reporting.md.';

REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO muster_reporter, muster_planner, muster_auditor;
