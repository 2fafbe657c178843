package io.portcullis.decision;

import java.util.ArrayList;
import java.util.List;

/**
 * Receives what each phase of a decision found, for {@code explain}. The pipeline checks {@link
 * #enabled()} before building any message, so {@link #none()} costs nothing on the hot path.
 */
public interface Trace {

  /** Whether notes are wanted; when false the pipeline builds none. */
  boolean enabled();

  /** Records what a phase found ("segment partners: client_type absent, not one of [partner]"). */
  void note(Phase phase, String message);

  /** A trace that records nothing. */
  static Trace none() {
    return Disabled.INSTANCE;
  }

  /** A trace that keeps every note, in order. Not thread-safe: one per decision. */
  static Recording recording() {
    return new Recording();
  }

  /** One note. */
  record Note(Phase phase, String message) {}

  /** Keeps notes in order. */
  final class Recording implements Trace {
    private final List<Note> notes = new ArrayList<>();

    private Recording() {}

    @Override
    public boolean enabled() {
      return true;
    }

    @Override
    public void note(Phase phase, String message) {
      notes.add(new Note(phase, message));
    }

    public List<Note> notes() {
      return List.copyOf(notes);
    }
  }

  /** The no-op trace. */
  enum Disabled implements Trace {
    INSTANCE;

    @Override
    public boolean enabled() {
      return false;
    }

    @Override
    public void note(Phase phase, String message) {}
  }
}
