-- The dry-run report groups would-be denies by the dry-run segment or rule that waived them
-- (SummaryDimension.DRY_RUN_RULE): a column copy of the record's dry_run_rule, which verify checks
-- like the other copies. Version 1.1 sorts before the key store's V2 in whichever order they land.
-- No release shipped V1 without this column; a development database that already holds dry-run
-- records gets '' here, and verify reports those rows as altered.
ALTER TABLE audit_record ADD COLUMN dry_run_rule TEXT NOT NULL DEFAULT '';

-- path_prefix filters: a prefix is a range of this index (path >= prefix AND path < prefix+1),
-- ordered by time within each path. JdbcAuditStore uses it when the prefix is rare and scans the
-- time index instead when it is common (see querySql).
CREATE INDEX audit_record_path ON audit_record (path, time_us, decision_id);
