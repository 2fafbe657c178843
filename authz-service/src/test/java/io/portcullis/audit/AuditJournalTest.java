package io.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.portcullis.proto.v1.DecisionRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditJournalTest {
  @TempDir Path dir;

  private static List<DecisionRecord> records(int n) {
    return AuditStoreContract.linked("pc-1", n, ChainHead.GENESIS);
  }

  @Test
  void append_thenReopen_readsEveryRecordInOrder() throws IOException {
    Path file = dir.resolve("j/pc-1.journal");
    List<DecisionRecord> rs = records(5);
    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.append(rs.subList(0, 2), Long.MAX_VALUE)).isEqualTo(2);
      assertThat(j.append(rs.subList(2, 5), Long.MAX_VALUE)).isEqualTo(3);
    }

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.entries()).isEqualTo(5);
      assertThat(j.last()).isEqualTo(rs.get(4));
      AuditJournal.Chunk first = j.read(j.start(), 3);
      AuditJournal.Chunk rest = j.read(first.next(), 10);
      assertThat(first.records()).containsExactlyElementsOf(rs.subList(0, 3));
      assertThat(rest.records()).containsExactlyElementsOf(rs.subList(3, 5));
      assertThat(j.read(rest.next(), 10).records()).isEmpty();
    }
  }

  @Test
  void open_newJournalAndItsDirectory_areOwnerOnly_anExistingDirectoryKeepsItsMode()
      throws IOException {
    // Journaled records hold principals, client addresses and paths, like the store.
    Path file = dir.resolve("data/audit-journal/pc-1.journal");
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(records(1), Long.MAX_VALUE);
    }

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())))
        .isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("data"))))
        .isEqualTo("rwx------");

    Path shared = Files.createDirectories(dir.resolve("shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-x---"));
    try (AuditJournal j = AuditJournal.open(shared.resolve("pc-2.journal"))) {
      j.append(records(1), Long.MAX_VALUE);
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shared)))
        .as("the operator's directory")
        .isEqualTo("rwxr-x---");
  }

  @Test
  void open_tornLastEntry_isCutAndEarlierEntriesSurvive() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(3);
    long intactSize;
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs, Long.MAX_VALUE);
      intactSize = j.sizeBytes();
    }
    // A crash in the middle of the next write: a length prefix and half a payload.
    byte[] next = records(4).get(3).toByteArray();
    byte[] torn =
        ByteBuffer.allocate(8 + next.length / 2)
            .putInt(next.length)
            .putInt(0x1234)
            .put(next, 0, next.length / 2)
            .array();
    Files.write(file, torn, StandardOpenOption.APPEND);

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.recoveredBytes()).isEqualTo(torn.length);
      assertThat(j.cutRecords()).isEqualTo(1);
      assertThat(j.sizeBytes()).isEqualTo(intactSize);
      assertThat(j.read(j.start(), 10).records()).containsExactlyElementsOf(rs);
    }
    assertThat(Files.size(file)).isEqualTo(intactSize);
  }

  @Test
  void open_tornTailOfSeveralEntries_countsEachEntryThatBeganInIt() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(5);
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs.subList(0, 2), Long.MAX_VALUE);
      assertThat(j.cutRecords()).isZero();
    }
    // A batch of three torn by a crash: two entries whose payload pages did not all reach the
    // disk (their CRCs fail), the third cut off. No valid entry follows, so all three are cut.
    ByteBuffer tail = ByteBuffer.allocate(64 * 1024);
    for (int i = 2; i < 5; i++) {
      byte[] p = rs.get(i).toByteArray();
      tail.putInt(p.length).putInt(crc(p) ^ (i < 4 ? 1 : 0));
      tail.put(p, 0, i == 4 ? p.length / 2 : p.length);
    }
    Files.write(
        file, java.util.Arrays.copyOf(tail.array(), tail.position()), StandardOpenOption.APPEND);

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.cutRecords()).isEqualTo(3);
      assertThat(j.read(j.start(), 10).records()).containsExactlyElementsOf(rs.subList(0, 2));
    }
  }

  private static int crc(byte[] payload) {
    java.util.zip.CRC32C c = new java.util.zip.CRC32C();
    c.update(payload);
    return (int) c.getValue();
  }

  @Test
  void open_corruptedEntry_cutsFromThatEntryOn() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(3);
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs, Long.MAX_VALUE);
    }
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 3] ^= 0x55; // inside the last payload: its CRC no longer matches
    Files.write(file, bytes);

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.read(j.start(), 10).records()).containsExactlyElementsOf(rs.subList(0, 2));
      assertThat(j.last()).isEqualTo(rs.get(1));
    }
  }

  /** The offset of entry {@code index} in a journal holding {@code rs} from its start. */
  private static int offsetOf(List<DecisionRecord> rs, int index) {
    int pos = 8;
    for (DecisionRecord r : rs.subList(0, index)) {
      pos += 8 + r.getSerializedSize();
    }
    return pos;
  }

  @Test
  void open_damagedPayloadOfTheFirstEntry_skipsItAndRecoversTheEntriesAfterIt() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(3);
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs, Long.MAX_VALUE);
    }
    byte[] bytes = Files.readAllBytes(file);
    long size = bytes.length;
    bytes[offsetOf(rs, 1) - 3] ^= 0x55; // inside the first payload: its CRC no longer matches
    Files.write(file, bytes);

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.recoveredBytes()).isZero();
      assertThat(j.damage()).containsExactly(new AuditJournal.Damage(8, offsetOf(rs, 1) - 8, 1));
      assertThat(j.entries()).isEqualTo(2);
      assertThat(j.last()).isEqualTo(rs.get(2));
      AuditJournal.Chunk chunk = j.read(j.start(), 10);
      assertThat(chunk.records()).containsExactlyElementsOf(rs.subList(1, 3));
      assertThat(chunk.next()).isEqualTo(size);
    }
  }

  @Test
  void open_damagedLengthOfAnEntry_resynchronisesOnTheNextValidEntry() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(4);
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs, Long.MAX_VALUE);
    }
    byte[] bytes = Files.readAllBytes(file);
    bytes[offsetOf(rs, 1)] = 0x7f; // entry 2's length now points far past the end of the file
    Files.write(file, bytes);

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.damage())
          .containsExactly(
              new AuditJournal.Damage(offsetOf(rs, 1), offsetOf(rs, 2) - offsetOf(rs, 1), 1));
      assertThat(j.read(j.start(), 10).records()).containsExactly(rs.get(0), rs.get(2), rs.get(3));
      // Appends after the damage are read as well.
      List<DecisionRecord> more =
          AuditStoreContract.linked("pc-1", 1, new ChainHead(4, rs.get(3).getHash()));
      j.append(more, Long.MAX_VALUE);
      assertThat(j.read(j.start(), 10).records()).hasSize(4).endsWith(more.get(0));
    }
  }

  @Test
  void open_zeroedTail_isCutAsTorn_notReadAsEmptyRecords() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    List<DecisionRecord> rs = records(2);
    long intactSize;
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(rs, Long.MAX_VALUE);
      intactSize = j.sizeBytes();
    }
    Files.write(file, new byte[64], StandardOpenOption.APPEND); // an extent never written

    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.recoveredBytes()).isEqualTo(64);
      assertThat(j.cutRecords()).as("lost, however many").isEqualTo(1);
      assertThat(j.damage()).isEmpty();
      assertThat(j.read(j.start(), 10).records()).containsExactlyElementsOf(rs);
    }
    assertThat(Files.size(file)).isEqualTo(intactSize);
  }

  @Test
  void append_beyondMaxBytes_writesOnlyTheRecordsThatFit() throws IOException {
    try (AuditJournal j = AuditJournal.open(dir.resolve("pc-1.journal"))) {
      List<DecisionRecord> rs = records(10);
      long three = 0;
      for (DecisionRecord r : rs.subList(0, 3)) {
        three += 8 + r.getSerializedSize();
      }

      int written = j.append(rs, j.sizeBytes() + three + rs.get(3).getSerializedSize() / 2);

      assertThat(written).isEqualTo(3);
      assertThat(j.read(j.start(), 10).records()).containsExactlyElementsOf(rs.subList(0, 3));
    }
  }

  @Test
  void clear_emptiesTheJournal() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    try (AuditJournal j = AuditJournal.open(file)) {
      j.append(records(2), Long.MAX_VALUE);
      j.clear();
      assertThat(j.isEmpty()).isTrue();
      assertThat(j.last()).isNull();
      assertThat(j.read(j.start(), 10).records()).isEmpty();
    }
    try (AuditJournal j = AuditJournal.open(file)) {
      assertThat(j.entries()).isZero();
    }
  }

  @Test
  void open_whileAnotherHolderHasIt_fails() throws IOException {
    Path file = dir.resolve("pc-1.journal");
    try (AuditJournal j = AuditJournal.open(file)) {
      assertThatThrownBy(() -> AuditJournal.open(file))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("in use");
    }
  }

  @Test
  void open_fileThatIsNotAJournal_fails() throws IOException {
    Path file = dir.resolve("other.journal");
    Files.writeString(file, "hello " + Instant.EPOCH);
    assertThatThrownBy(() -> AuditJournal.open(file)).hasMessageContaining("not an audit journal");
  }
}
