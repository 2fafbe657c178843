package io.portcullis.limit;

import java.util.List;
import java.util.Objects;

/**
 * One {@code limits:} entry of a segment or rule, compiled.
 *
 * @param name the limit's name (unique within its segment or rule)
 * @param scope where it was declared ({@code segment/partners} or {@code
 *     segment/partners/rule/create-order}); part of every bucket key so that two limits with the
 *     same name never share a bucket
 * @param key the request attributes that together name the bucket
 * @param kind a GCRA rate or a calendar quota
 */
public record LimitDefinition(String name, String scope, List<LimitKey> key, LimitKind kind) {
  public LimitDefinition {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(scope, "scope");
    key = List.copyOf(key);
    Objects.requireNonNull(kind, "kind");
  }

  /**
   * The state key of one of this limit's buckets: scope, name and the request's key values ({@code
   * segment/partners/per-key|key_7Hq2}). Two limits never share a bucket, even with the same name.
   */
  public String bucketId(String bucket) {
    return scope + '/' + name + '|' + bucket;
  }
}
