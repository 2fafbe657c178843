package io.portcullis.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Collects what one class logs while open: {@code try (LogCapture logs =
 * LogCapture.of(AuditWriter.class)) { ... logs.errors() ... }}. Thread-safe: the logging threads
 * append while the test reads.
 */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(Logger logger) {
    this.logger = logger;
    appender.start();
    logger.addAppender(appender);
  }

  /** Starts collecting the events of {@code type}'s logger. */
  public static LogCapture of(Class<?> type) {
    return new LogCapture((Logger) LoggerFactory.getLogger(type));
  }

  /**
   * Starts collecting the events of the logger {@code name} and those below it, e.g. a package's
   * ({@code "io.portcullis.limit"}: every class in it and its subpackages).
   */
  public static LogCapture of(String name) {
    return new LogCapture((Logger) LoggerFactory.getLogger(name));
  }

  /** The formatted messages logged at ERROR so far, oldest first. */
  public List<String> errors() {
    return messages(Level.ERROR);
  }

  /** The formatted messages logged at WARN so far, oldest first. */
  public List<String> warnings() {
    return messages(Level.WARN);
  }

  /** The formatted messages logged at INFO so far, oldest first. */
  public List<String> infos() {
    return messages(Level.INFO);
  }

  private List<String> messages(Level level) {
    synchronized (appender) { // AppenderBase.doAppend holds this lock while it appends
      return appender.list.stream()
          .filter(e -> e.getLevel() == level)
          .map(ILoggingEvent::getFormattedMessage)
          .toList();
    }
  }

  /**
   * The INFO messages logged so far, oldest first, each prefixed with the name of the thread that
   * logged it and ": " (which code path did something, when several can).
   */
  public List<String> infosWithThread() {
    synchronized (appender) {
      return appender.list.stream()
          .filter(e -> e.getLevel() == Level.INFO)
          .map(e -> e.getThreadName() + ": " + e.getFormattedMessage())
          .toList();
    }
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}
