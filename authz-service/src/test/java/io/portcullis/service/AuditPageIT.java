package io.portcullis.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.portcullis.Portcullis;
import io.portcullis.audit.AuditQuery;
import io.portcullis.config.RuntimeConfig;
import io.portcullis.identity.Secret;
import io.portcullis.proto.v1.DecisionRecord;
import io.portcullis.server.http.AuditPages;
import io.portcullis.testing.EnvoyChecks;
import io.portcullis.testing.TestRuntimeConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The audit web page in a real headless Chromium (Debian's {@code chromium} and {@code
 * chromium-driver}) against the whole service: decisions are made through the gRPC Check API, then
 * the page is opened on the admin port, given the admin token, filtered and paged, and what it
 * shows is checked — rows, reason cells, the chart's bars, the top deny reasons — along with the
 * absence of Content-Security-Policy violations in the browser console.
 */
class AuditPageIT {
  static final String ADMIN_TOKEN = "audit-page-it-token-0123456789";
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  /** Decisions made per kind. */
  static final int ALLOWS = 10;

  static final int INVALID_TOKENS = 30;
  static final int NO_MATCHING_RULE = 3;
  static final int IP_DENIED = 2;
  static final int RATE_LIMITED = 2;
  static final int DRY_RUN = 3;

  @TempDir static Path dir;
  static Portcullis service;
  static String storeUrl;
  static ManagedChannel channel;
  static ChromeDriverService chromedriver;
  static WebDriver browser;

  @BeforeAll
  static void start() throws Exception {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
      throw new IllegalStateException(
          "AuditPageIT needs Debian's chromium and chromium-driver packages ("
              + CHROMIUM
              + ", "
              + CHROMEDRIVER
              + "): apt-get install -y chromium chromium-driver");
    }
    Path policy = dir.resolve("policy.yaml");
    Files.writeString(
        policy,
        """
        version: 1
        segments:
          - name: beta
            match: { credential: [anonymous], context: { environment: staging } }
            mode: dry-run
            rules:
              - { name: testers, methods: [GET], paths: ["/v1/**"], roles_any: [tester] }
          - name: public
            match: { credential: [anonymous] }
            network: { deny: [198.51.100.0/24] }
            rules:
              - { name: status, methods: [GET], paths: ["/v1/status"] }
              - name: ping
                methods: [GET]
                paths: ["/v1/ping"]
                limits: [{ name: ping-rate, key: [ip], rate: 1/m, burst: 2 }]
        """);
    RuntimeConfig config = TestRuntimeConfigs.loopback(dir, policy, Secret.of(ADMIN_TOKEN));
    storeUrl = config.storeUrl();
    service = Portcullis.start(config, name -> null);
    channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", service.grpcPort(), InsecureChannelCredentials.create())
            .build();
    makeDecisions(AuthorizationGrpc.newBlockingStub(channel));
    int total = ALLOWS + INVALID_TOKENS + NO_MATCHING_RULE + IP_DENIED + RATE_LIMITED + 2 + DRY_RUN;
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                service
                        .auditStore()
                        .query(AuditQuery.builder().limit(1000).build())
                        .records()
                        .size()
                    == total);

    chromedriver =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1100",
        "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")));
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    browser = new ChromeDriver(chromedriver, options);
  }

  @AfterAll
  static void stop() {
    if (browser != null) {
      browser.quit();
    }
    if (chromedriver != null) {
      chromedriver.stop();
    }
    if (channel != null) {
      channel.shutdownNow();
    }
    if (service != null) {
      service.close();
    }
  }

  static void makeDecisions(AuthorizationGrpc.AuthorizationBlockingStub authz) {
    for (int i = 0; i < ALLOWS; i++) {
      expect(authz.check(EnvoyChecks.get("/v1/status").source("203.0.113.10").build()), 200);
    }
    for (int i = 0; i < INVALID_TOKENS; i++) {
      expect(
          authz.check(
              EnvoyChecks.get("/v1/status").header("authorization", "Bearer not-a-jwt").build()),
          401);
    }
    for (int i = 0; i < NO_MATCHING_RULE; i++) {
      expect(authz.check(EnvoyChecks.get("/v1/orders").build()), 403);
    }
    for (int i = 0; i < IP_DENIED; i++) {
      expect(authz.check(EnvoyChecks.get("/v1/status").source("198.51.100.7").build()), 403);
    }
    for (int i = 0; i < RATE_LIMITED + 2; i++) { // burst 2: two allowed, then denied
      authz.check(EnvoyChecks.get("/v1/ping").source("203.0.113.20").build());
    }
    for (int i = 0; i < DRY_RUN; i++) {
      expect(
          authz.check(EnvoyChecks.get("/v1/reports").context("environment", "staging").build()),
          200);
    }
  }

  static void expect(CheckResponse r, int status) {
    int actual = r.hasOkResponse() ? 200 : r.getDeniedResponse().getStatus().getCodeValue();
    assertThat(actual).isEqualTo(status);
  }

  // ---- page helpers ---------------------------------------------------------------------------

  String pageUrl() {
    return "http://127.0.0.1:" + service.adminPort() + AuditPages.PATH;
  }

  void awaitState(String state) {
    new WebDriverWait(browser, Duration.ofSeconds(20))
        .until(d -> state.equals(d.findElement(By.tagName("body")).getDomAttribute("data-state")));
  }

  WebElement byId(String id) {
    return browser.findElement(By.id(id));
  }

  List<WebElement> rows() {
    return browser.findElements(By.cssSelector("#results tbody tr"));
  }

  List<String> cells(String cssClass) {
    return browser.findElements(By.cssSelector("#results tbody td." + cssClass)).stream()
        .map(WebElement::getText)
        .toList();
  }

  void openWithToken(String token) {
    browser.get(pageUrl());
    ((JavascriptExecutor) browser).executeScript("sessionStorage.clear()");
    browser.navigate().refresh();
    awaitState("locked");
    byId("token").sendKeys(token);
    byId("token-submit").click();
  }

  void applyFilters() {
    byId("apply").click();
    awaitState("ready");
  }

  // ---- tests ----------------------------------------------------------------------------------

  @Test
  void page_filtersPagesAndSummarizes_theDecisionsMadeThroughCheck() throws Exception {
    openWithToken(ADMIN_TOKEN);
    awaitState("ready");

    // Everything of the last 24 hours, 50 per page: newest first, and more than one page.
    assertThat(rows()).hasSize(50);
    assertThat(byId("next").isEnabled()).isTrue();
    assertThat(byId("prev").isEnabled()).isFalse();
    // The chart has bars of both kinds; top deny reasons lead with invalid_token.
    assertThat(browser.findElements(By.cssSelector("#chart svg rect.bar-allow"))).isNotEmpty();
    assertThat(browser.findElements(By.cssSelector("#chart svg rect.bar-deny"))).isNotEmpty();
    assertThat(browser.findElements(By.cssSelector("#chart svg rect.bar-dry-run"))).isNotEmpty();
    List<WebElement> reasons = browser.findElements(By.cssSelector("#top-reasons li"));
    assertThat(reasons.getFirst().findElement(By.className("name")).getText())
        .isEqualTo("invalid_token");
    assertThat(reasons.getFirst().findElement(By.className("count")).getText())
        .isEqualTo(Integer.toString(INVALID_TOKENS));
    assertThat(reasons)
        .extracting(li -> li.findElement(By.className("name")).getText())
        .contains("no_matching_rule", "ip_denied", "rate_limited");
    assertThat(browser.findElements(By.cssSelector("#top-segments li .name")))
        .extracting(WebElement::getText)
        .contains("public", "beta");
    // The dry-run report names what enforcing segment beta would deny.
    assertThat(browser.findElements(By.cssSelector("#dry-run-report tbody tr td")))
        .extracting(WebElement::getText)
        .containsExactly("insufficient_permissions", "beta", "beta", Integer.toString(DRY_RUN));
    screenshot("audit-page.png");

    // decision=deny, reason=invalid_token, 25 per page: two pages of 25 and 5.
    new Select(byId("f-decision")).selectByValue("deny");
    byId("f-reason").sendKeys("invalid_token");
    new Select(byId("f-limit")).selectByVisibleText("25");
    applyFilters();
    assertThat(rows()).hasSize(25);
    assertThat(cells("reason")).containsOnly("invalid_token");
    assertThat(cells("decision")).containsOnly("deny");
    assertThat(cells("status")).containsOnly("401");
    assertThat(byId("page-label").getText()).isEqualTo("Page 1");
    List<String> firstPage = cells("decision-id");

    byId("next").click();
    awaitState("ready");
    assertThat(rows()).hasSize(INVALID_TOKENS - 25);
    assertThat(cells("reason")).containsOnly("invalid_token");
    assertThat(byId("page-label").getText()).isEqualTo("Page 2");
    assertThat(byId("next").isEnabled()).isFalse();
    assertThat(cells("decision-id")).doesNotContainAnyElementsOf(firstPage);

    byId("prev").click();
    awaitState("ready");
    assertThat(cells("decision-id")).isEqualTo(firstPage);
    assertThat(byId("prev").isEnabled()).isFalse();
    // The chart follows the filter: only deny bars now.
    assertThat(browser.findElements(By.cssSelector("#chart svg rect.bar-allow"))).isEmpty();
    assertThat(browser.findElements(By.cssSelector("#chart svg rect.bar-deny"))).isNotEmpty();

    // Dry-run only: the waived denies, with their would-be reason in the reason column.
    new Select(byId("f-decision")).selectByValue("");
    byId("f-reason").clear();
    byId("f-dry-run").click();
    applyFilters();
    assertThat(rows()).hasSize(DRY_RUN);
    assertThat(cells("reason")).containsOnly("insufficient_permissions");
    assertThat(cells("segment")).containsOnly("beta");
    assertThat(browser.findElements(By.cssSelector("#results tbody td.decision .badge")))
        .hasSize(DRY_RUN);

    assertThat(cspViolations()).isEmpty();
  }

  @Test
  void aRecordThatCannotBeRead_isAMarkedRowInItsPlace_andThePageShowsTheRest() throws Exception {
    // The newest invalid_token deny gets bytes that do not parse, for this test only.
    DecisionRecord damaged =
        service
            .auditStore()
            .query(AuditQuery.builder().reason("invalid_token").limit(1).build())
            .records()
            .getFirst();
    byte[] original;
    try (Connection c = DriverManager.getConnection(storeUrl);
        PreparedStatement read =
            c.prepareStatement("SELECT record FROM audit_record WHERE decision_id = ?");
        PreparedStatement write =
            c.prepareStatement("UPDATE audit_record SET record = ? WHERE decision_id = ?")) {
      read.setString(1, damaged.getDecisionId());
      try (ResultSet rs = read.executeQuery()) {
        assertThat(rs.next()).isTrue();
        original = rs.getBytes(1);
      }
      write.setBytes(1, new byte[] {0x0a, 0x10}); // field 1 announces 16 bytes; none follow
      write.setString(2, damaged.getDecisionId());
      assertThat(write.executeUpdate()).isEqualTo(1);
    }
    try {
      openWithToken(ADMIN_TOKEN);
      awaitState("ready");
      new Select(byId("f-decision")).selectByValue("deny");
      byId("f-reason").clear();
      byId("f-reason").sendKeys("invalid_token");
      new Select(byId("f-limit")).selectByVisibleText("50");
      if (byId("f-dry-run").isSelected()) {
        byId("f-dry-run").click();
      }
      applyFilters();

      assertThat(rows()).hasSize(INVALID_TOKENS);
      List<WebElement> marked =
          browser.findElements(By.cssSelector("#results tbody tr.unreadable"));
      assertThat(marked).hasSize(1);
      WebElement row = marked.getFirst();
      assertThat(row.findElement(By.cssSelector("td.decision")).getText()).isEqualTo("UNREADABLE");
      assertThat(row.findElement(By.cssSelector("td.decision-id")).getText())
          .isEqualTo(damaged.getDecisionId());
      assertThat(row.findElement(By.cssSelector("td.path")).getText())
          .isEqualTo("instance " + damaged.getInstance() + ", seq " + damaged.getSeq());
      assertThat(row.findElement(By.cssSelector("td.reason")).getText()).isEqualTo("?");
      assertThat(cells("reason")).filteredOn("invalid_token"::equals).hasSize(INVALID_TOKENS - 1);
      assertThat(cspViolations()).isEmpty();
      // counted once, however often the page asked for it
      assertThat(service.meters().scrape()).contains("portcullis_audit_unreadable_rows_total 1.0");
    } finally {
      try (Connection c = DriverManager.getConnection(storeUrl);
          PreparedStatement write =
              c.prepareStatement("UPDATE audit_record SET record = ? WHERE decision_id = ?")) {
        write.setBytes(1, original);
        write.setString(2, damaged.getDecisionId());
        write.executeUpdate();
      }
    }
  }

  @Test
  void wrongToken_isRefused_andThePageAsksAgain() {
    openWithToken("not-the-admin-token");

    awaitState("locked");
    assertThat(byId("token-error").getText()).contains("not accepted");
    assertThat(byId("app").isDisplayed()).isFalse();
    assertThat(
            ((JavascriptExecutor) browser)
                .executeScript("return sessionStorage.getItem('portcullis.adminToken')"))
        .isNull();
  }

  @Test
  void thePageIsServedWithoutToken_underAStrictCsp_butTheDataIsNot() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> page =
        http.send(
            HttpRequest.newBuilder(URI.create(pageUrl())).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("content-security-policy").orElseThrow())
        .contains("script-src 'self'")
        .contains("default-src 'none'")
        .doesNotContain("unsafe-inline");
    assertThat(page.body()).doesNotContain("<script>").contains("src=\"/audit/audit.js\"");
    assertThat(page.body()).doesNotContainPattern("(?i)https?://");

    HttpResponse<String> data =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + service.adminPort() + "/admin/audit"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(data.statusCode()).isEqualTo(401);
  }

  List<String> cspViolations() {
    return browser.manage().logs().get(LogType.BROWSER).getAll().stream()
        .map(LogEntry::getMessage)
        .filter(m -> m.contains("Content Security Policy") || m.contains("Refused to"))
        .toList();
  }

  void screenshot(String name) throws Exception {
    Path target = Path.of("target", name);
    Files.createDirectories(target.getParent());
    Files.write(target, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
  }
}
