-- The dry-run report groups would-be denies by the dry-run segment or rule that waived them
-- (SummaryDimension.DRY_RUN_RULE): a column copy of the record's dry_run_rule, which verify checks
-- like the other copies. Version 1.1 sorts before the key store's V2 in whichever order they land.
-- No release shipped V1 without this column; a development database that already holds dry-run
-- records gets '' here, and verify reports those rows as altered.
ALTER TABLE audit_record ADD COLUMN dry_run_rule TEXT NOT NULL DEFAULT '';

-- path_prefix filters: a prefix is a byte-order range of this index (COLLATE "C", so the range
-- matches exactly the paths that start with the prefix whatever the database's collation).
CREATE INDEX audit_record_path ON audit_record ((path COLLATE "C"), time_us, decision_id, id);
