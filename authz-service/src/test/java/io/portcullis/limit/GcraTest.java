package io.portcullis.limit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GcraTest {
  private static final long T = 100; // emission interval
  private static final long NOW = 10_000;

  @Test
  void fullBucket_admitsBurst_withRemainingCountingDown() {
    long tat = 0;
    for (long expected = 4; expected >= 0; expected--) {
      Gcra.Result r = Gcra.check(tat, NOW, 1, T, 5);
      assertThat(r.admitted()).isTrue();
      assertThat(r.remaining()).isEqualTo(expected);
      tat = r.tat();
    }
    Gcra.Result refused = Gcra.check(tat, NOW, 1, T, 5);

    assertThat(refused.admitted()).isFalse();
    assertThat(refused.tat()).as("refusal leaves the TAT").isEqualTo(tat);
    assertThat(refused.retryAfter()).isEqualTo(T);
    assertThat(refused.reset()).isEqualTo(5 * T);
  }

  @Test
  void admit_condition_isTatMinusNowAtMostTau() {
    long tau = T * (3 - 1);

    assertThat(Gcra.check(NOW + tau, NOW, 1, T, 3).admitted()).isTrue();
    assertThat(Gcra.check(NOW + tau + 1, NOW, 1, T, 3).admitted()).isFalse();
    assertThat(Gcra.check(NOW + tau + 1, NOW, 1, T, 3).retryAfter()).isEqualTo(1);
  }

  @Test
  void costOfSeveralUnits_needsThatManyUnitsAvailable() {
    Gcra.Result r = Gcra.check(NOW + 2 * T, NOW, 3, T, 5);

    assertThat(r.admitted()).isTrue();
    assertThat(r.remaining()).isZero();
    assertThat(Gcra.check(r.tat(), NOW, 1, T, 5).retryAfter()).isEqualTo(T);
  }

  @Test
  void available_isBurstForAnIdleBucket_andNeverNegative() {
    assertThat(Gcra.available(0, NOW, T, 5)).isEqualTo(5);
    assertThat(Gcra.available(NOW + 3 * T, NOW, T, 5)).isEqualTo(2);
    assertThat(Gcra.available(NOW + 50 * T, NOW, T, 5)).isZero();
  }

  @Test
  void hugeProducts_saturateInsteadOfOverflowing() {
    Gcra.Result r = Gcra.check(0, NOW, 1, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2);

    assertThat(r.admitted()).isTrue();
    assertThat(r.remaining()).isPositive();
  }
}
