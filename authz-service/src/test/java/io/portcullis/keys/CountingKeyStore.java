package io.portcullis.keys;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/** A real {@link KeyStore} that counts the calls made to it (how many lookups reach the store). */
class CountingKeyStore implements KeyStore {
  final KeyStore delegate;
  final AtomicInteger finds = new AtomicInteger();
  final AtomicInteger recordUses = new AtomicInteger();
  final AtomicInteger changeReads = new AtomicInteger();

  CountingKeyStore(KeyStore delegate) {
    this.delegate = delegate;
  }

  @Override
  public boolean insert(StoredKey key) {
    return delegate.insert(key);
  }

  @Override
  public @Nullable StoredKey find(String id) {
    finds.incrementAndGet();
    return delegate.find(id);
  }

  @Override
  public List<StoredKey> list(@Nullable String client) {
    return delegate.list(client);
  }

  @Override
  public @Nullable StoredKey rotate(
      String id, KeyHash newSecret, Instant now, Instant previousValidUntil) {
    return delegate.rotate(id, newSecret, now, previousValidUntil);
  }

  @Override
  public @Nullable StoredKey revoke(String id, Instant at) {
    return delegate.revoke(id, at);
  }

  @Override
  public void recordUses(Map<String, Instant> lastUses) {
    recordUses.incrementAndGet();
    delegate.recordUses(lastUses);
  }

  @Override
  public List<KeyChange> changesAfter(long after, int limit) {
    changeReads.incrementAndGet();
    return delegate.changesAfter(after, limit);
  }

  @Override
  public long latestChange() {
    return delegate.latestChange();
  }
}
