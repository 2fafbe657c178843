package io.portcullis.audit;

/** What {@link AuditStore#append} did with a batch. */
public sealed interface AppendResult permits AppendResult.Appended, AppendResult.Diverged {

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
}
