package io.portcullis.cli;

import io.portcullis.audit.AuditFilters;
import io.portcullis.audit.AuditJson;
import io.portcullis.audit.AuditPage;
import io.portcullis.audit.AuditQuery;
import io.portcullis.audit.AuditStore;
import io.portcullis.audit.ChainVerification;
import io.portcullis.audit.DecisionRecords;
import io.portcullis.audit.SummaryDimension;
import io.portcullis.audit.SummaryRow;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code portcullis audit query|summary|verify|export}: the decision audit log from the command
 * line, read straight from the store ({@link StoreOptions}: {@code --store URL} or {@code --config
 * FILE}), so it works whether or not the service runs.
 *
 * <p>Filters are those of {@code GET /admin/audit} and are parsed by the same {@link AuditFilters}.
 * Exit status: 0 success (for {@code verify}: the chain is intact), 1 the chain is broken ({@code
 * verify}) or stdout or the checkpoint could not be written ({@code export}), 2 invalid arguments,
 * 3 the store cannot be opened or read, 75 another export is using the checkpoint ({@code export}).
 * {@code export} ({@link AuditExportCommand}) streams the log to a log shipper.
 */
@Command(
    name = "audit",
    description = "Query, summarize, verify and export the decision audit log.",
    mixinStandardHelpOptions = true,
    subcommands = {
      AuditCommand.Query.class,
      AuditCommand.Summary.class,
      AuditCommand.Verify.class,
      AuditExportCommand.class
    })
public final class AuditCommand implements Runnable {
  public static final int OK = 0;
  public static final int BROKEN = 1;
  public static final int USAGE = 2;
  public static final int STORE_FAILED = StoreOptions.STORE_FAILED;

  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** The filter options shared by {@code query} and {@code summary}. */
  static final class FilterOptions {
    @Option(
        names = "--since",
        paramLabel = "TIME",
        description = "From this time: RFC 3339 (2026-11-22T10:00:00Z) or a duration ago (1h, 7d).")
    @Nullable String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Before this time (as --since).")
    @Nullable String until;

    @Option(names = "--decision", paramLabel = "allow|deny", description = "allow or deny")
    @Nullable String decision;

    @Option(
        names = "--reason",
        paramLabel = "CODE",
        description = "deny reason, e.g. invalid_token")
    @Nullable String reason;

    @Option(names = "--segment", paramLabel = "NAME")
    @Nullable String segment;

    @Option(names = "--principal", paramLabel = "PRINCIPAL")
    @Nullable String principal;

    @Option(names = "--client", paramLabel = "CLIENT")
    @Nullable String client;

    @Option(names = "--source-ip", paramLabel = "IP")
    @Nullable String sourceIp;

    @Option(names = "--path-prefix", paramLabel = "PREFIX", description = "e.g. /v1/orders")
    @Nullable String pathPrefix;

    @Option(
        names = "--dry-run",
        description = "Only allows a dry-run segment or rule turned from a deny.")
    boolean dryRun;

    /** The parameters as {@code GET /admin/audit} names them. */
    Map<String, String> parameters() {
      Map<String, String> p = new HashMap<>();
      put(p, "since", since);
      put(p, "until", until);
      put(p, "decision", decision);
      put(p, "reason", reason);
      put(p, "segment", segment);
      put(p, "principal", principal);
      put(p, "client", client);
      put(p, "source_ip", sourceIp);
      put(p, "path_prefix", pathPrefix);
      if (dryRun) {
        p.put("dry_run", "true");
      }
      return p;
    }

    private static void put(Map<String, String> p, String name, @Nullable String value) {
      if (value != null) {
        p.put(name, value);
      }
    }
  }

  /** Output formats of {@code query} and {@code summary}. */
  enum Format {
    TABLE,
    JSON,
    CSV;

    static Format parse(String text) {
      return switch (text) {
        case "table" -> TABLE;
        case "json" -> JSON;
        case "csv" -> CSV;
        default -> throw new AuditFilters.InvalidParameter("format", "must be table, json or csv");
      };
    }
  }

  /** Runs {@code work} against the opened store and maps failures to exit statuses. */
  static int withStore(
      CommandSpec spec, StoreOptions storeOptions, Function<AuditStore, Integer> work) {
    PrintWriter err = spec.commandLine().getErr();
    Database db;
    try {
      db = storeOptions.open(err);
    } catch (StoreException e) {
      err.println("cannot open the store: " + e.getMessage());
      return STORE_FAILED;
    } catch (IllegalArgumentException e) { // invalid --config or --store
      err.println(e.getMessage());
      return USAGE;
    }
    try (db) {
      return work.apply(AuditStore.of(db));
    } catch (StoreException e) {
      err.println("cannot read the audit log: " + e.getMessage());
      return STORE_FAILED;
    }
  }

  /**
   * {@code portcullis audit query}: records newest first as an aligned table (time, decision,
   * status, reason, segment, rule, principal, method, path, decision_id; plus dry_run_reason and
   * dry_run_rule when a shown record has them), JSON lines ({@code GET /admin/audit}'s body), or
   * RFC 4180 CSV with a header row.
   *
   * <p>A stored record that cannot be read comes as the store returns it ({@link
   * AuditStore#query}): in the table a row with decision {@code UNREADABLE}, its time and decision
   * id, {@code ?} for the rest, and a note below the table naming its instance and seq; in JSON its
   * line with {@code "unreadable":true}; in CSV a row with {@code true} in the last column, {@code
   * unreadable}.
   */
  @Command(
      name = "query",
      description = "Print decision records, newest first.",
      mixinStandardHelpOptions = true)
  static final class Query implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin StoreOptions store = new StoreOptions();
    @Mixin FilterOptions filters = new FilterOptions();

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "100",
        description = "At most N records (default ${DEFAULT-VALUE}).")
    int limit = 100;

    @Option(
        names = "--format",
        paramLabel = "table|json|csv",
        defaultValue = "table",
        description = "Output format (default ${DEFAULT-VALUE}).")
    String format = "table";

    InstantSource clock = InstantSource.system();

    @Override
    public Integer call() {
      PrintWriter err = spec.commandLine().getErr();
      Format f;
      AuditQuery first;
      try {
        f = Format.parse(format);
        if (limit < 1) {
          throw new AuditFilters.InvalidParameter("limit", "must be at least 1");
        }
        Map<String, String> p = filters.parameters();
        p.put("limit", Integer.toString(Math.min(limit, AuditQuery.MAX_LIMIT)));
        first = AuditFilters.parse(p::get, clock.instant()).build();
      } catch (AuditFilters.InvalidParameter e) {
        err.println(option(e));
        return USAGE;
      }
      return withStore(
          spec,
          store,
          s -> {
            print(f, fetch(s, first), spec.commandLine().getOut());
            return OK;
          });
    }

    /** Up to {@link #limit} records, following the store's cursor across pages. */
    private List<DecisionRecord> fetch(AuditStore s, AuditQuery first) {
      List<DecisionRecord> out = new ArrayList<>();
      AuditQuery q = first;
      while (true) {
        AuditPage page = s.query(q);
        for (DecisionRecord r : page.records()) {
          if (out.size() == limit) {
            return out;
          }
          out.add(r);
        }
        if (page.next() == null || out.size() == limit) {
          return out;
        }
        q = q.after(page.next());
      }
    }

    private static void print(Format f, List<DecisionRecord> records, PrintWriter out) {
      switch (f) {
        case JSON -> records.forEach(r -> out.println(AuditJson.line(r)));
        case CSV -> {
          List<String> header =
              List.of(
                  "time",
                  "decision",
                  "status",
                  "reason",
                  "dry_run_reason",
                  "dry_run_rule",
                  "segment",
                  "rule",
                  "principal",
                  "client",
                  "method",
                  "host",
                  "path",
                  "source_ip",
                  "decision_id",
                  "unreadable");
          out.print(Csv.row(header));
          for (DecisionRecord r : records) {
            out.print(
                Csv.row(
                    List.of(
                        r.hasTime() ? time(r) : "",
                        r.getDecision(),
                        r.getUnreadable() ? "" : Integer.toString(r.getStatus()),
                        r.getReason(),
                        r.getDryRunReason(),
                        r.getDryRunRule(),
                        r.getSegment(),
                        r.getRule(),
                        r.getPrincipal(),
                        r.getClient(),
                        r.getMethod(),
                        r.getHost(),
                        r.getPath(),
                        r.getSourceIp(),
                        r.getDecisionId(),
                        r.getUnreadable() ? "true" : "")));
          }
        }
        case TABLE -> {
          boolean dryRun = records.stream().anyMatch(r -> !r.getDryRunReason().isEmpty());
          List<String> header =
              new ArrayList<>(
                  List.of(
                      "TIME",
                      "DECISION",
                      "STATUS",
                      "REASON",
                      "SEGMENT",
                      "RULE",
                      "PRINCIPAL",
                      "METHOD",
                      "PATH",
                      "DECISION_ID"));
          if (dryRun) {
            header.addAll(List.of("DRY_RUN_REASON", "DRY_RUN_RULE"));
          }
          List<List<String>> rows = new ArrayList<>();
          List<String> notes = new ArrayList<>();
          for (DecisionRecord r : records) {
            if (r.getUnreadable()) {
              rows.add(unreadableRow(r, dryRun));
              notes.add(
                  "UNREADABLE: instance "
                      + r.getInstance()
                      + ", seq "
                      + r.getSeq() // as stored: a forged negative column prints negative
                      + ": the stored record cannot be read (damaged or edited); run portcullis"
                      + " audit verify");
              continue;
            }
            List<String> row =
                new ArrayList<>(
                    List.of(
                        time(r),
                        r.getDecision(),
                        Integer.toString(r.getStatus()),
                        dash(r.getReason()),
                        dash(r.getSegment()),
                        dash(r.getRule()),
                        dash(r.getPrincipal()),
                        r.getMethod(),
                        r.getPath(),
                        r.getDecisionId()));
            if (dryRun) {
              row.add(dash(r.getDryRunReason()));
              row.add(dash(r.getDryRunRule()));
            }
            rows.add(row);
          }
          Table.print(header, rows, out);
          if (records.isEmpty()) {
            out.println("(no records)");
          }
          notes.forEach(n -> out.println(Table.printable(n)));
        }
      }
    }

    /**
     * The table row of an entry standing for a record that cannot be read: its time and decision id
     * (the row's columns), {@code UNREADABLE} as its decision, and {@code ?} for every field only
     * the record knew.
     */
    private static List<String> unreadableRow(DecisionRecord r, boolean dryRun) {
      List<String> row =
          new ArrayList<>(
              List.of(
                  r.hasTime() ? time(r) : "?",
                  "UNREADABLE",
                  "?",
                  "?",
                  "?",
                  "?",
                  "?",
                  "?",
                  "?",
                  r.getDecisionId()));
      if (dryRun) {
        row.add("?");
        row.add("?");
      }
      return row;
    }
  }

  /**
   * {@code portcullis audit summary --group-by dry_run_reason,segment,dry_run_rule --dry-run}:
   * counts by the given dimensions, largest first ({@code GET /admin/audit/summary}).
   */
  @Command(
      name = "summary",
      description = "Count decision records by segment, decision, reason, dry-run reason, ...",
      mixinStandardHelpOptions = true)
  static final class Summary implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin StoreOptions store = new StoreOptions();
    @Mixin FilterOptions filters = new FilterOptions();

    @Option(
        names = "--group-by",
        paramLabel = "DIMENSIONS",
        defaultValue = "decision,reason",
        description =
            "Comma-separated: segment, decision, reason, dry_run_reason, dry_run_rule, rule,"
                + " client, principal, source_ip (default ${DEFAULT-VALUE}).")
    String groupBy = "decision,reason";

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "100",
        description = "At most N groups (default ${DEFAULT-VALUE}).")
    int limit = 100;

    @Option(names = "--format", paramLabel = "table|json|csv", defaultValue = "table")
    String format = "table";

    InstantSource clock = InstantSource.system();

    @Override
    public Integer call() {
      PrintWriter err = spec.commandLine().getErr();
      Format f;
      AuditQuery q;
      List<SummaryDimension> dims;
      try {
        f = Format.parse(format);
        Map<String, String> p = filters.parameters();
        p.put("limit", Integer.toString(limit));
        q = AuditFilters.parse(p::get, clock.instant()).build();
        try {
          dims = SummaryDimension.parseList(groupBy);
        } catch (IllegalArgumentException e) {
          throw new AuditFilters.InvalidParameter("group_by", e.getMessage());
        }
      } catch (AuditFilters.InvalidParameter e) {
        err.println(option(e));
        return USAGE;
      }
      return withStore(
          spec,
          store,
          s -> {
            List<SummaryRow> rows = s.summary(q, dims);
            PrintWriter out = spec.commandLine().getOut();
            List<String> header =
                new ArrayList<>(dims.stream().map(SummaryDimension::fieldName).toList());
            header.add("count");
            switch (f) {
              case JSON -> out.println(AuditJson.summary(rows));
              case CSV -> {
                out.print(Csv.row(header));
                rows.forEach(r -> out.print(Csv.row(cells(dims, r, false))));
              }
              case TABLE -> {
                Table.print(
                    header.stream().map(h -> h.toUpperCase(java.util.Locale.ROOT)).toList(),
                    rows.stream().map(r -> cells(dims, r, true)).toList(),
                    out);
                if (rows.isEmpty()) {
                  out.println("(no records)");
                }
              }
            }
            return OK;
          });
    }

    private static List<String> cells(List<SummaryDimension> dims, SummaryRow r, boolean dash) {
      List<String> cells = new ArrayList<>();
      for (SummaryDimension d : dims) {
        String v = r.group().getOrDefault(d.fieldName(), "");
        cells.add(dash ? dash(v) : v);
      }
      cells.add(Long.toString(r.count()));
      return cells;
    }
  }

  /**
   * {@code portcullis audit verify}: walks the hash chains; prints {@code ok: N records verified}
   * and exits 0, or prints the first broken record and exits 1.
   */
  @Command(
      name = "verify",
      description = "Check the audit log's hash chains; report the first broken record.",
      mixinStandardHelpOptions = true,
      exitCodeListHeading = "%nExit status:%n",
      exitCodeList = {
        "0:every chain is intact",
        "1:a record was edited, deleted or moved (the first one is printed)",
        "2:invalid arguments",
        "3:the store cannot be opened or read"
      })
  static final class Verify implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin StoreOptions store = new StoreOptions();

    @Option(names = "--json", description = "Print GET /admin/audit/verify's JSON instead.")
    boolean json;

    @Override
    public Integer call() {
      return withStore(
          spec,
          store,
          s -> {
            ChainVerification v = s.verify();
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
              out.println(AuditJson.verification(v));
            }
            return switch (v) {
              case ChainVerification.Intact i -> {
                if (!json) {
                  out.println("ok: " + i.checked() + " records verified");
                }
                yield OK;
              }
              case ChainVerification.Broken b -> {
                if (!json) {
                  out.println("BROKEN: first broken record " + dash(b.decisionId()));
                  out.println("  instance " + b.instance() + ", seq " + b.seq());
                  out.println("  " + b.detail());
                  out.println("  " + b.checked() + " records verified before it");
                }
                yield BROKEN;
              }
            };
          });
    }
  }

  // ---- formatting -----------------------------------------------------------------------------

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

  /** A record's time in UTC with microseconds: every row the same width. */
  static String time(DecisionRecord r) {
    long us = DecisionRecords.timeMicros(r);
    return TIME.format(
        Instant.ofEpochSecond(Math.floorDiv(us, 1_000_000), Math.floorMod(us, 1_000_000) * 1_000L));
  }

  private static String dash(String s) {
    return s.isEmpty() ? "-" : s;
  }

  /** {@code --since: ...} for a parameter error, in the command line's own spelling. */
  private static String option(AuditFilters.InvalidParameter e) {
    String message = e.getMessage().substring(e.parameter().length());
    return "--" + e.parameter().replace('_', '-') + message;
  }

  /** Aligned plain-text columns; control characters in values become {@code ?}. */
  static final class Table {
    private Table() {}

    static void print(List<String> header, List<List<String>> rows, PrintWriter out) {
      int[] width = new int[header.size()];
      List<List<String>> all = new ArrayList<>();
      all.add(header);
      for (List<String> row : rows) {
        all.add(row.stream().map(Table::printable).toList());
      }
      for (List<String> row : all) {
        for (int i = 0; i < row.size(); i++) {
          width[i] = Math.max(width[i], row.get(i).length());
        }
      }
      for (List<String> row : all) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < row.size(); i++) {
          String cell = row.get(i);
          line.append(cell);
          if (i < row.size() - 1) {
            line.append(" ".repeat(width[i] - cell.length() + 2));
          }
        }
        out.println(line);
      }
    }

    static String printable(String s) {
      StringBuilder b = new StringBuilder(s.length());
      s.codePoints().forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
      return b.toString();
    }
  }

  /** RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled, lines end CRLF. */
  static final class Csv {
    private Csv() {}

    static String row(List<String> fields) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < fields.size(); i++) {
        if (i > 0) {
          b.append(',');
        }
        String f = fields.get(i);
        if (!f.isEmpty() && "=+-@\t\r".indexOf(f.charAt(0)) >= 0) {
          // Spreadsheets evaluate a cell starting with these as a formula (CSV injection, OWASP):
          // host, principal and client come from clients and identity providers.
          f = "'" + f;
        }
        if (f.indexOf(',') >= 0
            || f.indexOf('"') >= 0
            || f.indexOf('\r') >= 0
            || f.indexOf('\n') >= 0) {
          b.append('"').append(f.replace("\"", "\"\"")).append('"');
        } else {
          b.append(f);
        }
      }
      return b.append("\r\n").toString();
    }
  }
}
