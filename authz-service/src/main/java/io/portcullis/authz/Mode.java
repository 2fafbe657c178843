package io.portcullis.authz;

/** Whether a segment's or rule's would-be denies are enforced or only recorded (spec dry-run). */
public enum Mode {
  ENFORCE("enforce"),
  /** Evaluate and record would-be denies (steps 5-8) as {@code dry_run_reason}, but allow. */
  DRY_RUN("dry-run");

  private final String wireName;

  Mode(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  @Override
  public String toString() {
    return wireName;
  }
}
