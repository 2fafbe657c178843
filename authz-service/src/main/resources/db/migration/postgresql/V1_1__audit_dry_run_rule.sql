-- Version 1.1 sorts before the key store's V2 in whichever order they land.
--
-- 1. The dry-run report groups would-be denies by the dry-run segment or rule that waived them
--    (SummaryDimension.DRY_RUN_RULE): a column copy of the record's dry_run_rule, which verify
--    checks like the other copies. No release shipped V1 without this column; a development
--    database that already holds dry-run records gets '' here, and verify reports those rows.
ALTER TABLE audit_record ADD COLUMN dry_run_rule TEXT NOT NULL DEFAULT '';

-- 2. Narrower indexes: pages are ordered (time_us DESC, id DESC), so each filter's index is
--    (column, time_us, id) and no longer carries the 36-character decision_id in every entry.
DROP INDEX audit_record_time;
DROP INDEX audit_record_decision;
DROP INDEX audit_record_reason;
DROP INDEX audit_record_dry_run;
DROP INDEX audit_record_segment;
DROP INDEX audit_record_principal;
DROP INDEX audit_record_client;
DROP INDEX audit_record_source_ip;
CREATE INDEX audit_record_time ON audit_record (time_us, id);
CREATE INDEX audit_record_decision ON audit_record (decision, time_us, id);
CREATE INDEX audit_record_reason ON audit_record (reason, time_us, id) WHERE reason <> '';
CREATE INDEX audit_record_dry_run ON audit_record (time_us, id) WHERE dry_run_reason <> '';
CREATE INDEX audit_record_segment ON audit_record (segment, time_us, id);
CREATE INDEX audit_record_principal ON audit_record (principal, time_us, id);
CREATE INDEX audit_record_client ON audit_record (client, time_us, id) WHERE client <> '';
CREATE INDEX audit_record_source_ip ON audit_record (source_ip, time_us, id);

-- 3. path_prefix filters: a prefix is a byte-order range of this index (COLLATE "C", so the range
--    holds exactly the paths that start with the prefix whatever the database's collation).
CREATE INDEX audit_record_path ON audit_record ((path COLLATE "C"), time_us, id);
