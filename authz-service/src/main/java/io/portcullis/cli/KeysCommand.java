package io.portcullis.cli;

import io.portcullis.keys.IssuedKey;
import io.portcullis.keys.KeyJson;
import io.portcullis.keys.KeyLifecycle;
import io.portcullis.keys.KeyMetadata;
import io.portcullis.keys.KeyRequest;
import io.portcullis.keys.KeyResult;
import io.portcullis.keys.KeyStore;
import io.portcullis.store.Database;
import io.portcullis.store.StoreException;
import java.io.PrintWriter;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code portcullis keys issue|rotate|revoke|list}: the API key lifecycle on the command line, over
 * the same {@link KeyLifecycle} as the admin API. The store is opened directly ({@link
 * StoreOptions}), so it works with the service stopped; running instances see every change within a
 * second (they poll the store's change feed).
 *
 * <p>{@code issue} and {@code rotate} print the secret exactly once, on standard output (a note on
 * standard error says it cannot be shown again); {@code list} never prints a secret. {@code
 * --format json} prints the admin API's JSON ({@link KeyJson}). Exit status: 0 done, 1 refused (no
 * such key, revoked, expired), 2 invalid arguments, 3 the store cannot be opened, read or written
 * (as for {@code audit}; a missing SQLite file is not created). An invalid argument is named by its
 * option ({@code --expires}), not by the admin API's field ({@code expires_in}).
 */
@Command(
    name = "keys",
    description = "Issue, rotate, revoke and list API keys.",
    mixinStandardHelpOptions = true,
    subcommands = {
      KeysCommand.Issue.class,
      KeysCommand.Rotate.class,
      KeysCommand.Revoke.class,
      KeysCommand.ListKeys.class
    })
public final class KeysCommand implements Runnable {
  static final int REFUSED = 1;
  static final int INVALID = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Output format of every subcommand. */
  enum Format {
    table,
    json
  }

  /** What every subcommand shares: the store options, the format, and the run around its work. */
  abstract static class KeysSubcommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Mixin StoreOptions storeOptions;

    @Option(
        names = "--format",
        paramLabel = "FORMAT",
        defaultValue = "table",
        description = "table or json (the admin API's JSON). Default: ${DEFAULT-VALUE}.")
    Format format;

    abstract int run(KeyLifecycle keys, PrintWriter out, PrintWriter err);

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      try (Database db = storeOptions.open(err)) {
        return run(new KeyLifecycle(KeyStore.of(db), InstantSource.system()), out, err);
      } catch (StoreException e) {
        err.println("cannot use the key store: " + e.getMessage());
        return StoreOptions.STORE_FAILED;
      } catch (IllegalArgumentException e) {
        err.println(e.getMessage());
        return INVALID;
      }
    }

    /** Prints a refusal and returns its exit status. */
    static int refused(KeyResult.Refused<?> r, PrintWriter err) {
      if (r.refusal() == KeyResult.Refusal.INVALID_REQUEST) {
        err.println(withOptionName(r.detail()));
        return INVALID;
      }
      err.println(r.detail());
      return REFUSED;
    }
  }

  /** The admin API's request fields and the options that set them here. */
  private static final Map<String, String> OPTIONS =
      Map.of(
          "client", "--client",
          "client_type", "--client-type",
          "roles", "--roles",
          "scopes", "--scopes",
          "segment_hint", "--segment-hint",
          "expires_in", "--expires",
          "grace", "--grace");

  /**
   * {@code detail} of an invalid request ({@link KeyLifecycle}: it starts with the field's admin
   * API name) with the field named as the option that set it: {@code expires_in must be ...}
   * becomes {@code --expires must be ...}, {@code roles[2] must be ...} {@code --roles value 3 must
   * be ...}.
   */
  static String withOptionName(String detail) {
    int end = 0;
    while (end < detail.length()
        && (Character.isLowerCase(detail.charAt(end)) || detail.charAt(end) == '_')) {
      end++;
    }
    String option = OPTIONS.get(detail.substring(0, end));
    if (option == null) {
      return detail;
    }
    String rest = detail.substring(end);
    int close = rest.indexOf(']');
    if (rest.startsWith("[") && close > 1) {
      int index = Integer.parseInt(rest.substring(1, close));
      return option + " value " + (index + 1) + rest.substring(close + 1);
    }
    return option + rest;
  }

  @Command(
      name = "issue",
      description = "Issue a key; its secret is printed once.",
      mixinStandardHelpOptions = true)
  static final class Issue extends KeysSubcommand {
    @Option(names = "--client", required = true, description = "The client the key belongs to.")
    String client;

    @Option(names = "--client-type", description = "The client type, e.g. partner.")
    String clientType;

    @Option(names = "--roles", split = ",", description = "Roles, comma-separated.")
    List<String> roles = new ArrayList<>();

    @Option(names = "--scopes", split = ",", description = "Scopes, comma-separated.")
    List<String> scopes = new ArrayList<>();

    @Option(names = "--segment-hint", description = "A segment hint for the policy.")
    String segmentHint;

    @Option(
        names = "--expires",
        paramLabel = "DURATION",
        description = "Lifetime, e.g. 90d or 24h (default: never expires).")
    String expires;

    @Override
    int run(KeyLifecycle keys, PrintWriter out, PrintWriter err) {
      KeyRequest request =
          KeyRequest.builder(client)
              .clientType(clientType)
              .roles(roles)
              .scopes(scopes)
              .segmentHint(segmentHint)
              .expiresIn(expires)
              .build();
      return switch (keys.issue(request)) {
        case KeyResult.Ok<IssuedKey> ok -> {
          IssuedKey k = ok.value();
          if (format == Format.json) {
            out.println(KeyJson.issued(k));
          } else {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"id", k.id()});
            rows.add(new String[] {"secret", k.key().reveal()});
            rows.addAll(details(k.metadata()));
            printPairs(out, rows);
          }
          err.println("The secret is shown only this once: store it now, it cannot be recovered.");
          yield 0;
        }
        case KeyResult.Refused<IssuedKey> no -> refused(no, err);
      };
    }
  }

  @Command(
      name = "rotate",
      description =
          "Give a key a new secret (printed once); the old one works until the grace ends.",
      mixinStandardHelpOptions = true)
  static final class Rotate extends KeysSubcommand {
    @Parameters(index = "0", paramLabel = "KEY_ID", description = "The key's id.")
    String id;

    @Option(
        names = "--grace",
        paramLabel = "DURATION",
        description = "How long the old secret keeps working, e.g. 24h (default: 0, none).")
    String grace;

    @Override
    int run(KeyLifecycle keys, PrintWriter out, PrintWriter err) {
      return switch (keys.rotate(id, grace)) {
        case KeyResult.Ok<IssuedKey> ok -> {
          IssuedKey k = ok.value();
          if (format == Format.json) {
            out.println(KeyJson.rotated(k));
          } else {
            printPairs(
                out,
                List.of(
                    new String[] {"id", k.id()},
                    new String[] {"secret", k.key().reveal()},
                    new String[] {"previous_valid_until", text(k.previousValidUntil())}));
          }
          err.println("The secret is shown only this once: store it now, it cannot be recovered.");
          yield 0;
        }
        case KeyResult.Refused<IssuedKey> no -> refused(no, err);
      };
    }
  }

  @Command(name = "revoke", description = "Revoke a key at once.", mixinStandardHelpOptions = true)
  static final class Revoke extends KeysSubcommand {
    @Parameters(index = "0", paramLabel = "KEY_ID", description = "The key's id.")
    String id;

    @Override
    int run(KeyLifecycle keys, PrintWriter out, PrintWriter err) {
      return switch (keys.revoke(id)) {
        case KeyResult.Ok<KeyMetadata> ok -> {
          if (format == Format.json) {
            out.println(KeyJson.key(ok.value()));
          } else {
            out.println("revoked " + ok.value().id() + " at " + ok.value().revokedAt());
          }
          yield 0;
        }
        case KeyResult.Refused<KeyMetadata> no -> refused(no, err);
      };
    }
  }

  @Command(
      name = "list",
      description = "List keys (never their secrets).",
      mixinStandardHelpOptions = true)
  static final class ListKeys extends KeysSubcommand {
    @Option(names = "--client", description = "Only this client's keys.")
    String client;

    private static final List<String> COLUMNS =
        List.of(
            "ID",
            "CLIENT",
            "CLIENT_TYPE",
            "ROLES",
            "SCOPES",
            "CREATED_AT",
            "EXPIRES_AT",
            "REVOKED_AT",
            "LAST_USED_AT");

    private static final List<Function<KeyMetadata, String>> CELLS =
        List.of(
            KeyMetadata::id,
            KeyMetadata::client,
            k -> text(k.clientType()),
            k -> words(k.roles()),
            k -> words(k.scopes()),
            k -> text(k.createdAt()),
            k -> text(k.expiresAt()),
            k -> text(k.revokedAt()),
            k -> text(k.lastUsedAt()));

    @Override
    int run(KeyLifecycle keys, PrintWriter out, PrintWriter err) {
      List<KeyMetadata> list = keys.list(client);
      if (format == Format.json) {
        out.println(KeyJson.list(list));
        return 0;
      }
      List<List<String>> rows = new ArrayList<>();
      rows.add(COLUMNS);
      for (KeyMetadata k : list) {
        rows.add(CELLS.stream().map(f -> f.apply(k)).toList());
      }
      int[] widths = new int[COLUMNS.size()];
      for (List<String> row : rows) {
        for (int i = 0; i < row.size(); i++) {
          widths[i] = Math.max(widths[i], row.get(i).length());
        }
      }
      for (List<String> row : rows) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < row.size(); i++) {
          line.append(i == row.size() - 1 ? row.get(i) : pad(row.get(i), widths[i] + 2));
        }
        out.println(line.toString().stripTrailing());
      }
      return 0;
    }
  }

  /** The rows of a key's metadata after its id. */
  static List<String[]> details(KeyMetadata k) {
    return List.of(
        new String[] {"client", k.client()},
        new String[] {"client_type", text(k.clientType())},
        new String[] {"roles", words(k.roles())},
        new String[] {"scopes", words(k.scopes())},
        new String[] {"segment_hint", text(k.segmentHint())},
        new String[] {"created_at", text(k.createdAt())},
        new String[] {"expires_at", text(k.expiresAt())});
  }

  static void printPairs(PrintWriter out, List<String[]> rows) {
    int width = rows.stream().mapToInt(r -> r[0].length()).max().orElse(0) + 2;
    for (String[] r : rows) {
      out.println(pad(r[0], width) + r[1]);
    }
  }

  static String text(@Nullable Object value) {
    return value == null ? "-" : value.toString();
  }

  static String words(List<String> values) {
    return values.isEmpty() ? "-" : String.join(",", values);
  }

  static String pad(String s, int width) {
    return s.length() >= width ? s + " " : s + " ".repeat(width - s.length());
  }
}
