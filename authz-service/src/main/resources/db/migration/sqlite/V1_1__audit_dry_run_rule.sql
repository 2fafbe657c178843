-- Version 1.1 sorts before the key store's V2 in whichever order they land.
--
-- 1. The dry-run report groups would-be denies by the dry-run segment or rule that waived them
--    (SummaryDimension.DRY_RUN_RULE): a column copy of the record's dry_run_rule, which verify
--    checks like the other copies. No release shipped V1 without this column; a development
--    database that already holds dry-run records gets '' here, and verify reports those rows.
ALTER TABLE audit_record ADD COLUMN dry_run_rule TEXT NOT NULL DEFAULT '';

-- 2. Narrower indexes. Pages are ordered (time_us DESC, id DESC): every SQLite index ends with the
--    rowid (id), so (column, time_us) yields each filter's rows in page order without sorting, and
--    the 36-character decision_id no longer rides along in every entry. Index inserts keyed by
--    principal, source address and path land all over their b-trees; smaller entries cut the
--    writer's cost per record by a quarter and the file by a quarter (loadtest/RESULTS.md).
DROP INDEX audit_record_time;
DROP INDEX audit_record_decision;
DROP INDEX audit_record_reason;
DROP INDEX audit_record_dry_run;
DROP INDEX audit_record_segment;
DROP INDEX audit_record_principal;
DROP INDEX audit_record_client;
DROP INDEX audit_record_source_ip;
CREATE INDEX audit_record_time ON audit_record (time_us);
CREATE INDEX audit_record_decision ON audit_record (decision, time_us);
CREATE INDEX audit_record_reason ON audit_record (reason, time_us) WHERE reason <> '';
CREATE INDEX audit_record_dry_run ON audit_record (time_us) WHERE dry_run_reason <> '';
CREATE INDEX audit_record_segment ON audit_record (segment, time_us);
CREATE INDEX audit_record_principal ON audit_record (principal, time_us);
CREATE INDEX audit_record_client ON audit_record (client, time_us) WHERE client <> '';
CREATE INDEX audit_record_source_ip ON audit_record (source_ip, time_us);

-- 3. path_prefix filters: a prefix is a range of this index (path >= prefix AND path < prefix+1).
--    JdbcAuditStore reads it when the prefix is rare and walks the time index when it is common.
CREATE INDEX audit_record_path ON audit_record (path, time_us);
