package io.portcullis.limit.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class CallSlotsTest {
  /** Records every batch sent and keeps each call open until the test ends it. */
  private final List<List<String>> sent = new ArrayList<>();

  private final List<Runnable> open = new ArrayList<>();

  private CallSlots<String> slots(int maxInFlight, int maxBatch, Set<String> abandoned) {
    return new CallSlots<>(
        maxInFlight,
        maxBatch,
        abandoned::contains,
        (batch, done) -> {
          sent.add(batch);
          open.add(done);
        });
  }

  private void endCall(int i) {
    open.get(i).run();
  }

  @Test
  void loneItems_goOutAtOnce_eachInACallOfItsOwn() {
    CallSlots<String> slots = slots(2, 128, Set.of());
    slots.submit("a");
    endCall(0);
    slots.submit("b");

    assertThat(sent).containsExactly(List.of("a"), List.of("b"));
  }

  @Test
  void itemsArrivingWhileEverySlotIsBusy_goOutTogetherWhenACallEnds() {
    CallSlots<String> slots = slots(2, 128, Set.of());
    slots.submit("a");
    slots.submit("b");
    slots.submit("c");
    slots.submit("d");
    assertThat(sent).containsExactly(List.of("a"), List.of("b"));
    assertThat(slots.queued()).isEqualTo(2);

    endCall(0);

    assertThat(sent).containsExactly(List.of("a"), List.of("b"), List.of("c", "d"));
    assertThat(slots.queued()).isZero();
  }

  @Test
  void aBatch_holdsAtMostMaxBatchItems_theRestWaitForTheNextSlot() {
    CallSlots<String> slots = slots(1, 2, Set.of());
    for (String s : List.of("a", "b", "c", "d", "e")) {
      slots.submit(s);
    }
    endCall(0);
    endCall(1);

    assertThat(sent).containsExactly(List.of("a"), List.of("b", "c"), List.of("d", "e"));
  }

  @Test
  void itemsWhoseCallersGaveUp_areDroppedUnsent() {
    CallSlots<String> slots = slots(1, 128, Set.of("gone-1", "gone-2"));
    slots.submit("a");
    slots.submit("gone-1");
    slots.submit("b");
    slots.submit("gone-2");
    endCall(0);
    endCall(1);
    slots.submit("gone-1");

    assertThat(sent).containsExactly(List.of("a"), List.of("b"));
    assertThat(slots.queued()).isZero();
  }

  @Test
  void call_freesTheSlotBeforeWakingTheCallers_alsoWhenTheCallCannotStart() {
    List<String> order = new ArrayList<>();
    java.util.concurrent.CompletableFuture<String> reply =
        new java.util.concurrent.CompletableFuture<>();
    CallSlots.call(
        () -> reply, () -> order.add("done"), (r, e) -> order.add("then " + r + " " + e));
    assertThat(order).isEmpty();
    reply.complete("ok");

    CallSlots.<String>call(
        () -> {
          throw new IllegalStateException("shut down");
        },
        () -> order.add("done"),
        (r, e) -> order.add("then " + r + " " + e.getMessage()));

    assertThat(order).containsExactly("done", "then ok null", "done", "then null shut down");
  }

  @Test
  void call_thatFailsWithAnError_stillFreesItsSlotAndWakesItsCallers_thenThrowsIt() {
    List<String> order = new ArrayList<>();

    assertThatThrownBy(
            () ->
                CallSlots.<String>call(
                    () -> {
                      throw new NoClassDefFoundError("codec");
                    },
                    () -> order.add("done"),
                    (r, e) -> order.add("then " + e.getMessage())))
        .isInstanceOf(NoClassDefFoundError.class);

    assertThat(order).containsExactly("done", "then codec");
  }

  /** Every batch tried, in order, by a sender that throws {@code failure} on a "poison" batch. */
  private final List<List<String>> tried = new ArrayList<>();

  private CallSlots<String> poisonedBy(int maxBatch, Supplier<Throwable> failure) {
    return new CallSlots<>(
        1,
        maxBatch,
        item -> false,
        (batch, done) -> {
          tried.add(batch);
          if (batch.contains("poison")) {
            Throwable t = failure.get();
            if (t instanceof Error e) {
              throw e;
            }
            throw (RuntimeException) t;
          }
          open.add(done);
        });
  }

  @Test
  void aSenderThatThrows_doesNotKeepItsSlot() {
    CallSlots<String> slots = poisonedBy(8, () -> new AssertionError("sender bug"));

    assertThatThrownBy(() -> slots.submit("poison")).isInstanceOf(AssertionError.class);
    slots.submit("a"); // the only slot is free again: "a" goes out at once
    assertThat(tried).containsExactly(List.of("poison"), List.of("a"));

    slots.submit("b"); // the slot is "a"'s now
    assertThat(slots.queued()).isEqualTo(1);
    open.get(0).run();
    open.get(0).run(); // a second done from the same call frees nothing more
    assertThat(tried).containsExactly(List.of("poison"), List.of("a"), List.of("b"));
    slots.submit("c");
    assertThat(slots.queued()).isEqualTo(1);
  }

  @Test
  void itemsQueuedBehindASenderThatThrows_stillGoOut() {
    CallSlots<String> slots = poisonedBy(1, () -> new IllegalStateException("cannot encode"));
    slots.submit("a"); // holds the only slot
    slots.submit("poison");
    slots.submit("b");
    assertThat(slots.queued()).isEqualTo(2);

    // "a" ends: "poison" goes out and fails; "b", queued behind it, must not wait for a submit
    assertThatThrownBy(() -> open.get(0).run()).isInstanceOf(IllegalStateException.class);

    assertThat(tried).containsExactly(List.of("a"), List.of("poison"), List.of("b"));
    assertThat(slots.queued()).isZero();
  }

  @Test
  void slotsAndBatches_mustBeAtLeastOne() {
    assertThatThrownBy(() -> slots(0, 1, Set.of())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> slots(1, 0, Set.of())).isInstanceOf(IllegalArgumentException.class);
  }
}
