package io.portcullis.cli;

import io.portcullis.config.RuntimeConfig;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.policy.PolicyError;
import io.portcullis.store.Database;
import io.portcullis.store.StoreSettings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * Where CLI commands that work on stored state (keys, audit) find the store: {@code --store URL},
 * or the {@code store.url} of {@code --config FILE} (the whole file is checked, but only the {@code
 * store} section's environment variables must be set), or the embedded default ({@code
 * jdbc:sqlite:data/portcullis.db}, the same file {@code serve} uses without a configuration). The
 * CLI opens the store directly, so it works with the service stopped; a running service sees key
 * changes within a second (it polls the store). Only {@code serve} creates or migrates a store.
 */
public final class StoreOptions {
  /** The exit status of every command whose store cannot be opened, read or written. */
  public static final int STORE_FAILED = 3;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "Runtime configuration file: its store.url is used (environment variables named"
              + " elsewhere in it need not be set).")
  Path config;

  @Option(
      names = "--store",
      paramLabel = "URL",
      description = "JDBC URL of the store (overrides --config).")
  String store;

  /** The runtime configuration, when {@code --config} was given and is valid. */
  Optional<RuntimeConfig> runtimeConfig(PrintWriter err) {
    if (config == null) {
      return Optional.empty();
    }
    // only store.url is read: the service's other variables (admin token, TLS paths) need not be
    // set where the CLI runs (cron, a log shipper)
    return switch (RuntimeConfigLoader.loadForCommands(
        config, Path.of("unused-policy.yaml"), System::getenv, Set.of("store"))) {
      case RuntimeConfigLoader.Loaded loaded -> Optional.of(loaded.config());
      case RuntimeConfigLoader.Invalid invalid -> {
        for (PolicyError e : invalid.errors()) {
          err.println(e.format());
        }
        throw new IllegalArgumentException(config + ": invalid configuration");
      }
    };
  }

  /** The store settings these options name. */
  StoreSettings settings(PrintWriter err) {
    if (store != null) {
      return StoreSettings.of(store);
    }
    return runtimeConfig(err)
        .map(c -> StoreSettings.of(c.storeUrl()))
        .orElseGet(StoreSettings::defaults);
  }

  /**
   * Opens the existing store, which must exist and have this build's schema ({@link
   * Database#openExisting}): the CLI creates and migrates nothing, so a mistyped URL or the wrong
   * working directory fails (exit {@link #STORE_FAILED}) instead of working on a new, empty store.
   * The caller closes it.
   *
   * @throws io.portcullis.store.StoreException if there is no such store or it cannot be opened
   */
  Database open(PrintWriter err) {
    return Database.openExisting(settings(err));
  }
}
