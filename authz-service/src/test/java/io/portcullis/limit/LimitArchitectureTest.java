package io.portcullis.limit;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The limit core (limits, protection, the rate limit service's config and counting) knows nothing
 * of the wire or of Redisson; only {@code io.portcullis.limit.redis} talks to Redis and only {@code
 * io.portcullis.server.grpc} speaks Envoy's protocol.
 */
class LimitArchitectureTest {
  private static final JavaClasses CLASSES =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("io.portcullis.limit");

  @Test
  void limitCore_importsNoGrpcEnvoyOrRedisson() {
    noClasses()
        .that()
        .resideInAnyPackage("io.portcullis.limit", "io.portcullis.limit.rls")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.grpc..", "io.envoyproxy..", "org.redisson..")
        .check(CLASSES);
  }

  @Test
  void limitCore_doesNotReachIntoTheRedisBackend() {
    noClasses()
        .that()
        .resideInAnyPackage("io.portcullis.limit", "io.portcullis.limit.rls")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.portcullis.limit.redis")
        .check(CLASSES);
  }

  @Test
  void redisBackend_speaksNoWireProtocol() {
    noClasses()
        .that()
        .resideInAPackage("io.portcullis.limit.redis")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.grpc..", "io.envoyproxy..")
        .check(CLASSES);
  }
}
