package io.portcullis.decision;

/** The phases of the decision order (spec "Decision order"), in order. */
public enum Phase {
  NORMALIZE(1, "normalize"),
  PROTECT(2, "protect"),
  IDENTIFY(3, "identify"),
  SEGMENT(4, "segment"),
  GUARDS(5, "guards"),
  RULES(6, "rules"),
  BODY(7, "body"),
  LIMITS(8, "limits"),
  ALLOW(9, "allow");

  private final int step;
  private final String label;

  Phase(int step, String label) {
    this.step = step;
    this.label = label;
  }

  /** The spec's step number. */
  public int step() {
    return step;
  }

  public String label() {
    return label;
  }
}
