package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Timestamps;
import io.portcullis.audit.AuditJson;
import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainHead;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.RecordChain;
import io.portcullis.identity.CredentialType;
import io.portcullis.identity.Identity;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.request.RequestAttributes;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import io.portcullis.testing.AuditSamples;
import io.portcullis.testing.DecisionFixtures;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import tools.jackson.databind.json.JsonMapper;

/** {@code portcullis audit export} against a real SQLite store holding {@link AuditSamples}. */
class AuditExportCommandTest {
  private static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");

  /** The samples' decision ids in seq order (seq 1..12 of pc-1). */
  private static final List<String> SAMPLE_IDS =
      List.of(
          "old-deny",
          "allow-0",
          "allow-1",
          "allow-2",
          "allow-3",
          "allow-4",
          "bad-token-0",
          "bad-token-1",
          "bad-token-2",
          "limited",
          "dry-0",
          "dry-1");

  private static final JsonMapper JSON = JsonMapper.builder().build();

  @TempDir Path dir;
  private String url;
  private Path checkpoint;

  @BeforeEach
  void fill() {
    url = "jdbc:sqlite:" + dir.resolve("portcullis.db");
    checkpoint = dir.resolve("export.checkpoint");
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditSamples.store(AuditStore.of(db), NOW);
    }
  }

  private CommandRun export(String... args) {
    return CommandRun.of(new PortcullisCommand(), withStore(args));
  }

  private String[] withStore(String... args) {
    List<String> all = new ArrayList<>(List.of("audit", "export", "--store", url));
    all.addAll(List.of(args));
    return all.toArray(String[]::new);
  }

  /** Appends {@code n} records to {@code instance}'s chain, one a second from {@code from}. */
  private List<DecisionRecord> append(String instance, String prefix, int n, Instant from) {
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore store = AuditStore.of(db);
      ChainHead head = store.head(instance);
      List<DecisionRecord> records = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        DecisionRecord r =
            RecordChain.link(
                DecisionRecords.of(
                    DecisionFixtures.from(RequestAttributes.builder().path("/v1/new").build())
                        .decisionId(prefix + i)
                        .time(from.plusSeconds(i))
                        .segment("public")
                        .allow(),
                    instance),
                head);
        head = new ChainHead(r.getSeq(), r.getHash());
        records.add(r);
      }
      store.append(records);
      return records;
    }
  }

  private void sql(String statement) throws Exception {
    try (Database db = Database.open(StoreSettings.of(url));
        Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate(statement);
    }
  }

  private static List<DecisionRecord> records(String out) throws Exception {
    List<DecisionRecord> records = new ArrayList<>();
    for (String line : out.lines().toList()) {
      records.add(AuditJson.parseLine(line));
    }
    return records;
  }

  private static List<String> ids(String out) throws Exception {
    return records(out).stream().map(DecisionRecord::getDecisionId).toList();
  }

  private static List<String> keys(String out) throws Exception {
    return records(out).stream().map(r -> r.getInstance() + ":" + r.getSeq()).toList();
  }

  private String checkpointText() throws IOException {
    return Files.readString(checkpoint);
  }

  /** The checkpoint's seq per instance, as "pc-1:12,pc-2:3". */
  private String checkpointSeqs() throws IOException {
    List<String> seqs = new ArrayList<>();
    JSON.readTree(checkpointText())
        .properties()
        .forEach(e -> seqs.add(e.getKey() + ":" + e.getValue().get("seq").longValue()));
    return String.join(",", seqs);
  }

  @Test
  void export_everything_printsEachRecordOnceInSeqOrder_asTheQueryJsonWithItsChainFields()
      throws Exception {
    CommandRun r = export();

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err()).isEmpty();
    assertThat(ids(r.out())).containsExactlyElementsOf(SAMPLE_IDS);
    // Line for line what audit query --format json prints (newest first there).
    CommandRun query =
        CommandRun.of(
            new PortcullisCommand(), "audit", "query", "--format", "json", "--store", url);
    assertThat(r.outLines()).containsExactlyElementsOf(query.outLines().reversed());
    List<DecisionRecord> records = records(r.out());
    assertThat(records).extracting(DecisionRecord::getSeq).containsExactly(range(1, 12));
    for (int i = 1; i < records.size(); i++) {
      assertThat(records.get(i).getInstance()).isEqualTo("pc-1");
      assertThat(records.get(i).getPrevHash()).isEqualTo(records.get(i - 1).getHash());
    }
    assertThat(checkpoint).doesNotExist(); // none asked for
  }

  private static Long[] range(long from, long to) {
    List<Long> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(i);
    }
    return out.toArray(Long[]::new);
  }

  @Test
  void export_withACheckpoint_secondRunExportsOnlyWhatWasAppendedSince() throws Exception {
    CommandRun first = export("--checkpoint", checkpoint.toString(), "--batch", "5");
    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(ids(first.out())).containsExactlyElementsOf(SAMPLE_IDS);
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12");

    CommandRun nothing = export("--checkpoint", checkpoint.toString());
    assertThat(nothing.exit()).isZero();
    assertThat(nothing.out()).isEmpty();

    append("pc-1", "later-", 3, NOW.plusSeconds(60));
    append("pc-2", "other-", 2, NOW.plusSeconds(60)); // a new instance: from its first record

    CommandRun second = export("--checkpoint", checkpoint.toString());
    assertThat(second.exit()).as(second.err()).isZero();
    assertThat(keys(second.out()))
        .containsExactly("pc-1:13", "pc-1:14", "pc-1:15", "pc-2:1", "pc-2:2");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:15,pc-2:2");
  }

  @Test
  void export_severalInstances_takeTurnsABatchEach() throws Exception {
    append("pc-2", "other-", 3, NOW);

    CommandRun r = export("--batch", "2");

    assertThat(r.exit()).isZero();
    assertThat(keys(r.out()).subList(0, 9))
        .containsExactly(
            "pc-1:1", "pc-1:2", "pc-2:1", "pc-2:2", "pc-1:3", "pc-1:4", "pc-2:3", "pc-1:5",
            "pc-1:6");
    assertThat(keys(r.out())).hasSize(15).doesNotHaveDuplicates();
  }

  @Test
  void checkpoint_holdsSeqAndHashOfTheLastExportedRecord_andEarlierOnesThinnedOut()
      throws Exception {
    CommandRun r = export("--checkpoint", checkpoint.toString(), "--batch", "2");

    assertThat(r.exit()).as(r.err()).isZero();
    List<DecisionRecord> records = records(r.out());
    // Exported up to 2, 4, .., 12. 4 was dropped at 10: its neighbours 6 and 2 were no further
    // apart than 6 was from 10.
    assertThat(checkpointText())
        .isEqualTo(
            "{\"pc-1\":{\"seq\":12,\"hash\":\""
                + records.get(11).getHash()
                + "\",\"earlier\":[[10,\""
                + records.get(9).getHash()
                + "\"],[8,\""
                + records.get(7).getHash()
                + "\"],[6,\""
                + records.get(5).getHash()
                + "\"],[2,\""
                + records.get(1).getHash()
                + "\"]]}}");
  }

  @Test
  void checkpointPosition_advancing_keepsEarlierRecordsAtGapsGrowingWithTheirDistance() {
    ExportCheckpoint.Position p = ExportCheckpoint.Position.at(0, null);
    for (long seq = 1; seq <= 1_000_000; seq++) {
      p = p.advancedTo(seq, "h" + seq);
    }
    List<Long> earlier = p.earlier().stream().map(ExportCheckpoint.Mark::seq).toList();
    assertThat(earlier).hasSizeBetween(20, 45).isSortedAccordingTo((a, b) -> Long.compare(b, a));
    assertThat(p.earlier()).allMatch(m -> m.hash().equals("h" + m.seq()));
    // For any rewound point, the newest earlier record before it is no further back than the
    // rewound point is from the position (plus one).
    for (long r = 1; r <= 1_000_000; r += 997) {
      long rewound = r;
      long back = earlier.stream().filter(s -> s < rewound).findFirst().orElse(0L);
      assertThat(rewound - back).as("rewound at " + r).isLessThanOrEqualTo(1_000_000 - r + 1);
    }
  }

  @Test
  void export_checkpointOfTheFirstFormat_isRead_andRewrittenWithHashes() throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}");

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(ids(r.out())).containsExactly("dry-0", "dry-1");
    assertThat(checkpointText())
        .startsWith("{\"pc-1\":{\"seq\":12,\"hash\":\"" + records(r.out()).get(1).getHash());
  }

  /**
   * Makes pc-1 look restored from a backup taken at seq {@code seq}: the records after it gone and
   * the chain's head back at it.
   */
  private void restoreAt(long seq) throws Exception {
    sql("DELETE FROM audit_record WHERE instance = 'pc-1' AND seq > " + seq);
    sql(
        "UPDATE audit_chain SET head_seq = "
            + seq
            + ", head_hash = (SELECT hash FROM audit_record WHERE instance = 'pc-1' AND seq = "
            + seq
            + ") WHERE instance = 'pc-1'");
  }

  @Test
  void
      export_chainRestoredAndWrittenPastTheCheckpoint_warns_andExportsTheNewRecordsFromWhereItStillMatches()
          throws Exception {
    CommandRun first = export("--checkpoint", checkpoint.toString(), "--batch", "5");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12"); // exported up to 5, 10, 12
    restoreAt(8);
    // The writer continues after the restored head: other records at seq 9..12, then 13, 14.
    List<DecisionRecord> rewritten = append("pc-1", "after-restore-", 6, NOW.plusSeconds(60));

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: chain rewound: its record seq 12 is not the one exported"
                + " (restored from a backup, its newest records deleted or rewritten, or another"
                + " store); continuing at seq 6, after the last exported record it still holds"
                + " unchanged; records seq 6..12 are exported again, with other hashes where they"
                + " changed (deduplicate on instance, seq and hash)\n");
    // 6..8 again as they were (the same hashes), then every record written after the restore.
    List<DecisionRecord> records = records(r.out());
    assertThat(records.subList(0, 3)).isEqualTo(records(first.out()).subList(5, 8));
    assertThat(records.subList(3, 9)).isEqualTo(rewritten);
    assertThat(checkpointSeqs()).isEqualTo("pc-1:14");

    CommandRun again = export("--checkpoint", checkpoint.toString());
    assertThat(again.out() + again.err()).isEmpty();
  }

  @Test
  void export_chainRewrittenUpToTheCheckpointExactly_isNoticedFromTheHeadsHash() throws Exception {
    export("--checkpoint", checkpoint.toString(), "--batch", "5");
    restoreAt(8);
    List<DecisionRecord> rewritten = append("pc-1", "after-restore-", 4, NOW.plusSeconds(60));

    CommandRun r = export("--checkpoint", checkpoint.toString()); // the head is at 12 again

    assertThat(r.err())
        .startsWith("warning: instance pc-1: chain rewound: its record seq 12 is not the one")
        .contains("continuing at seq 6");
    assertThat(records(r.out()).subList(3, 7)).isEqualTo(rewritten);
  }

  @Test
  void
      export_headMovedBackBeforeTheCheckpoint_warns_exportsWhatFollowsTheLastMatch_andLaterTheNewRecords()
          throws Exception {
    CommandRun first = export("--checkpoint", checkpoint.toString(), "--batch", "5");
    restoreAt(8);

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .startsWith(
            "warning: instance pc-1: chain rewound: the store's head is seq 8, before seq 12"
                + " that was exported (restored from a backup,")
        .contains(
            "continuing at seq 6, after the last exported record it still holds unchanged;"
                + " records seq 6..8 are exported again");
    assertThat(records(r.out())).isEqualTo(records(first.out()).subList(5, 8));
    assertThat(checkpointSeqs()).isEqualTo("pc-1:8");

    // What the writer appends after the restored head is exported in full, nothing more said.
    List<DecisionRecord> rewritten = append("pc-1", "after-restore-", 6, NOW.plusSeconds(60));
    CommandRun next = export("--checkpoint", checkpoint.toString());
    assertThat(next.err()).isEmpty();
    assertThat(records(next.out())).isEqualTo(rewritten);
  }

  @Test
  void export_storeReplacedByAnotherWithTheSameInstance_warns_andExportsItFromItsFirstRecord()
      throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}"); // the first format: a seq without hash
    sql("DELETE FROM audit_record");
    sql("DELETE FROM audit_chain");
    List<DecisionRecord> fresh = append("pc-1", "new-store-", 3, NOW.plusSeconds(60));

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: chain rewound: the store's head is seq 3, before seq 10 that"
                + " was exported (restored from a backup, its newest records deleted or rewritten,"
                + " or another store); continuing at seq 1, its oldest stored record: none of the"
                + " exported records it holds is known unchanged; records seq 1..3 are exported"
                + " again, with other hashes where they changed (deduplicate on instance, seq and"
                + " hash)\n");
    assertThat(records(r.out())).isEqualTo(fresh);
    assertThat(checkpointSeqs()).isEqualTo("pc-1:3");
  }

  @Test
  void export_checkpointWithEarlierHashes_noneMatching_fallsBackToTheOldestStoredRecord_andWarns()
      throws Exception {
    export("--checkpoint", checkpoint.toString(), "--batch", "2"); // earlier 10, 8, 6, 2
    sql("DELETE FROM audit_record");
    sql("DELETE FROM audit_chain");
    List<DecisionRecord> other = append("pc-1", "new-store-", 12, NOW.plusSeconds(60));

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: chain rewound: its record seq 12 is not the one exported"
                + " (restored from a backup, its newest records deleted or rewritten, or another"
                + " store); continuing at seq 1, its oldest stored record: none of the exported"
                + " records it holds is known unchanged; records seq 1..12 are exported again,"
                + " with other hashes where they changed (deduplicate on instance, seq and"
                + " hash)\n");
    assertThat(records(r.out())).isEqualTo(other);
  }

  @Test
  void export_checkpointWithEarlierHashes_oneMatching_goesBackToIt_andWarns() throws Exception {
    List<DecisionRecord> all = records(export().out());
    String wrong = "0".repeat(64);
    Files.writeString(
        checkpoint,
        "{\"pc-1\":{\"seq\":12,\"hash\":\""
            + wrong
            + "\",\"earlier\":[[10,\""
            + wrong
            + "\"],[6,\""
            + all.get(5).getHash()
            + "\"],[2,\""
            + all.get(1).getHash()
            + "\"]]}}");

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .startsWith("warning: instance pc-1: chain rewound: its record seq 12 is not the one")
        .contains(
            "continuing at seq 7, after the last exported record it still holds unchanged;"
                + " records seq 7..12 are exported again");
    assertThat(records(r.out())).isEqualTo(all.subList(6, 12));
  }

  @Test
  void export_sinceWithoutACheckpoint_startsAtTheFirstRecordFromThatTime_andCheckpointsIt()
      throws Exception {
    CommandRun r = export("--since", "2026-11-22T11:35:00Z", "--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(ids(r.out())).containsExactly("limited", "dry-0", "dry-1");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12");

    // Once checkpointed, --since no longer moves the instance.
    append("pc-1", "later-", 1, NOW.plusSeconds(60));
    CommandRun again = export("--since", "1d", "--checkpoint", checkpoint.toString());
    assertThat(ids(again.out())).containsExactly("later-0");
  }

  @Test
  void export_sinceAfterEveryRecord_exportsNothing_butRemembersTheInstanceAsDone()
      throws Exception {
    CommandRun r = export("--since", "2026-11-22T13:00:00Z", "--checkpoint", checkpoint.toString());

    assertThat(r.exit()).isZero();
    assertThat(r.out()).isEmpty();
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12");
  }

  @Test
  void export_corruptCheckpoint_exits2NamingTheFile_andLeavesItAlone() throws Exception {
    for (String bad :
        List.of(
            "{\"pc-1\":",
            "",
            "[1,2]",
            "{\"pc-1\":\"12\"}",
            "{\"pc-1\":-1}",
            "{\"pc-1\":1.5}",
            "{\"pc-1\":{\"hash\":\"ab\"}}",
            "{\"pc-1\":{\"seq\":-1}}",
            "{\"pc-1\":{\"seq\":3,\"hash\":3}}",
            "{\"pc-1\":{\"seq\":3,\"other\":3}}",
            "{\"pc-1\":{\"seq\":3,\"earlier\":[[3,\"ab\"]]}}", // not before seq
            "{\"pc-1\":{\"seq\":9,\"earlier\":[[3,\"ab\"],[5,\"cd\"]]}}", // not newest first
            "{\"pc-1\":{\"seq\":9,\"earlier\":[[3]]}}")) {
      Files.writeString(checkpoint, bad);

      CommandRun r = export("--checkpoint", checkpoint.toString());

      assertThat(r.exit()).as(bad).isEqualTo(AuditCommand.USAGE);
      assertThat(r.err()).as(bad).startsWith("cannot use the checkpoint " + checkpoint + ": ");
      assertThat(r.out()).as(bad).isEmpty();
      assertThat(checkpointText()).as(bad).isEqualTo(bad);
    }
    CommandRun duplicate =
        exportWithCheckpoint("{\"pc-1\":12,\"pc-1\":1}", "--checkpoint", checkpoint.toString());
    assertThat(duplicate.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(duplicate.err()).contains("Duplicate");
  }

  @Test
  void export_checkpointBeyondItsLimits_exits2NamingTheFile_andLeavesItAlone() throws Exception {
    String h = "0123456789abcdef".repeat(4);
    StringBuilder tooMany = new StringBuilder("{\"pc-1\":{\"seq\":100,\"earlier\":[");
    for (int i = 0; i <= ExportCheckpoint.Position.MAX_EARLIER; i++) {
      tooMany.append(i == 0 ? "" : ",").append("[").append(99 - i).append(",\"").append(h);
      tooMany.append("\"]");
    }
    tooMany.append("]}}");
    for (String bad :
        List.of(
            tooMany.toString(),
            "{\"pc-1\":{\"seq\":3,\"hash\":\"" + h.toUpperCase(java.util.Locale.ROOT) + "\"}}",
            "{\"pc-1\":{\"seq\":3,\"hash\":\"" + h.substring(1) + "\"}}",
            "{\"pc-1\":{\"seq\":3,\"earlier\":[[2,\"" + h + "0\"]]}}")) {
      Files.writeString(checkpoint, bad);

      CommandRun r = export("--checkpoint", checkpoint.toString());

      assertThat(r.exit()).as(bad).isEqualTo(AuditCommand.USAGE);
      assertThat(r.err()).as(bad).startsWith("cannot use the checkpoint " + checkpoint + ": ");
      assertThat(checkpointText()).as(bad).isEqualTo(bad);
    }
    // 64 earlier entries and proper hashes are fine.
    Files.writeString(
        checkpoint,
        tooMany
            .toString()
            .replace(",[" + (99 - ExportCheckpoint.Position.MAX_EARLIER) + ",\"" + h + "\"]", ""));
    assertThat(export("--checkpoint", checkpoint.toString()).exit()).isZero();

    // Not UTF-8: not read with the bad byte replaced, as an instance "pc-\ufffd".
    byte[] latin1 = "{\"pc-\u00ff\":3}".getBytes(StandardCharsets.ISO_8859_1);
    Files.write(checkpoint, latin1);
    CommandRun notUtf8 = export("--checkpoint", checkpoint.toString());
    assertThat(notUtf8.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(notUtf8.err())
        .startsWith("cannot use the checkpoint " + checkpoint + ": is not UTF-8 text");
    assertThat(Files.readAllBytes(checkpoint)).isEqualTo(latin1);

    // Too large: refused before it is parsed, not read into memory whole.
    byte[] huge = new byte[ExportCheckpoint.MAX_BYTES + 1];
    java.util.Arrays.fill(huge, (byte) ' ');
    byte[] json = "{\"pc-1\":3}".getBytes(StandardCharsets.UTF_8);
    System.arraycopy(json, 0, huge, 0, json.length);
    Files.write(checkpoint, huge);
    CommandRun large = export("--checkpoint", checkpoint.toString());
    assertThat(large.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(large.err())
        .startsWith("cannot use the checkpoint " + checkpoint + ": is larger than 16777216 bytes");
    assertThat(large.out()).isEmpty();
    assertThat(Files.size(checkpoint)).isEqualTo(huge.length);
  }

  @Test
  void export_savingTheCheckpoint_dropsEarlierRecordsThatRetentionDeleted() throws Exception {
    CommandRun first = export("--checkpoint", checkpoint.toString(), "--batch", "2");
    assertThat(first.exit()).isZero();
    assertThat(checkpointText()).contains("[2,\"");
    try (Database db = Database.open(StoreSettings.of(url))) {
      // seq 1..6 go; the anchor moves to 6.
      assertThat(AuditStore.of(db).deleteBefore(NOW.minus(Duration.ofMinutes(40)), 100))
          .isEqualTo(6);
    }
    append("pc-1", "later-", 1, NOW.plusSeconds(60));

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    List<Long> earlier = new ArrayList<>();
    JSON.readTree(checkpointText())
        .get("pc-1")
        .get("earlier")
        .values()
        .forEach(pair -> earlier.add(pair.get(0).longValue()));
    assertThat(earlier).containsExactly(12L, 10L, 8L, 6L); // 2 is gone, 6 (the anchor) compares
  }

  private CommandRun exportWithCheckpoint(String content, String... args) throws IOException {
    Files.writeString(checkpoint, content);
    return export(args);
  }

  @Test
  void export_checkpointInUseByAnotherExport_exits75_notTheUsageStatus_andLeavesItAlone()
      throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}");
    CommandRun r;
    try (ExportCheckpoint held = ExportCheckpoint.open(checkpoint)) {
      r = export("--checkpoint", checkpoint.toString());
    }

    assertThat(r.exit()).isEqualTo(AuditExportCommand.CHECKPOINT_IN_USE).isEqualTo(75);
    assertThat(r.err())
        .isEqualTo(
            "export not started: the checkpoint "
                + checkpoint
                + ": another export is using this checkpoint (it holds "
                + checkpoint
                + ".lock)\n");
    assertThat(r.out()).isEmpty();
    assertThat(checkpointText()).isEqualTo("{\"pc-1\":10}");

    // Once the other export is done, the next run goes ahead.
    CommandRun next = export("--checkpoint", checkpoint.toString());
    assertThat(next.exit()).isZero();
    assertThat(ids(next.out())).containsExactly("dry-0", "dry-1");
  }

  @Test
  void export_checkpointInAMissingDirectory_exits2BeforeExporting() {
    CommandRun r = export("--checkpoint", dir.resolve("no/such/dir/cp").toString());

    assertThat(r.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(r.err()).contains("its directory does not exist");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void export_afterRetentionDeletedUnexportedRecords_warnsWithTheLostRange_andContinues()
      throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":2}");
    try (Database db = Database.open(StoreSettings.of(url))) {
      // seq 1..6 (3 h to 46 min old) go; the anchor moves to 6.
      assertThat(AuditStore.of(db).deleteBefore(NOW.minus(Duration.ofMinutes(40)), 100))
          .isEqualTo(6);
    }

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: records seq 3..6 were deleted by retention before they were"
                + " exported; continuing at seq 7\n");
    assertThat(ids(r.out())).containsExactlyElementsOf(SAMPLE_IDS.subList(6, 12));
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12");
  }

  @Test
  void export_afterRetentionDeletedEveryUnexportedRecord_warnsAndMovesTheCheckpointPastThem()
      throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}");
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore.of(db).deleteBefore(NOW, 100); // everything; the anchor is at 12
    }

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).isZero();
    assertThat(r.err()).contains("instance pc-1: records seq 11..12 were deleted by retention");
    assertThat(r.out()).isEmpty();
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12");
  }

  @Test
  void export_recordDeletedByHand_warnsThatItIsMissing_pointingToVerify() throws Exception {
    sql("DELETE FROM audit_record WHERE decision_id = 'bad-token-1'"); // seq 8

    CommandRun r = export();

    assertThat(r.exit()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: record seq 8 is missing from the store (not deleted by"
                + " retention: run portcullis audit verify); continuing at seq 9\n");
    assertThat(ids(r.out())).hasSize(11).doesNotContain("bad-token-1");
  }

  @Test
  void export_newInstanceWithoutSince_missingItsFirstRecords_warnsThatTheyAreMissing()
      throws Exception {
    sql("DELETE FROM audit_record WHERE instance = 'pc-1' AND seq <= 2"); // by hand, not retention

    CommandRun r = export();

    assertThat(r.exit()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: records seq 1..2 are missing from the store (not deleted by"
                + " retention: run portcullis audit verify); continuing at seq 3\n");
    assertThat(ids(r.out())).containsExactlyElementsOf(SAMPLE_IDS.subList(2, 12));
  }

  @Test
  void export_recordThatCannotBeRead_isShippedAsAnUnreadableLine_withWarning_andTheRestFollows()
      throws Exception {
    append("pc-2", "other-", 3, NOW); // an instance after pc-1
    List<DecisionRecord> before = records(export().out()); // pc-1 seq 1..12, then pc-2
    String hash7 = before.get(6).getHash();
    String hash8 = before.get(7).getHash();
    // seq 8 of pc-1 (bad-token-1): bytes that do not parse (field 1 announces 16, none follow).
    try (Database db = Database.open(StoreSettings.of(url));
        Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE audit_record SET record = ? WHERE instance = 'pc-1' AND seq = 8")) {
      ps.setBytes(1, new byte[] {0x0a, 0x10});
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }

    CommandRun r = export("--checkpoint", checkpoint.toString(), "--batch", "5");

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .isEqualTo(
            "warning: instance pc-1: record seq 8 cannot be read (its stored bytes are not a"
                + " decision record, or one of another instance or seq than the row's: run"
                + " portcullis audit verify); exported as an \"unreadable\" line; continuing at seq"
                + " 9\n");
    List<String> lines = r.outLines();
    assertThat(lines).hasSize(15);
    // In its place in the batch, with the row's columns as stored, as audit query prints it (it
    // used to lack decision_id and time); the records around it follow.
    String unreadable =
        "{\"decision_id\":\"bad-token-1\",\"time\":\""
            + Timestamps.toString(before.get(7).getTime())
            + "\",\"instance\":\"pc-1\",\"seq\":\"8\",\"prev_hash\":\""
            + hash7
            + "\",\"hash\":\""
            + hash8
            + "\",\"unreadable\":true}";
    assertThat(lines.get(10)).isEqualTo(unreadable); // pc-1 1..5, pc-2 1..3, pc-1 6, 7, 8
    CommandRun query =
        CommandRun.of(
            new PortcullisCommand(), "audit", "query", "--store", url, "--format", "json");
    assertThat(query.outLines())
        .filteredOn(l -> l.contains("unreadable"))
        .containsExactly(unreadable);
    List<String> readable = new ArrayList<>(lines);
    readable.remove(10);
    assertThat(keys(String.join("\n", readable)))
        .containsExactly(
            "pc-1:1", "pc-1:2", "pc-1:3", "pc-1:4", "pc-1:5", "pc-2:1", "pc-2:2", "pc-2:3",
            "pc-1:6", "pc-1:7", "pc-1:9", "pc-1:10", "pc-1:11", "pc-1:12");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12,pc-2:3");

    // Not shipped again.
    CommandRun next = export("--checkpoint", checkpoint.toString());
    assertThat(next.exit()).isZero();
    assertThat(next.out() + next.err()).isEmpty();
  }

  @Test
  void export_rowHoldingTheBytesOfAnotherRecord_isShippedAsUnreadable_notAsADuplicateOfThatRecord()
      throws Exception {
    append("pc-2", "other-", 3, NOW);
    List<DecisionRecord> before = records(export().out());
    String hash8 = before.get(7).getHash();
    // The classic tamper: row pc-1 seq 8 gets the bytes of pc-1 seq 7, row pc-1 seq 9 those of
    // pc-2 seq 2. Both parse.
    sql(
        "UPDATE audit_record SET record = (SELECT record FROM audit_record WHERE instance = 'pc-1'"
            + " AND seq = 7) WHERE instance = 'pc-1' AND seq = 8");
    sql(
        "UPDATE audit_record SET record = (SELECT record FROM audit_record WHERE instance = 'pc-2'"
            + " AND seq = 2) WHERE instance = 'pc-1' AND seq = 9");

    CommandRun r = export();

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.err())
        .contains("instance pc-1: record seq 8 cannot be read")
        .contains("instance pc-1: record seq 9 cannot be read")
        .contains("run portcullis audit verify");
    List<String> lines = r.outLines();
    assertThat(lines).hasSize(15);
    assertThat(lines.get(7)).contains("\"seq\":\"8\"", hash8, "\"unreadable\":true");
    assertThat(lines.get(8)).contains("\"seq\":\"9\"", "\"unreadable\":true");
    List<String> readable = lines.stream().filter(l -> !l.contains("\"unreadable\"")).toList();
    assertThat(keys(String.join("\n", readable))).hasSize(13).doesNotHaveDuplicates();
  }

  @Test
  void export_nonAsciiText_isWrittenAsJsonEscapes_soNoLocaleCanMangleIt() throws Exception {
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore store = AuditStore.of(db);
      store.append(
          List.of(
              RecordChain.link(
                  DecisionRecords.of(
                      DecisionFixtures.from(RequestAttributes.builder().path("/v1/x").build())
                          .decisionId("unicode")
                          .time(NOW)
                          .identity(Identity.builder(CredentialType.JWT, "José 😀").build())
                          .allow(),
                      "pc-1"),
                  store.head("pc-1"))));
    }

    CommandRun r = export("--since", "2026-11-22T12:00:00Z");

    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("\"principal\":\"Jos\\u00e9 \\ud83d\\ude00\"");
    assertThat(r.out().chars().allMatch(c -> c < 0x7f)).isTrue();
    DecisionRecord exported = AuditJson.parseLine(r.outLines().get(0));
    assertThat(exported.getPrincipal()).isEqualTo("José 😀");
    try (Database db = Database.open(StoreSettings.of(url))) {
      assertThat(AuditStore.of(db).query(AuditQuery.all()).records().get(0)).isEqualTo(exported);
    }
  }

  @Test
  void export_checkpoint_isOwnerOnly_alsoWhereTheOldFileWasNot_andLeavesNoTemporaryFile()
      throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}");
    Files.setPosixFilePermissions(checkpoint, PosixFilePermissions.fromString("rw-r--r--"));

    CommandRun r = export("--checkpoint", checkpoint.toString());

    assertThat(r.exit()).isZero();
    assertThat(ids(r.out())).containsExactly("dry-0", "dry-1");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(checkpoint)))
        .isEqualTo("rw-------");
    assertThat(dir.resolve("export.checkpoint.tmp")).doesNotExist();
  }

  @Test
  void export_leadingNewline_keepsAPartialLineLeftByAKilledRunApart_soNoRecordIsSwallowed()
      throws Exception {
    // A file an earlier run was appending to when it was killed: the checkpoint stayed before
    // the batch, and its last line is unfinished.
    String killed = export().outLines().get(0).substring(0, 80);
    StringWriter file = new StringWriter().append(killed);

    int exit =
        new CommandLine(new PortcullisCommand())
            .setOut(new PrintWriter(file, true))
            .setErr(new PrintWriter(new StringWriter(), true))
            .execute(withStore("--checkpoint", checkpoint.toString(), "--leading-newline"));

    assertThat(exit).isZero();
    List<String> lines = file.toString().lines().toList();
    // The newline ends the unfinished line (which the shipper drops as not JSON); the records,
    // the unfinished one among them, follow whole.
    assertThat(lines.get(0)).isEqualTo(killed);
    assertThat(ids(String.join("\n", lines.subList(1, lines.size()))))
        .containsExactlyElementsOf(SAMPLE_IDS);

    // Once per run (after a complete line, an empty line), and only by a run that writes records.
    CommandRun nothing = export("--checkpoint", checkpoint.toString(), "--leading-newline");
    assertThat(nothing.out()).isEmpty();
    append("pc-1", "later-", 3, NOW.plusSeconds(60));
    CommandRun more =
        export("--checkpoint", checkpoint.toString(), "--leading-newline", "--batch", "1");
    assertThat(more.out()).startsWith("\n{").doesNotContain("\n\n");
    assertThat(ids(more.out().substring(1))).containsExactly("later-0", "later-1", "later-2");
  }

  @Test
  void export_withoutLeadingNewline_startsWithTheFirstRecord() {
    assertThat(export().out()).startsWith("{\"decision_id\":\"old-deny\"");
  }

  /** A writer that takes {@code accepted} writes and then fails, like a closed pipe. */
  private static Writer failingAfter(int accepted, StringWriter into) {
    AtomicInteger writes = new AtomicInteger();
    return new Writer() {
      @Override
      public void write(char[] buf, int off, int len) throws IOException {
        if (writes.incrementAndGet() > accepted) {
          throw new IOException("Broken pipe");
        }
        into.write(buf, off, len);
      }

      @Override
      public void write(String s, int off, int len) throws IOException {
        write(s.toCharArray(), off, len);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
  }

  @Test
  void export_stdoutFailing_exits1_andTheCheckpointCoversOnlyWhatWasWritten() throws Exception {
    StringWriter written = new StringWriter();
    StringWriter err = new StringWriter();
    int exit =
        new CommandLine(new PortcullisCommand())
            .setOut(new PrintWriter(failingAfter(1, written)))
            .setErr(new PrintWriter(err, true))
            .execute(withStore("--checkpoint", checkpoint.toString(), "--batch", "4"));

    assertThat(exit).isEqualTo(AuditExportCommand.OUTPUT_FAILED);
    assertThat(err.toString()).startsWith("export stopped: writing to stdout failed");
    assertThat(ids(written.toString())).containsExactlyElementsOf(SAMPLE_IDS.subList(0, 4));
    assertThat(checkpointSeqs()).isEqualTo("pc-1:4");

    // The next run continues after the last written batch: nothing lost, nothing repeated.
    CommandRun next = export("--checkpoint", checkpoint.toString());
    assertThat(ids(next.out())).containsExactlyElementsOf(SAMPLE_IDS.subList(4, 12));
  }

  /**
   * Stdout as the launcher makes it ({@link PortcullisCommand#writer} over a buffered {@link
   * PrintStream}, as {@code System.out} is) over a stream that takes {@code accepted} writes and
   * then fails like a closed pipe, which the print stream swallows into its error flag.
   */
  private static PrintWriter stdoutFailingAfter(int accepted, ByteArrayOutputStream into) {
    AtomicInteger writes = new AtomicInteger();
    OutputStream pipe =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            if (writes.incrementAndGet() > accepted) {
              throw new IOException("Broken pipe");
            }
            into.write(b, off, len);
          }
        };
    return PortcullisCommand.writer(new PrintStream(new BufferedOutputStream(pipe), false));
  }

  @Test
  void export_stdoutAPrintStreamWhosePipeBreaks_exits1_andTheCheckpointCoversOnlyWhatWasWritten()
      throws Exception {
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();

    int exit =
        PortcullisCommand.run(
            withStore("--checkpoint", checkpoint.toString(), "--batch", "4"),
            stdoutFailingAfter(1, written),
            new PrintWriter(err, true));

    assertThat(exit).as(err.toString()).isEqualTo(AuditExportCommand.OUTPUT_FAILED);
    assertThat(err.toString()).startsWith("export stopped: writing to stdout failed");
    assertThat(ids(written.toString(StandardCharsets.US_ASCII)))
        .containsExactlyElementsOf(SAMPLE_IDS.subList(0, 4));
    assertThat(checkpointSeqs()).isEqualTo("pc-1:4");
  }

  @Test
  void export_stdoutFailingAtOnce_exits1_andWritesNoCheckpoint() {
    StringWriter err = new StringWriter();
    int exit =
        new CommandLine(new PortcullisCommand())
            .setOut(new PrintWriter(failingAfter(0, new StringWriter())))
            .setErr(new PrintWriter(err, true))
            .execute(withStore("--checkpoint", checkpoint.toString()));

    assertThat(exit).isEqualTo(AuditExportCommand.OUTPUT_FAILED);
    assertThat(checkpoint).doesNotExist();
  }

  /** Waits up to 10 s for {@code condition}. */
  private static void await(String what, BooleanSupplier condition) {
    org.awaitility.Awaitility.await(what)
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(5))
        .until(condition::getAsBoolean);
  }

  @Test
  void follow_seesRecordsAppendedAfterItStarted_andStopsCleanlyWithItsCheckpoint()
      throws Exception {
    CommandLine cl = new CommandLine(new PortcullisCommand());
    AuditExportCommand command =
        (AuditExportCommand)
            cl.getSubcommands().get("audit").getSubcommands().get("export").getCommand();
    command.handleSignals = false;
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
    int[] exit = {-1};
    Thread t =
        new Thread(
            () ->
                exit[0] =
                    cl.execute(
                        withStore(
                            "--follow",
                            "--poll-interval",
                            "10ms",
                            "--checkpoint",
                            checkpoint.toString())));
    t.start();
    try {
      await("the stored records", () -> out.toString().lines().count() == 12);
      assertThat(t.isAlive()).isTrue();

      append("pc-1", "later-", 1, NOW.plusSeconds(60));
      append("pc-9", "new-", 1, NOW.plusSeconds(61));
      await("the appended records", () -> out.toString().lines().count() == 14);
      await("the checkpoint", () -> checkpoint.toFile().length() > 0 && cpHas("pc-9:1"));

      // Another export cannot take the checkpoint while this one runs.
      CommandRun second = export("--checkpoint", checkpoint.toString());
      assertThat(second.exit()).isEqualTo(AuditExportCommand.CHECKPOINT_IN_USE);
      assertThat(second.err()).contains("another export is using this checkpoint");
    } finally {
      command.stop.countDown();
      t.join(10_000);
    }

    assertThat(t.isAlive()).isFalse();
    assertThat(exit[0]).as(err.toString()).isZero();
    assertThat(err.toString()).isEmpty();
    assertThat(keys(out.toString()).subList(12, 14)).containsExactly("pc-1:13", "pc-9:1");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:13,pc-9:1");
  }

  /** The export subcommand of {@code cl}, not stopped by signals. */
  private static AuditExportCommand exportCommand(CommandLine cl) {
    AuditExportCommand command =
        (AuditExportCommand)
            cl.getSubcommands().get("audit").getSubcommands().get("export").getCommand();
    command.handleSignals = false;
    return command;
  }

  @Test
  void follow_underSteadyTraffic_waitsAfterEveryRound_andSavesTheCheckpointOncePerRound()
      throws Exception {
    append("pc-2", "other-", 3, NOW);
    CommandLine cl = new CommandLine(new PortcullisCommand());
    AuditExportCommand command = exportCommand(cl);
    List<String> atPauses = new ArrayList<>();
    command.pause =
        poll -> {
          atPauses.add(command.rounds.get() + " rounds, " + command.saves.get() + " saves");
          if (atPauses.size() == 5) {
            return true; // stopped
          }
          // Steady traffic: each instance writes a record or two before every poll.
          append("pc-1", "steady-" + atPauses.size() + "-", 2, NOW.plusSeconds(60));
          append("pc-2", "steady-" + atPauses.size() + "-", 1, NOW.plusSeconds(60));
          return false;
        };

    CommandRun r =
        CommandRun.of(
            cl,
            withStore("--follow", "--poll-interval", "1h", "--checkpoint", checkpoint.toString()));

    assertThat(r.exit()).as(r.err()).isZero();
    // Every round exported records from both instances and still waited, and saved once.
    assertThat(atPauses)
        .containsExactly(
            "1 rounds, 1 saves",
            "2 rounds, 2 saves",
            "3 rounds, 3 saves",
            "4 rounds, 4 saves",
            "5 rounds, 5 saves");
    assertThat(r.outLines()).hasSize(15 + 4 * 3);
    assertThat(checkpointSeqs()).isEqualTo("pc-1:20,pc-2:7");
  }

  @Test
  void follow_withABacklog_goesOnWithoutWaitingWhileBatchesComeBackFull() throws Exception {
    append("pc-2", "other-", 3, NOW);
    CommandLine cl = new CommandLine(new PortcullisCommand());
    AuditExportCommand command = exportCommand(cl);
    List<String> atPauses = new ArrayList<>();
    StringWriter out = new StringWriter();
    command.pause =
        poll -> {
          atPauses.add(
              command.rounds.get() + " rounds, " + out.toString().lines().count() + " lines");
          return true;
        };
    cl.setOut(new PrintWriter(out, true)).setErr(new PrintWriter(new StringWriter(), true));

    int exit =
        cl.execute(
            withStore(
                "--follow",
                "--batch",
                "5",
                "--poll-interval",
                "1h",
                "--checkpoint",
                checkpoint.toString()));

    assertThat(exit).isZero();
    // pc-1: 5 (full), 5 (full), 2; pc-2: 3. The first wait comes once everything is out.
    assertThat(atPauses).containsExactly("3 rounds, 15 lines");
    assertThat(command.saves.get()).isEqualTo(3);
  }

  @Test
  void export_stdoutFailingInTheMiddleOfARound_savesWhatTheRoundWroteBeforeIt() throws Exception {
    append("pc-2", "other-", 3, NOW);
    StringWriter written = new StringWriter();
    StringWriter err = new StringWriter();
    int exit =
        new CommandLine(new PortcullisCommand())
            .setOut(new PrintWriter(failingAfter(1, written)))
            .setErr(new PrintWriter(err, true))
            .execute(withStore("--checkpoint", checkpoint.toString(), "--batch", "4"));

    assertThat(exit).isEqualTo(AuditExportCommand.OUTPUT_FAILED);
    assertThat(keys(written.toString())).containsExactly("pc-1:1", "pc-1:2", "pc-1:3", "pc-1:4");
    assertThat(checkpointSeqs()).isEqualTo("pc-1:4,pc-2:0");

    CommandRun next = export("--checkpoint", checkpoint.toString());
    assertThat(keys(next.out()).subList(0, 4))
        .containsExactly("pc-1:5", "pc-1:6", "pc-1:7", "pc-1:8")
        .doesNotHaveDuplicates();
    assertThat(keys(next.out())).hasSize(11).contains("pc-2:1", "pc-2:2", "pc-2:3");
  }

  private boolean cpHas(String text) {
    try {
      return checkpointSeqs().contains(text);
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void export_syncsStdoutBeforeEverySaveOfTheCheckpoint_soItNeverCoversRecordsNotYetOnDisk()
      throws Exception {
    append("pc-2", "other-", 3, NOW);
    CommandLine cl = new CommandLine(new PortcullisCommand());
    AuditExportCommand command = exportCommand(cl);
    StringWriter out = new StringWriter();
    List<String> events = new ArrayList<>();
    command.syncOutput =
        () ->
            events.add(
                "sync after "
                    + out.toString().lines().count()
                    + " lines, "
                    + command.saves.get()
                    + " saves, checkpoint "
                    + (Files.exists(checkpoint) ? checkpointSeqs() : "none"));
    cl.setOut(new PrintWriter(out, true)).setErr(new PrintWriter(new StringWriter(), true));

    int exit = cl.execute(withStore("--batch", "5", "--checkpoint", checkpoint.toString()));

    assertThat(exit).isZero();
    // Each sync comes after the round's lines were written and before the save that covers them.
    assertThat(events)
        .containsExactly(
            "sync after 8 lines, 0 saves, checkpoint none",
            "sync after 13 lines, 1 saves, checkpoint pc-1:5,pc-2:3",
            "sync after 15 lines, 2 saves, checkpoint pc-1:10,pc-2:3");
    assertThat(command.saves.get()).isEqualTo(3);
    assertThat(checkpointSeqs()).isEqualTo("pc-1:12,pc-2:3");
  }

  @Test
  void export_stdoutThatCannotBeSynced_exits1_andLeavesTheCheckpointWhereItWas() throws Exception {
    Files.writeString(checkpoint, "{\"pc-1\":10}");
    CommandLine cl = new CommandLine(new PortcullisCommand());
    AuditExportCommand command = exportCommand(cl);
    command.syncOutput =
        () -> {
          throw new java.io.SyncFailedException("sync failed");
        };
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(new StringWriter(), true)).setErr(new PrintWriter(err, true));

    int exit = cl.execute(withStore("--checkpoint", checkpoint.toString()));

    assertThat(exit).isEqualTo(AuditExportCommand.OUTPUT_FAILED);
    assertThat(err.toString())
        .isEqualTo(
            "export stopped: cannot sync stdout to disk: sync failed; the checkpoint stays where"
                + " it was last saved\n");
    assertThat(checkpointText()).isEqualTo("{\"pc-1\":10}");
  }

  @Test
  void invalidArguments_exit2NamingTheOption() {
    CommandRun since = export("--since", "yesterday");
    assertThat(since.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(since.err()).startsWith("--since: is neither an RFC 3339 time");

    CommandRun poll = export("--poll-interval", "soon");
    assertThat(poll.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(poll.err()).startsWith("--poll-interval: must be a duration");

    CommandRun batch = export("--batch", "0");
    assertThat(batch.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(batch.err()).startsWith("--batch: must be an integer from 1 to 10000");
    assertThat(since.out() + poll.out() + batch.out()).isEmpty();
  }

  @Test
  void asciiEscaping_keepsAsciiAsItIs_andEscapesEverythingElse() {
    assertThat(AuditExportCommand.ascii("{\"a\":\"b\"}")).isEqualTo("{\"a\":\"b\"}");
    assertThat(AuditExportCommand.ascii("\"é\u007f\u2028\""))
        .isEqualTo("\"\\u00e9\\u007f\\u2028\"");
  }
}
