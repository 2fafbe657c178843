package io.portcullis.limit;

import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;

/** The calendar windows a quota can count over. */
public enum QuotaWindow {
  MINUTE,
  HOUR,
  DAY,
  MONTH;

  /** Start of the window containing {@code t}, in {@code zone} (DST and month lengths honoured). */
  public ZonedDateTime start(ZonedDateTime t) {
    return switch (this) {
      case MINUTE -> t.truncatedTo(ChronoUnit.MINUTES);
      case HOUR -> t.truncatedTo(ChronoUnit.HOURS);
      case DAY -> t.toLocalDate().atStartOfDay(t.getZone());
      case MONTH ->
          t.toLocalDate().with(TemporalAdjusters.firstDayOfMonth()).atStartOfDay(t.getZone());
    };
  }

  /** Start of the next window after the one containing {@code t}. */
  public ZonedDateTime next(ZonedDateTime t) {
    ZonedDateTime s = start(t);
    return switch (this) {
      case MINUTE -> s.plusMinutes(1);
      case HOUR -> s.plusHours(1);
      case DAY -> s.toLocalDate().plusDays(1).atStartOfDay(s.getZone());
      case MONTH -> s.toLocalDate().plusMonths(1).atStartOfDay(s.getZone());
    };
  }

  /** Convenience: {@link #start} for an instant in {@code zone}. */
  public ZonedDateTime start(java.time.Instant t, ZoneId zone) {
    return start(t.atZone(zone));
  }
}
