package io.portcullis.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.config.RuntimeConfigLoader;
import io.portcullis.testing.RepoRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The envoy-dev walkthrough of envoy/README.md starts Portcullis with {@code
 * deploy/portcullis-dev.yaml}, which must serve what {@code envoy/envoy-dev.yaml} asks for: the
 * rate limit descriptors of {@code deploy/ratelimit/} (with no configuration file the directory
 * would default to {@code ./ratelimit}, absent from the repository root, and every descriptor would
 * be answered OK) on the port Envoy's {@code portcullis} cluster calls.
 */
class EnvoyDevWalkthroughTest {
  static final String DEV_CONFIG = "deploy/portcullis-dev.yaml";

  @Test
  void devConfiguration_servesTheDeployPolicyAndDescriptors_onThePortEnvoyDevCalls()
      throws Exception {
    RuntimeConfigLoader.Result result =
        RuntimeConfigLoader.load(RepoRoot.resolve(DEV_CONFIG), null, name -> null);
    assertThat(result).isInstanceOf(RuntimeConfigLoader.Loaded.class);
    RuntimeConfig config = ((RuntimeConfigLoader.Loaded) result).config();

    assertThat(normalized(config.policy().file()))
        .isEqualTo(normalized(RepoRoot.resolve("deploy/policy.yaml")));
    assertThat(normalized(config.rls().configDir()))
        .isEqualTo(normalized(RepoRoot.resolve("deploy/ratelimit")));
    assertThat(config.rls().required()).as("a missing directory stops the start").isTrue();
    assertThat(config.grpc().tls()).as("envoy-dev.yaml speaks h2c").isNull();
    assertThat(config.grpc().address().getPort()).isEqualTo(portcullisClusterPort());

    // The domain envoy-dev.yaml's rate limit filter sends is a domain of deploy/ratelimit/.
    Matcher domain =
        Pattern.compile("(?m)^\\s+domain: (\\S+)$")
            .matcher(Files.readString(RepoRoot.resolve(EnvoyDevVariant.SOURCE)));
    assertThat(domain.find()).as("the rate limit filter's domain").isTrue();
    assertThat(Files.readString(RepoRoot.resolve("deploy/ratelimit/portcullis.yaml")))
        .containsPattern("(?m)^domain: " + Pattern.quote(domain.group(1)) + "$");

    assertThat(Files.readString(RepoRoot.resolve("envoy/README.md")))
        .as("the walkthrough starts Portcullis with it")
        .contains("bin/portcullis serve --config " + DEV_CONFIG);
  }

  private static int portcullisClusterPort() throws Exception {
    Bootstrap dev = EnvoyBootstrapLoader.load(RepoRoot.resolve(EnvoyDevVariant.SOURCE));
    Cluster portcullis =
        dev.getStaticResources().getClustersList().stream()
            .filter(c -> c.getName().equals(EnvoyDevVariant.PORTCULLIS_CLUSTER))
            .findFirst()
            .orElseThrow();
    return portcullis
        .getLoadAssignment()
        .getEndpoints(0)
        .getLbEndpoints(0)
        .getEndpoint()
        .getAddress()
        .getSocketAddress()
        .getPortValue();
  }

  private static Path normalized(Path p) {
    return p.toAbsolutePath().normalize();
  }
}
