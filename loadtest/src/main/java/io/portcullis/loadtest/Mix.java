package io.portcullis.loadtest;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The requests of a scenario: which request number {@code seq} sends and which answers it accepts.
 * A wrong answer (say an allow where a deny was expected) counts as an error, not as a success.
 *
 * @param <R> the request type (a protobuf message, an HTTP request)
 */
interface Mix<R> {

  Probe<R> probe(long seq);

  /** How many distinct probes the mix cycles through. */
  int size();

  /**
   * One request and the answers it accepts.
   *
   * @param label the class of request, for the mix description ({@code allow}, {@code
   *     deny:no_segment}, ...)
   */
  record Probe<R>(String label, R request, Set<String> accept) {
    public Probe {
      accept = Set.copyOf(accept);
    }

    boolean accepts(String outcome) {
      return accept.contains(outcome);
    }
  }

  /** Cycles through {@code probes} in a fixed shuffled order (seeded, so runs are repeatable). */
  static <R> Mix<R> cycle(List<Probe<R>> probes) {
    List<Probe<R>> order = new ArrayList<>(probes);
    Collections.shuffle(order, new Random(42));
    @SuppressWarnings("unchecked")
    Probe<R>[] array = order.toArray(new Probe[0]);
    return new Mix<>() {
      @Override
      public Probe<R> probe(long seq) {
        return array[(int) (seq % array.length)];
      }

      @Override
      public int size() {
        return array.length;
      }
    };
  }

  /**
   * Each probe once, in order (unique tokens); past the end it wraps, which {@link Scenarios}
   * avoids by making enough.
   */
  static <R> Mix<R> unique(List<Probe<R>> probes) {
    @SuppressWarnings("unchecked")
    Probe<R>[] array = probes.toArray(new Probe[0]);
    return new Mix<>() {
      @Override
      public Probe<R> probe(long seq) {
        return array[(int) (seq % array.length)];
      }

      @Override
      public int size() {
        return array.length;
      }
    };
  }

  /**
   * Weighted classes: {@code weights[i]} requests of class {@code i} per hundred, interleaved in a
   * fixed shuffled order; each class walks through its own probes one per use, so a class of many
   * distinct probes (addresses, tokens) spreads evenly instead of repeating one probe in bursts.
   */
  static <R> Mix<R> weighted(List<List<Probe<R>>> classes, int[] weights) {
    List<Integer> slots = new ArrayList<>();
    for (int c = 0; c < classes.size(); c++) {
      for (int w = 0; w < weights[c]; w++) {
        slots.add(c);
      }
    }
    Collections.shuffle(slots, new Random(7));
    int[] slot = slots.stream().mapToInt(Integer::intValue).toArray();
    int[] occurrence = new int[slot.length];
    int[] seen = new int[classes.size()];
    for (int i = 0; i < slot.length; i++) {
      occurrence[i] = seen[slot[i]]++;
    }
    int total = classes.stream().mapToInt(List::size).sum();
    return new Mix<>() {
      @Override
      public Probe<R> probe(long seq) {
        int i = (int) (seq % slot.length);
        int c = slot[i];
        List<Probe<R>> probes = classes.get(c);
        long use = (seq / slot.length) * weights[c] + occurrence[i];
        return probes.get((int) (use % probes.size()));
      }

      @Override
      public int size() {
        return total;
      }
    };
  }
}
