-- The decision audit log (shared/spec/interfaces.md "Audit record").
--
-- audit_record.record holds the serialized portcullis.v1.DecisionRecord without its hash fields:
-- exactly the bytes the hash chain covers (io.portcullis.audit.RecordChain). The other columns are
-- copies for filtering and paging; verify checks them against the record.
CREATE TABLE audit_record (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance       TEXT   NOT NULL,
  seq            BIGINT NOT NULL,
  decision_id    TEXT   NOT NULL,
  time_us        BIGINT NOT NULL, -- epoch microseconds
  decision       TEXT   NOT NULL,
  reason         TEXT   NOT NULL,
  dry_run_reason TEXT   NOT NULL,
  segment        TEXT   NOT NULL,
  rule           TEXT   NOT NULL,
  principal      TEXT   NOT NULL,
  client         TEXT   NOT NULL,
  source_ip      TEXT   NOT NULL,
  path           TEXT   NOT NULL,
  prev_hash      TEXT   NOT NULL,
  hash           TEXT   NOT NULL,
  record         BYTEA  NOT NULL,
  CONSTRAINT audit_record_chain UNIQUE (instance, seq)
);

-- Newest-first keyset paging: ORDER BY time_us DESC, decision_id DESC, id DESC. Each filter has an
-- index that yields its rows already in that order, so a filtered first page reads ~limit rows.
CREATE INDEX audit_record_time ON audit_record (time_us, decision_id, id);
CREATE INDEX audit_record_decision ON audit_record (decision, time_us, decision_id, id);
CREATE INDEX audit_record_reason ON audit_record (reason, time_us, decision_id, id) WHERE reason <> '';
CREATE INDEX audit_record_dry_run ON audit_record (time_us, decision_id, id) WHERE dry_run_reason <> '';
CREATE INDEX audit_record_segment ON audit_record (segment, time_us, decision_id, id);
CREATE INDEX audit_record_principal ON audit_record (principal, time_us, decision_id, id);
CREATE INDEX audit_record_client ON audit_record (client, time_us, decision_id, id) WHERE client <> '';
CREATE INDEX audit_record_source_ip ON audit_record (source_ip, time_us, decision_id, id);
-- Looking a record up by the id a user quotes; also de-duplicates journal replays.
CREATE INDEX audit_record_decision_id ON audit_record (decision_id);

-- One row per instance chain: the newest stored record (head) and the last record retention
-- deleted (anchor), so the remaining chain still verifies and a truncated tail is detected.
CREATE TABLE audit_chain (
  instance    TEXT   PRIMARY KEY,
  head_seq    BIGINT NOT NULL,
  head_hash   TEXT   NOT NULL,
  anchor_seq  BIGINT NOT NULL,
  anchor_hash TEXT   NOT NULL
);
