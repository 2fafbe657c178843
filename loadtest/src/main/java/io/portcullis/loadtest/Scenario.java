package io.portcullis.loadtest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One load scenario: the server it needs (a generated policy, a limit backend) and the request mix
 * it sends.
 *
 * @param name short name (tables, file names)
 * @param description what is being measured, for the report
 * @param server writes the scenario's files into a directory and returns the {@link TargetServer}
 *     options
 * @param target builds the target for a run at {@code rate} lasting {@code total} (warm-up
 *     included), against a started server
 */
record Scenario(String name, String description, ServerSetup server, TargetFactory target) {

  interface ServerSetup {
    List<String> args(Path dir) throws Exception;
  }

  interface TargetFactory {
    Target create(ServiceProcess server, double rate, Duration total) throws Exception;
  }
}
