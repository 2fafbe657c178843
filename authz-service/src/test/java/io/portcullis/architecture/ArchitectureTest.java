package io.portcullis.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.security.Provider;
import java.security.Security;

/**
 * The core knows nothing of the wire (STYLE.md "Shape"): policy, identity, segments, rules, limits
 * and decisions import no gRPC, Envoy or Redis types. Backends that need Redis live in {@code
 * *.redis} packages; adapters live in {@code server.*}. BouncyCastle is a PEM reader for the gRPC
 * listener's keys, never a JCA provider.
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

  @ArchTest
  static final ArchRule bouncyCastleOnlyReadsPemKeys =
      noClasses()
          .that()
          .haveNameNotMatching("io\\.portcullis\\.server\\.grpc\\.TlsMaterial(\\$.*)?")
          .should()
          .dependOnClassesThat()
          .resideInAPackage("org.bouncycastle..")
          .because(
              "BouncyCastle ships to read PKCS#1 and SEC1 PEM keys in TlsMaterial; the JDK does"
                  + " the cryptography");

  @ArchTest
  static final ArchRule noSecurityProviderIsRegistered =
      noClasses()
          .should()
          .callMethod(Security.class, "addProvider", Provider.class)
          .orShould()
          .callMethod(Security.class, "insertProviderAt", Provider.class, int.class)
          .because(
              "a provider registered JVM-wide (BouncyCastle is on the class path) would change"
                  + " which implementation every JCA lookup, TLS included, gets");
}
