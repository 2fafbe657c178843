package io.portcullis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.portcullis.audit.AuditJson;
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
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code portcullis audit query|summary|verify} against a real SQLite store. */
class AuditCommandTest {
  private static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");

  @TempDir Path dir;
  private String url;

  @BeforeEach
  void fill() {
    url = "jdbc:sqlite:" + dir.resolve("portcullis.db");
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditSamples.store(AuditStore.of(db), NOW);
    }
  }

  private CommandRun audit(String... args) {
    List<String> all = new ArrayList<>(List.of("audit"));
    all.addAll(List.of(args));
    if (!all.contains("--config")) {
      all.add("--store");
      all.add(url);
    }
    return CommandRun.of(new PortcullisCommand(), all.toArray(String[]::new));
  }

  @Test
  void query_table_printsAlignedColumnsNewestFirst() {
    CommandRun r = audit("query", "--decision", "deny", "--since", "2026-11-22T11:00:00Z");

    assertThat(r.exit()).isZero();
    List<String> lines = r.outLines();
    assertThat(lines).hasSize(5);
    String header = lines.get(0);
    assertThat(header.split("\\s+"))
        .containsExactly(
            "TIME",
            "DECISION",
            "STATUS",
            "REASON",
            "SEGMENT",
            "RULE",
            "PRINCIPAL",
            "METHOD",
            "PATH",
            "DECISION_ID");
    assertThat(lines.get(1).split("\\s+"))
        .containsExactly(
            "2026-11-22T11:40:00.000000Z",
            "deny",
            "429",
            "rate_limited",
            "partners",
            "-",
            "alice",
            "POST",
            "/v2/pay",
            "limited");
    int reasonColumn = header.indexOf("REASON");
    int idColumn = header.indexOf("DECISION_ID");
    for (String line : lines.subList(2, 5)) {
      assertThat(line.substring(reasonColumn)).startsWith("invalid_token ");
      assertThat(line.substring(idColumn)).startsWith("bad-token-");
    }
  }

  @Test
  void query_dryRun_showsWhatWouldHaveBeenDeniedAndByWhom() {
    CommandRun r = audit("query", "--dry-run");

    assertThat(r.exit()).isZero();
    assertThat(r.outLines().get(0)).endsWith("DRY_RUN_REASON            DRY_RUN_RULE");
    assertThat(r.outLines().subList(1, 3))
        .allSatisfy(
            l -> {
              assertThat(l).contains(" allow ").contains(" beta ").contains(" testers ");
              assertThat(l).endsWith("insufficient_permissions  beta");
            });
    assertThat(r.outLines()).hasSize(3);
  }

  @Test
  void query_json_printsTheAdminApiJsonLines() throws Exception {
    CommandRun r = audit("query", "--format", "json", "--reason", "invalid_token", "--limit", "2");

    assertThat(r.exit()).isZero();
    List<DecisionRecord> records = new ArrayList<>();
    for (String line : r.outLines()) {
      records.add(AuditJson.parseLine(line));
    }
    assertThat(records)
        .extracting(DecisionRecord::getDecisionId)
        .containsExactly("bad-token-2", "bad-token-1");
    assertThat(records.get(0).getHash()).hasSize(64);
  }

  @Test
  void query_json_recordWithALimit_carriesRemainingAlsoWhenNothingRemained() {
    CommandRun limited = audit("query", "--format", "json", "--segment", "partners");
    CommandRun unlimited = audit("query", "--format", "json", "--reason", "invalid_token");

    assertThat(limited.outLines()).hasSize(1);
    assertThat(limited.out()).contains("\"limit\":\"per-client\",\"remaining\":\"0\",");
    assertThat(unlimited.outLines()).hasSize(4);
    assertThat(unlimited.out()).doesNotContain("remaining");
  }

  @Test
  void query_principal_selectsThatPrincipalsRecords() throws Exception {
    CommandRun r = audit("query", "--format", "json", "--principal", "alice");

    assertThat(r.exit()).isZero();
    assertThat(decisionIds(r)).containsExactly("dry-1", "dry-0", "limited");
  }

  @Test
  void query_relativeSince_countsBackFromTheCommandsClock() throws Exception {
    // The samples end at NOW, weeks before the system clock may be: the command's clock is set.
    CommandLine cl = new CommandLine(new PortcullisCommand());
    CommandLine query = cl.getSubcommands().get("audit").getSubcommands().get("query");
    ((AuditCommand.Query) query.getCommand()).clock = InstantSource.fixed(NOW);

    CommandRun r =
        CommandRun.of(
            cl,
            "audit",
            "query",
            "--format",
            "json",
            "--reason",
            "invalid_token",
            "--since",
            "1h",
            "--store",
            url);

    assertThat(r.exit()).as(r.err()).isZero();
    // old-deny (3 h ago) is the invalid_token record left out.
    assertThat(decisionIds(r)).containsExactly("bad-token-2", "bad-token-1", "bad-token-0");
  }

  private static List<String> decisionIds(CommandRun r) throws Exception {
    List<String> ids = new ArrayList<>();
    for (String line : r.outLines()) {
      ids.add(AuditJson.parseLine(line).getDecisionId());
    }
    return ids;
  }

  @Test
  void query_limitAboveOnePage_followsTheCursorAcrossPages() throws Exception {
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore store = AuditStore.of(db);
      ChainHead head = store.head("pc-1");
      List<DecisionRecord> more = new ArrayList<>();
      for (int i = 0; i < 1_100; i++) {
        DecisionRecord r =
            RecordChain.link(
                DecisionRecords.of(
                    DecisionFixtures.from(RequestAttributes.builder().path("/bulk").build())
                        .decisionId("bulk-" + i)
                        .time(NOW.plusMillis(i))
                        .segment("bulk")
                        .allow(),
                    "pc-1"),
                head);
        head = new ChainHead(r.getSeq(), r.getHash());
        more.add(r);
      }
      store.append(more);
    }

    CommandRun r = audit("query", "--segment", "bulk", "--limit", "1050", "--format", "json");

    assertThat(r.exit()).isZero();
    List<String> lines = r.outLines();
    assertThat(lines).hasSize(1050);
    assertThat(AuditJson.parseLine(lines.get(0)).getDecisionId()).isEqualTo("bulk-1099");
    assertThat(AuditJson.parseLine(lines.get(1049)).getDecisionId()).isEqualTo("bulk-50");
    assertThat(lines).doesNotHaveDuplicates();
  }

  @Test
  void query_csv_quotesFieldsAsRfc4180() {
    try (Database db = Database.open(StoreSettings.of(url))) {
      AuditStore store = AuditStore.of(db);
      ChainHead head = store.head("pc-1");
      store.append(
          List.of(
              RecordChain.link(
                  DecisionRecords.of(
                      DecisionFixtures.from(RequestAttributes.builder().path("/v3/x").build())
                          .decisionId("quoted")
                          .time(NOW)
                          .identity(Identity.builder(CredentialType.JWT, "o\"brien,jr").build())
                          .segment("partners")
                          .allow(),
                      "pc-1"),
                  head)));
    }

    CommandRun r = audit("query", "--format", "csv", "--path-prefix", "/v3");

    assertThat(r.exit()).isZero();
    assertThat(r.out())
        .isEqualTo(
            "time,decision,status,reason,dry_run_reason,dry_run_rule,segment,rule,principal,"
                + "client,method,host,path,source_ip,decision_id,unreadable\r\n"
                + "2026-11-22T12:00:00.000000Z,allow,200,,,,partners,,\"o\"\"brien,jr\",,GET,,"
                + "/v3/x,,quoted,\r\n");
  }

  @Test
  void query_recordThatCannotBeRead_isShownAsUnreadableInEveryFormat_andTheRestFollows()
      throws Exception {
    try (Database db = Database.open(StoreSettings.of(url));
        Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE audit_record SET record = ? WHERE decision_id = 'limited'")) {
      ps.setBytes(1, new byte[] {0x0a, 0x10}); // field 1 announces 16 bytes; none follow
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }

    CommandRun table = audit("query", "--decision", "deny", "--since", "2026-11-22T11:00:00Z");
    CommandRun json = audit("query", "--format", "json", "--segment", "partners");
    CommandRun csv = audit("query", "--format", "csv", "--segment", "partners");
    CommandRun all = audit("query", "--format", "json");

    assertThat(table.exit()).isZero();
    List<String> lines = table.outLines();
    assertThat(lines).hasSize(6);
    assertThat(lines.get(1).split("\\s+"))
        .containsExactly(
            "2026-11-22T11:40:00.000000Z",
            "UNREADABLE",
            "?",
            "?",
            "?",
            "?",
            "?",
            "?",
            "?",
            "limited");
    assertThat(lines.subList(2, 5)).allSatisfy(l -> assertThat(l).contains(" invalid_token "));
    assertThat(lines.get(5))
        .isEqualTo(
            "UNREADABLE: instance pc-1, seq 10: the stored record cannot be read (damaged or"
                + " edited); run portcullis audit verify");

    assertThat(json.exit()).isZero();
    assertThat(json.outLines()).hasSize(1);
    DecisionRecord entry = AuditJson.parseLine(json.outLines().get(0));
    assertThat(entry.getUnreadable()).isTrue();
    assertThat(entry.getDecisionId()).isEqualTo("limited");
    assertThat(entry.getInstance()).isEqualTo("pc-1");
    assertThat(entry.getSeq()).isEqualTo(10);
    assertThat(entry.getHash()).hasSize(64);
    assertThat(entry.getPath()).isEmpty();
    assertThat(json.out()).contains(",\"unreadable\":true}");

    assertThat(csv.exit()).isZero();
    assertThat(csv.outLines())
        .containsExactly(
            "time,decision,status,reason,dry_run_reason,dry_run_rule,segment,rule,principal,"
                + "client,method,host,path,source_ip,decision_id,unreadable",
            "2026-11-22T11:40:00.000000Z,,,,,,,,,,,,,,limited,true");

    assertThat(all.exit()).isZero();
    assertThat(all.outLines()).hasSize(AuditSamples.COUNT);
  }

  /**
   * A row whose {@code seq} column was forged negative shows that number as stored, in the table's
   * note and in JSON; both printed it as an unsigned 64-bit number ({@code 18446744073709551611}),
   * as protobuf's JSON prints {@code uint64}.
   */
  @Test
  void query_unreadableRowWithANegativeSeq_printsTheSeqAsStored() throws Exception {
    try (Database db = Database.open(StoreSettings.of(url));
        Connection c = db.connection();
        PreparedStatement ps =
            c.prepareStatement("UPDATE audit_record SET seq = -5 WHERE decision_id = 'limited'")) {
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }

    CommandRun table = audit("query", "--segment", "partners");
    CommandRun json = audit("query", "--format", "json", "--segment", "partners");

    assertThat(table.exit()).isZero();
    assertThat(table.outLines())
        .last()
        .isEqualTo(
            "UNREADABLE: instance pc-1, seq -5: the stored record cannot be read (damaged or"
                + " edited); run portcullis audit verify");
    assertThat(json.exit()).isZero();
    assertThat(json.outLines())
        .singleElement()
        .satisfies(
            l ->
                assertThat(l)
                    .contains("\"instance\":\"pc-1\",\"seq\":\"-5\",\"prev_hash\":")
                    .endsWith(",\"unreadable\":true}"));
  }

  @Test
  void csv_onTheLaunchersStdout_isWholeWhenTheCommandReturns() {
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    int exit =
        PortcullisCommand.execute(
            new String[] {"audit", "query", "--format", "csv", "--store", url},
            new PrintStream(stdout, false, StandardCharsets.UTF_8),
            new PrintStream(stderr, false, StandardCharsets.UTF_8));

    assertThat(exit).isZero();
    String csv = stdout.toString(StandardCharsets.UTF_8);
    assertThat(csv).startsWith("time,decision,status,").endsWith("\r\n");
    assertThat(csv.split("\r\n")).hasSize(1 + AuditSamples.COUNT);
  }

  @Test
  void csvRow_cellsThatSpreadsheetsWouldEvaluate_areDefused() {
    assertThat(AuditCommand.Csv.row(List.of("=1+2", "+x", "-1", "@SUM(A1)", "a=b", "")))
        .isEqualTo("'=1+2,'+x,'-1,'@SUM(A1),a=b,\r\n");
    assertThat(AuditCommand.Csv.row(List.of("=HYPERLINK(\"http://x\",\"y\")")))
        .isEqualTo("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n");
  }

  @Test
  void summary_dryRunReport_countsByReasonSegmentAndWaivingRule() {
    CommandRun r =
        audit("summary", "--dry-run", "--group-by", "dry_run_reason,segment,dry_run_rule");

    assertThat(r.exit()).isZero();
    assertThat(r.outLines())
        .containsExactly(
            "DRY_RUN_REASON            SEGMENT  DRY_RUN_RULE  COUNT",
            "insufficient_permissions  beta     beta          2");
  }

  @Test
  void verify_intact_exits0_andAfterAnEdit_exits1NamingTheFirstBrokenRecord() throws Exception {
    CommandRun ok = audit("verify");
    assertThat(ok.exit()).isZero();
    assertThat(ok.out()).isEqualTo("ok: " + AuditSamples.COUNT + " records verified\n");

    try (Database db = Database.open(StoreSettings.of(url));
        Connection c = db.connection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM audit_record WHERE decision_id = 'bad-token-1'");
    }

    CommandRun broken = audit("verify");
    assertThat(broken.exit()).isEqualTo(AuditCommand.BROKEN);
    assertThat(broken.outLines().get(0)).isEqualTo("BROKEN: first broken record bad-token-2");
    assertThat(broken.out()).contains("record seq 8 is missing (deleted)");
    CommandRun json = audit("verify", "--json");
    assertThat(json.exit()).isEqualTo(AuditCommand.BROKEN);
    assertThat(json.out())
        .startsWith("{\"ok\":false,\"checked\":7,\"first_broken\":\"bad-token-2\"");
  }

  @Test
  void invalidArguments_exit2NamingTheOption() {
    CommandRun since = audit("query", "--since", "yesterday");
    assertThat(since.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(since.err()).startsWith("--since: is neither an RFC 3339 time");

    CommandRun ip = audit("query", "--source-ip", "10.0.0.300");
    assertThat(ip.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(ip.err()).startsWith("--source-ip: is not an IP address");

    CommandRun format = audit("query", "--format", "xml");
    assertThat(format.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(format.err()).startsWith("--format: must be table, json or csv");

    CommandRun groupBy = audit("summary", "--group-by", "colour");
    assertThat(groupBy.exit()).isEqualTo(AuditCommand.USAGE);
    assertThat(groupBy.err()).startsWith("--group-by: group_by 'colour' is not one of");
    assertThat(since.out()).isEmpty();
  }

  @Test
  void missingSqliteStore_exits3NamingIt_andCreatesNothing() {
    Path typo = dir.resolve("typo/portcullis.db");
    for (String command : List.of("verify", "query", "summary", "export")) {
      CommandRun r =
          CommandRun.of(
              new PortcullisCommand(), "audit", command, "--store", "jdbc:sqlite:" + typo);

      assertThat(r.exit()).as(command).isEqualTo(AuditCommand.STORE_FAILED);
      assertThat(r.err())
          .as(command)
          .startsWith("cannot open the store: no store at " + typo.toAbsolutePath())
          .contains("the service creates it on its first start");
      assertThat(r.out()).as(command).isEmpty();
      assertThat(typo.getParent()).as(command).doesNotExist();
    }
    CommandRun sibling =
        CommandRun.of(
            new PortcullisCommand(),
            "audit",
            "verify",
            "--store",
            "jdbc:sqlite:" + dir.resolve("x.db"));
    assertThat(sibling.exit()).isEqualTo(AuditCommand.STORE_FAILED);
    assertThat(dir.resolve("x.db")).doesNotExist();
  }

  @Test
  void unreachableStore_exits3() {
    CommandRun r =
        CommandRun.of(
            new PortcullisCommand(),
            "audit",
            "verify",
            "--store",
            "jdbc:postgresql://127.0.0.1:1/none?connectTimeout=1");

    assertThat(r.exit()).isEqualTo(AuditCommand.STORE_FAILED);
    assertThat(r.err()).startsWith("cannot open the store: ");
  }
}
