package io.portcullis.audit;

/** What {@link AuditStore#append} did with a batch. */
public sealed interface AppendResult
    permits AppendResult.Appended, AppendResult.Diverged, AppendResult.Blocked {

  /**
   * The batch was committed.
   *
   * @param inserted records written
   * @param duplicates records skipped because the store already held them (a journal replay after a
   *     commit whose outcome was unknown)
   * @param head the chain's head after the batch
   */
  record Appended(int inserted, int duplicates, ChainHead head) implements AppendResult {}

  /**
   * Nothing was written: the record at {@code index} neither continues the stored chain nor is
   * already stored. The caller re-links the records from {@code index} on after {@code head} with
   * {@link RecordChain#link} and appends the batch again.
   *
   * @param index the first record that does not fit
   * @param head what that record must follow
   */
  record Diverged(int index, ChainHead head) implements AppendResult {}

  /**
   * Nothing was written: the store holds a row of this chain at {@code seq}, after its head, that
   * no append wrote (a row inserted by hand, or by a process writing under this instance id without
   * the chain's lock). Every record continuing the chain would run into it, whatever it is linked
   * after, so re-linking cannot help; the store neither overwrites nor skips the row. {@link
   * AuditStore#verify} reports it ("lies after the chain head"). Appends succeed again once the row
   * is deleted.
   *
   * @param seq the first such row's {@code seq}
   * @param head the chain's head, which does not cover that row
   */
  record Blocked(long seq, ChainHead head) implements AppendResult {}
}
