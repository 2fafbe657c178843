package io.portcullis.identity;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.portcullis.request.RequestAttributes;
import io.portcullis.testing.FakeClock;
import io.portcullis.testing.TestIssuer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * No token, nor any of its three parts, shows in a log line (message, arguments, exception
 * messages, stack traces), a rejection detail, a verification's {@code toString} or a verifier's
 * {@code toString} — through every outcome: verified, cached, forged, expired, malformed, issuer
 * down.
 */
class JwtRedactionIT {
  private static final String ID = "corp";

  private final FakeClock clock = FakeClock.atWallClock();
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private Logger root;
  private Level rootLevel;
  private TestIssuer idp;
  private JwtVerifiers registry;

  @BeforeEach
  void start() {
    root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    rootLevel = root.getLevel();
    root.setLevel(Level.TRACE);
    logs.start();
    root.addAppender(logs);
    idp = TestIssuer.start(clock);
    registry = JwtVerifiers.builder(new SimpleMeterRegistry()).clock(clock).build();
  }

  @AfterEach
  void stop() {
    root.detachAppender(logs);
    root.setLevel(rootLevel);
    registry.close();
    idp.close();
  }

  @Test
  void tokens_neverAppearInLogsDetailsOrToString() {
    JwtVerifier verifier =
        registry.forIssuers(
            List.of(
                new JwtIssuerConfig(
                    "corp",
                    idp.issuer(ID),
                    null,
                    List.of("orders-api"),
                    Set.of("RS256"),
                    Duration.ofSeconds(30),
                    ClaimMapping.DEFAULT)));
    CredentialChain chain = CredentialChain.builder().bearer(verifier).build();
    List<String> tokens = new ArrayList<>();
    List<Object> outputs = new ArrayList<>();

    String valid = idp.token(ID).sign();
    String expired = idp.token(ID).expiresAt(clock.instant().minusSeconds(600)).sign();
    String wrongAud = idp.token(ID).claim("aud", "nope").sign();
    String unknownKid = idp.token(ID).signedWith("ghost").sign();
    String forged = JwtVerifierIT.flipSignature(idp.token(ID).claim("sub", "mallory").sign());
    String garbage =
        "eyJhbGciOiJSUzI1NiIsInRva2VuIjoic2VjcmV0In0.Z2FyYmFnZS1wYXlsb2FkLXNlY3JldA.c2ln";
    tokens.addAll(List.of(valid, expired, wrongAud, unknownKid, forged, garbage));
    for (String t : tokens) {
      outputs.add(verifier.verify(t));
      outputs.add(verifier.verify(t)); // cached path
      outputs.add(chain.resolve(bearer(t)));
    }

    // issuer down: a token of a key not cached yet must fail closed, and say nothing of the token
    String duringOutage = idp.token(ID).signedWith("next").sign();
    tokens.add(duringOutage);
    idp.stop();
    clock.advance(Duration.ofMinutes(6));
    outputs.add(verifier.verify(duringOutage));
    outputs.add(verifier.verify(valid));

    outputs.add(verifier);
    outputs.add(registry);
    outputs.add(chain);

    List<String> secrets = new ArrayList<>();
    for (String t : tokens) {
      secrets.add(t);
      for (String part : t.split("\\.")) {
        if (part.length() >= 16) {
          secrets.add(part);
        }
      }
    }
    List<String> texts = new ArrayList<>();
    for (Object o : outputs) {
      texts.add(String.valueOf(o));
      if (o instanceof Verification.Rejected r) {
        texts.add(r.detail());
      }
    }
    for (ILoggingEvent e : logs.list) {
      texts.add(e.getFormattedMessage());
      texts.add(e.getMessage());
      if (e.getArgumentArray() != null) {
        for (Object a : e.getArgumentArray()) {
          texts.add(String.valueOf(a));
        }
      }
      addThrowable(texts, e.getThrowableProxy());
    }

    assertThat(logs.list).as("the outage was logged").isNotEmpty();
    assertThat(outputs).anyMatch(o -> o instanceof Verification.Rejected);
    for (String text : texts) {
      for (String secret : secrets) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  private static void addThrowable(List<String> texts, @Nullable IThrowableProxy t) {
    while (t != null) {
      texts.add(t.getClassName() + ": " + t.getMessage());
      for (StackTraceElementProxy s : t.getStackTraceElementProxyArray()) {
        texts.add(s.getSTEAsString());
      }
      t = t.getCause();
    }
  }

  private static RequestAttributes bearer(String token) {
    return RequestAttributes.builder().header("Authorization", "Bearer " + token).build();
  }
}
