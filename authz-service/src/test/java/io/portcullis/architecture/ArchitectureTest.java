package io.portcullis.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The core knows nothing of the wire (STYLE.md "Shape"): policy, identity, segments, rules, limits
 * and decisions import no gRPC, Envoy or Redis types. Backends that need Redis live in {@code
 * *.redis} packages; adapters live in {@code server.*}.
 */
@AnalyzeClasses(packages = "io.portcullis", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String[] CORE = {
    "io.portcullis.request..",
    "io.portcullis.policy..",
    "io.portcullis.identity..",
    "io.portcullis.segment..",
    "io.portcullis.authz..",
    "io.portcullis.payload..",
    "io.portcullis.limit..",
    "io.portcullis.decision..",
    "io.portcullis.audit..",
    "io.portcullis.keys..",
    "io.portcullis.geo..",
    "io.portcullis.net..",
  };

  @ArchTest
  static final ArchRule coreImportsNoWireOrRedisTypes =
      noClasses()
          .that()
          .resideInAnyPackage(CORE)
          .and()
          .resideOutsideOfPackage("..redis..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("io.grpc..", "io.envoyproxy..", "org.redisson..", "redis.clients..")
          .because("the core must not know the wire or the Redis backend (STYLE.md)");

  @ArchTest
  static final ArchRule coreDoesNotDependOnAdapters =
      noClasses()
          .that()
          .resideInAnyPackage(CORE)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("io.portcullis.server..", "io.portcullis.cli..")
          .because("adapters depend on the core, never the reverse");

  @ArchTest
  static final ArchRule noHttpServerInCore =
      noClasses()
          .that()
          .resideInAnyPackage(CORE)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("org.eclipse.jetty..")
          .because("HTTP belongs to server.http");
}
