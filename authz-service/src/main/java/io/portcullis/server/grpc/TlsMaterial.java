package io.portcullis.server.grpc;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The gRPC listener's TLS material, read from PEM files and checked before it is used, so that a
 * bad file stops the start (or a reload) with a message naming the file and the problem instead of
 * a listener whose every handshake fails.
 *
 * <p>Checked: the certificate file holds at least one certificate (the leaf first, then
 * intermediates) and the leaf is valid now; the key file holds an unencrypted PKCS#8 key ({@code
 * BEGIN PRIVATE KEY}) whose public half is the leaf's; the client CA file holds at least one
 * certificate. PKCS#8 is the only key form grpc-java's Netty reads without BouncyCastle on the
 * class path, which Portcullis does not ship: a PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC1
 * ({@code BEGIN EC PRIVATE KEY}) key is refused with the {@code openssl pkcs8 -topk8 -nocrypt}
 * command that converts it. Key files are never quoted in messages.
 *
 * @param chain the server certificate chain, leaf first
 * @param key the leaf certificate's private key
 * @param clientCa the CA certificates a client certificate must chain to; empty for TLS without
 *     client authentication
 */
public record TlsMaterial(
    List<X509Certificate> chain, PrivateKey key, List<X509Certificate> clientCa) {

  public TlsMaterial {
    chain = List.copyOf(chain);
    clientCa = List.copyOf(clientCa);
    if (chain.isEmpty()) {
      throw new IllegalArgumentException("no certificate");
    }
  }

  /** The server's own certificate. */
  public X509Certificate leaf() {
    return chain.getFirst();
  }

  /** Which file a {@link Problem} is in. */
  public enum Part {
    CERT,
    KEY,
    CLIENT_CA
  }

  /**
   * One problem with the material.
   *
   * @param part the file it is in
   * @param message what is wrong, naming the file, and what to do
   */
  public record Problem(Part part, String message) {}

  /** The files cannot serve; lists every problem found. */
  public static final class InvalidException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<Problem> problems;

    InvalidException(List<Problem> problems) {
      super(problems.stream().map(Problem::message).collect(Collectors.joining("; ")));
      this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() {
      return problems;
    }
  }

  /**
   * Reads and checks the files.
   *
   * @param now the instant the leaf certificate must be valid at, or {@code null} not to check its
   *     validity window (commands that open no listener)
   * @throws InvalidException with every problem found
   */
  public static TlsMaterial read(GrpcServer.Tls files, @Nullable Instant now)
      throws InvalidException {
    List<Problem> problems = new ArrayList<>();
    List<X509Certificate> chain = certificates(files.certChain(), Part.CERT, problems);
    PrivateKey key = privateKey(files.privateKey(), problems);
    List<X509Certificate> clientCa =
        files.clientCa() == null
            ? List.of()
            : certificates(files.clientCa(), Part.CLIENT_CA, problems);
    if (!chain.isEmpty() && now != null) {
      X509Certificate leaf = chain.getFirst();
      Instant notBefore = leaf.getNotBefore().toInstant();
      Instant notAfter = leaf.getNotAfter().toInstant();
      String outside =
          now.isAfter(notAfter)
              ? "expired at " + notAfter
              : now.isBefore(notBefore) ? "is not valid until " + notBefore : null;
      if (outside != null) {
        problems.add(
            new Problem(
                Part.CERT,
                files.certChain()
                    + ": the certificate "
                    + subject(leaf)
                    + " "
                    + outside
                    + " (valid from "
                    + notBefore
                    + " to "
                    + notAfter
                    + ")"));
      }
      if (key != null && !belongTogether(key, leaf.getPublicKey())) {
        problems.add(
            new Problem(
                Part.KEY,
                files.privateKey()
                    + ": the private key does not belong to the certificate "
                    + subject(leaf)
                    + " in "
                    + files.certChain()
                    + " (its public key is another one): give the key that certificate was issued"
                    + " for"));
      }
    }
    if (!problems.isEmpty() || key == null) {
      throw new InvalidException(problems);
    }
    return new TlsMaterial(chain, key, clientCa);
  }

  private record Block(String type, byte[] der) {}

  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

  /** The PEM blocks of {@code file}, or {@code null} (reported) if it cannot be read. */
  private static @Nullable List<Block> blocks(Path file, Part part, List<Problem> problems) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      problems.add(new Problem(part, "cannot read " + file + ": " + e.getMessage()));
      return null;
    }
    List<Block> blocks = new ArrayList<>();
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2).trim());
      } catch (IllegalArgumentException e) {
        der = new byte[0]; // a broken block: its parser reports it
      }
      blocks.add(new Block(m.group(1), der));
    }
    return blocks;
  }

  private static List<X509Certificate> certificates(Path file, Part part, List<Problem> problems) {
    List<Block> blocks = blocks(file, part, problems);
    if (blocks == null) {
      return List.of();
    }
    List<X509Certificate> certs = new ArrayList<>();
    CertificateFactory factory;
    try {
      factory = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("no X.509 support in this JVM", e);
    }
    int n = 0;
    for (Block b : blocks) {
      if (!b.type().equals("CERTIFICATE")) {
        continue;
      }
      n++;
      try {
        certs.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (CertificateException e) {
        problems.add(
            new Problem(
                part, file + ": certificate " + n + " cannot be parsed: " + e.getMessage()));
        return List.of();
      }
    }
    if (n == 0) {
      String what = part == Part.CLIENT_CA ? "CA certificate" : "certificate";
      problems.add(
          new Problem(
              part,
              blocks.stream().anyMatch(b -> b.type().endsWith("PRIVATE KEY"))
                  ? file
                      + " holds a private key, not a "
                      + what
                      + (part == Part.CERT ? ": are cert and key swapped?" : "")
                  : file + " holds no PEM " + what + " (-----BEGIN CERTIFICATE-----)"));
    }
    return certs;
  }

  /** Key algorithms a PKCS#8 key is tried as, in turn. */
  private static final List<String> KEY_ALGORITHMS = List.of("RSA", "EC", "Ed25519", "Ed448");

  private static @Nullable PrivateKey privateKey(Path file, List<Problem> problems) {
    List<Block> blocks = blocks(file, Part.KEY, problems);
    if (blocks == null) {
      return null;
    }
    Block key =
        blocks.stream().filter(b -> b.type().endsWith("PRIVATE KEY")).findFirst().orElse(null);
    String convert =
        ": the gRPC listener reads unencrypted PKCS#8 keys (BEGIN PRIVATE KEY) only; convert it"
            + " with 'openssl pkcs8 -topk8 -nocrypt -in "
            + file
            + " -out "
            + file
            + ".pk8'";
    if (key == null) {
      problems.add(
          new Problem(
              Part.KEY,
              blocks.stream().anyMatch(b -> b.type().equals("CERTIFICATE"))
                  ? file + " holds a certificate, not a private key: are cert and key swapped?"
                  : file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)"));
      return null;
    }
    switch (key.type()) {
      case "PRIVATE KEY" -> {}
      case "RSA PRIVATE KEY" -> {
        problems.add(
            new Problem(Part.KEY, file + " is a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY)" + convert));
        return null;
      }
      case "EC PRIVATE KEY" -> {
        problems.add(
            new Problem(Part.KEY, file + " is a SEC1 EC key (BEGIN EC PRIVATE KEY)" + convert));
        return null;
      }
      case "ENCRYPTED PRIVATE KEY" -> {
        problems.add(
            new Problem(Part.KEY, file + " is encrypted (BEGIN ENCRYPTED PRIVATE KEY)" + convert));
        return null;
      }
      default -> {
        problems.add(new Problem(Part.KEY, file + " is a BEGIN " + key.type() + convert));
        return null;
      }
    }
    for (String algorithm : KEY_ALGORITHMS) {
      try {
        return KeyFactory.getInstance(algorithm)
            .generatePrivate(new PKCS8EncodedKeySpec(key.der()));
      } catch (GeneralSecurityException e) {
        // not this algorithm; try the next
      }
    }
    problems.add(
        new Problem(
            Part.KEY,
            file
                + " holds no RSA, EC or EdDSA private key that can be parsed (a damaged or"
                + " unsupported PKCS#8 key)"));
    return null;
  }

  /**
   * Whether {@code key} is the private half of {@code pub}: a signature made with it verifies with
   * {@code pub}, which works alike for every key algorithm.
   */
  private static boolean belongTogether(PrivateKey key, PublicKey pub) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
      return false;
    }
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          default -> key.getAlgorithm(); // Ed25519, Ed448
        };
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(pub);
      verifier.update(challenge);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static String subject(X509Certificate cert) {
    return "'" + cert.getSubjectX500Principal().getName() + "'";
  }
}
