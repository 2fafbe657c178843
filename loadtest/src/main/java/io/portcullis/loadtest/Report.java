package io.portcullis.loadtest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The suite's findings, rendered as the Markdown summary table it prints and writes. */
final class Report {
  /** A measured run with the role it plays in the report. */
  record Row(String scenario, String what, RunResult result) {}

  /** One goal and whether the run met it. */
  record Goal(String goal, String measured, String verdict) {}

  record Limiter(String name, RunResult closed, RunResult open, CpuMeter.Cost cost) {}

  final List<String> header = new ArrayList<>();
  final List<Row> rows = new ArrayList<>();
  final Map<String, CapacitySearch.Result> capacities = new LinkedHashMap<>();
  final List<String> h2load = new ArrayList<>();
  final List<Limiter> limiters = new ArrayList<>();
  final List<String> micro = new ArrayList<>();
  final List<String> notes = new ArrayList<>();
  final List<Goal> goals = new ArrayList<>();

  String render() {
    StringBuilder b = new StringBuilder();
    for (String h : header) {
      b.append(h).append("\n\n");
    }
    if (!rows.isEmpty()) {
      b.append("### Runs (latency from intended start, warm-up excluded)\n\n");
      b.append(
          "| scenario | run | offered/s | achieved/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms"
              + " | errors | server CPU µs/req | load avg |\n");
      b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
      for (Row r : rows) {
        RunResult x = r.result();
        b.append(
            String.format(
                "| %s | %s | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %s | %.2f |%n",
                r.scenario(),
                r.what(),
                x.offeredRate(),
                x.achievedRate(),
                x.p50Ms(),
                x.p90Ms(),
                x.p99Ms(),
                x.p999Ms(),
                x.maxMs(),
                x.errors(),
                x.server() == null
                    ? "-"
                    : String.format("%.1f", x.server().cpuMicrosPerRequest(x.achievedRate())),
                x.loadAverage()));
      }
      b.append('\n');
    }
    if (!capacities.isEmpty()) {
      b.append("### Capacity (highest offered rate passing the saturation test, see header)\n\n");
      b.append("| scenario | capacity/s | p99 at capacity ms | steps | load avg at capacity |\n");
      b.append("|---|---:|---:|---:|---:|\n");
      capacities.forEach(
          (name, c) ->
              b.append(
                  String.format(
                      "| %s | %.0f | %s | %d | %s |%n",
                      name,
                      c.rate(),
                      c.capacity() == null ? "-" : String.format("%.3f", c.capacity().p99Ms()),
                      c.steps().size(),
                      c.capacity() == null
                          ? "-"
                          : String.format("%.2f", c.capacity().loadAverage()))));
      b.append('\n');
    }
    if (!h2load.isEmpty()) {
      b.append("### h2load (independent client, closed loop)\n\n");
      for (String l : h2load) {
        b.append("    ").append(l).append('\n');
      }
      b.append('\n');
    }
    if (!limiters.isEmpty()) {
      b.append(limiterTable()).append('\n');
    }
    if (!micro.isEmpty()) {
      b.append("### In-memory limiter (JMH, footprint)\n\n");
      for (String l : micro) {
        b.append("- ").append(l).append('\n');
      }
      b.append('\n');
    }
    if (!goals.isEmpty()) {
      b.append("### Goals\n\n| goal | measured | verdict |\n|---|---|---|\n");
      for (Goal g : goals) {
        b.append("| ")
            .append(g.goal())
            .append(" | ")
            .append(g.measured())
            .append(" | ")
            .append(g.verdict())
            .append(" |\n");
      }
      b.append('\n');
    }
    for (String n : notes) {
      b.append("- ").append(n).append('\n');
    }
    return b.toString();
  }

  String limiterTable() {
    StringBuilder b = new StringBuilder();
    b.append("### Redis-backed limiters, same harness, same Redis, same concurrency\n\n");
    b.append(
        "| limiter | closed-loop decisions/s | closed-loop p99 ms (service time) | open-loop rate/s"
            + " | open-loop p50 ms | open-loop p99 ms | client CPU µs/decision | Redis CPU"
            + " µs/decision | errors | load avg |\n");
    b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Limiter l : limiters) {
      b.append(
          String.format(
              "| %s | %.0f | %.3f | %.0f | %.3f | %.3f | %.1f | %.1f | %d | %.2f |%n",
              l.name(),
              l.closed().achievedRate(),
              l.closed().p99Ms(),
              l.open().achievedRate(),
              l.open().p50Ms(),
              l.open().p99Ms(),
              l.cost().clientMicros(),
              l.cost().redisMicros(),
              l.closed().errors() + l.open().errors(),
              l.open().loadAverage()));
    }
    return b.toString();
  }
}
