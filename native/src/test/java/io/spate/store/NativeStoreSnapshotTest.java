package io.spate.store;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.codec.testing.RandomWorkload;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots through the Java binding: an image written to off-heap memory and loaded into a
 * fresh store reads back as the reference model says and goes on applying alike; checksums agree
 * where content does and differ where it does not; damaged, foreign and misdirected images are
 * refused with the reason.
 */
class NativeStoreSnapshotTest
{
    private static final int BATCHES = 60;

    private final DatabaseSchema schema = StorePropertyTest.exampleSchema();

    @Test
    void shouldRoundTripThroughOffHeapMemoryAndGoOnApplyingAlike()
    {
        final RandomWorkload workload = new RandomWorkload(schema, 0x5EED_5A9L);
        try (StoreComparison comparison = new StoreComparison(schema, 1024);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 20);
            ApplyResults copyResults = new ApplyResults(1024);
            Arena arena = Arena.ofConfined())
        {
            for (int i = 0; i < BATCHES; i++)
            {
                comparison.apply(batch, 0, writeBatch(workload, batch), "batch " + i);
            }
            final NativeStore source = comparison.store();
            final MemorySegment image = snapshot(source, arena);

            try (NativeStore copy = NativeStore.open(schema))
            {
                copy.loadSnapshot(image.address(), image.byteSize());
                StoreComparison.assertSameState(schema, copy, comparison.reference(), "loaded");
                assertSameChecksums(source, copy, "loaded");
                assertEquals(-1, image.mismatch(snapshot(copy, arena)), "the copy's image is the source's");

                for (int i = 0; i < BATCHES; i++)
                {
                    final int length = writeBatch(workload, batch);
                    comparison.apply(batch, 0, length, "after the load, batch " + i);
                    final ApplyResults expected = comparison.results();
                    final int count = copy.apply(batch.address(), length, 0, copyResults);
                    assertEquals(expected.count(), count, "batch " + i);
                    for (int m = 0; m < count; m++)
                    {
                        assertEquals(expected.status(m), copyResults.status(m), "batch " + i + " message " + m);
                        assertEquals(expected.nodeId(m), copyResults.nodeId(m), "batch " + i + " message " + m);
                    }
                }
                StoreComparison.assertSameState(schema, copy, comparison.reference(), "after further batches");
                assertSameChecksums(source, copy, "after further batches");
            }
        }
    }

    @Test
    void checksumsShouldFollowContentNotHistory()
    {
        final TypeDefinition user = schema.type("User");
        try (NativeStore a = NativeStore.open(schema);
            NativeStore b = NativeStore.open(schema);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 16);
            ApplyResults results = new ApplyResults(64))
        {
            final RecordWriter writer = new RecordWriter(schema);
            assertEquals(a.checksum(user.typeId()), b.checksum(user.typeId()), "empty");

            // a writes the name in place (shorter), b moves it (longer than before): same content.
            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            writer.create(user, 1);
            writer.setString(user.field("name"), "Ada Lovelace");
            writer.update(user, 1);
            writer.setString(user.field("name"), "Ada");
            assertEquals(2, a.apply(batch.address(), writer.endBatch(), 0, results));
            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            writer.create(user, 1);
            writer.setString(user.field("name"), "A");
            writer.update(user, 1);
            writer.setString(user.field("name"), "Ada");
            assertEquals(2, b.apply(batch.address(), writer.endBatch(), 0, results));
            assertEquals(a.checksum(user.typeId()), b.checksum(user.typeId()), "arena placement does not count");

            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            writer.increment(user, 1, user.field("karma"), 1);
            assertEquals(1, b.apply(batch.address(), writer.endBatch(), 0, results));
            assertEquals(RecordStatus.OK.value(), results.status(0));
            assertNotEquals(a.checksum(user.typeId()), b.checksum(user.typeId()), "a field differs");

            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            writer.increment(user, 1, user.field("karma"), -1);
            writer.delete(user, 1);
            assertEquals(2, b.apply(batch.address(), writer.endBatch(), 0, results));
            assertNotEquals(a.checksum(user.typeId()), b.checksum(user.typeId()), "deleted");

            assertThrows(NativeStoreException.class, () -> a.checksum(999));
        }
    }

    @Test
    void shouldRefuseDamagedForeignAndMisdirectedImagesWithTheReason()
    {
        final RandomWorkload workload = new RandomWorkload(schema, 7);
        try (StoreComparison comparison = new StoreComparison(schema, 1024);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 20);
            Arena arena = Arena.ofConfined();
            NativeStore target = NativeStore.open(schema))
        {
            for (int i = 0; i < 10; i++)
            {
                comparison.apply(batch, 0, writeBatch(workload, batch), "batch " + i);
            }
            final NativeStore source = comparison.store();
            final MemorySegment image = snapshot(source, arena);
            final long length = image.byteSize();

            final NativeStoreException tooSmall = assertThrows(
                NativeStoreException.class, () -> source.writeSnapshot(image.address(), length - 1));
            assertTrue(tooSmall.getMessage().contains("buffer too small"), tooSmall.getMessage());

            assertRefused(target, image, length - 1, "truncated");
            assertRefused(target, image, 5, "truncated");

            final MemorySegment damaged = arena.allocate(length, 8);
            damaged.copyFrom(image);
            damaged.set(JAVA_BYTE, 0, (byte)'X');
            assertRefused(target, damaged, length, "snapshot damaged");
            damaged.copyFrom(image);
            // The first type's highest slot used (type header at 32, highest slot at +8): below its rows.
            damaged.set(JAVA_LONG_UNALIGNED, 32 + 8, 0L);
            assertRefused(target, damaged, length, "snapshot damaged");
            damaged.copyFrom(image);
            // Its live count (at +16) one more than its rows.
            damaged.set(JAVA_LONG_UNALIGNED, 32 + 16, damaged.get(JAVA_LONG_UNALIGNED, 32 + 16) + 1);
            assertRefused(target, damaged, length, "snapshot damaged");
            damaged.copyFrom(image);
            damaged.set(JAVA_BYTE, 8, (byte)3);
            assertRefused(target, damaged, length, "format version");

            final DatabaseSchema other = SchemaCompiler.compile(
                "{\"name\":\"other\",\"types\":[{\"name\":\"T\",\"fields\":[{\"name\":\"n\",\"type\":\"u32\"}]}]}", "other");
            try (NativeStore foreign = NativeStore.open(other))
            {
                assertRefused(foreign, image, length, "another schema");
                final MemorySegment foreignImage = snapshot(foreign, arena);
                assertRefused(target, foreignImage, foreignImage.byteSize(), "another schema");
            }

            // Every refusal left the target empty: the image still loads into it, then it is not empty.
            target.loadSnapshot(image.address(), length);
            StoreComparison.assertSameState(schema, target, comparison.reference(), "loaded after refusals");
            assertRefused(target, image, length, "not empty");
            assertRefused(source, image, length, "not empty");
        }
    }

    /**
     * A format 1 image (written before slots were reused) is refused as of another format version, whatever follows
     * its header, and leaves the target empty.
     */
    @Test
    void shouldRefuseAVersionOneImage()
    {
        try (NativeStore source = NativeStore.open(schema);
            NativeStore target = NativeStore.open(schema);
            Arena arena = Arena.ofConfined())
        {
            final MemorySegment image = snapshot(source, arena);
            assertEquals(2, image.get(JAVA_INT_UNALIGNED, 8), "this library writes format 2");
            image.set(JAVA_INT_UNALIGNED, 8, 1);
            assertRefused(target, image, image.byteSize(), "snapshot of a format version this library does not read");
            // Format 1's header was 32 bytes too, then per type a next id: the version is checked before any of it.
            final MemorySegment versionOne = arena.allocate(image.byteSize() + 64, 8);
            versionOne.copyFrom(image);
            versionOne.set(JAVA_LONG_UNALIGNED, 16, versionOne.byteSize());
            assertRefused(target, versionOne, versionOne.byteSize(), "format version");
            final MemorySegment empty = snapshot(source, arena);
            target.loadSnapshot(empty.address(), empty.byteSize());
        }
    }

    /**
     * Reused slots, later generations, skipped slots and retired slots: the image the store writes is the one the model
     * lays out from spate_store.h, the loaded copy lists the same free ids and takes the same ids as the source.
     */
    @Test
    void shouldRoundTripReusedSkippedAndRetiredSlots()
    {
        final TypeDefinition user = schema.type("User");
        final TypeDefinition counter = schema.type("Counter");
        final int userBits = ReferenceStore.slotBits(user.maxNodes());
        final long userMaxGeneration = ReferenceStore.maxGeneration(userBits);
        try (StoreComparison comparison = new StoreComparison(schema, 1024);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 20);
            Arena arena = Arena.ofConfined())
        {
            final RecordWriter writer = new RecordWriter(schema);
            writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
            for (int i = 0; i < 40; i++)
            {
                writer.create(user, 0);
                writer.setString(user.field("name"), "user " + i).setString(user.field("bio"), "b".repeat(i * 6));
                writer.create(counter, 0);
                writer.setLong(counter.field("hits"), i);
            }
            for (int slot = 2; slot <= 40; slot += 3)
            {
                writer.delete(user, slot);
                writer.delete(counter, slot);
            }
            writer.create(user, 1L << userBits | 5);            // slot 5 at generation 1
            writer.setString(user.field("name"), "reused");
            writer.create(user, 9L << userBits | 8);            // slot 8 at generation 9: 1..8 never issued
            writer.create(user, userMaxGeneration << userBits | 11);
            writer.delete(user, userMaxGeneration << userBits | 11); // slot 11 retired
            writer.create(counter, 5_000);                      // slots 41..4999 skipped
            writer.create(counter, 4_000);                      // one of them taken
            comparison.apply(batch, 0, writer.endBatch(), "setup");
            assertEquals(1, comparison.store().typeStats(user.typeId()).retiredSlots());
            comparison.assertSameState("before the snapshot");

            final MemorySegment image = snapshot(comparison.store(), arena);
            try (NativeStore copy = NativeStore.open(schema); ApplyResults copyResults = new ApplyResults(1024))
            {
                copy.loadSnapshot(image.address(), image.byteSize());
                StoreComparison.assertSameState(schema, copy, comparison.reference(), "loaded");
                for (final TypeDefinition type : schema.types())
                {
                    final List<Long> sourceIds = new ArrayList<>();
                    final List<Long> copyIds = new ArrayList<>();
                    comparison.store().freeIds(type.typeId(), sourceIds::add);
                    copy.freeIds(type.typeId(), copyIds::add);
                    assertEquals(sourceIds, copyIds, type.name());
                }

                // Both go on alike: reuse the free ids, newest first, then never-used slots.
                writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 2);
                for (final long id : comparison.reference().freeIds(user.typeId()).reversed())
                {
                    writer.create(user, id);
                    writer.setString(user.field("bio"), "again " + id);
                }
                for (int i = 0; i < 5; i++)
                {
                    writer.create(user, 0);
                    writer.create(counter, 0);
                }
                final int length = writer.endBatch();
                comparison.apply(batch, 0, length, "after the load");
                assertEquals(comparison.results().count(), copy.apply(batch.address(), length, 0, copyResults));
                for (int m = 0; m < copyResults.count(); m++)
                {
                    assertEquals(comparison.results().status(m), copyResults.status(m), "message " + m);
                    assertEquals(comparison.results().nodeId(m), copyResults.nodeId(m), "message " + m);
                    assertEquals(RecordStatus.OK.value(), copyResults.status(m), "message " + m);
                }
                comparison.assertSameState("source after the load");
                StoreComparison.assertSameState(schema, copy, comparison.reference(), "copy after the load");
            }
        }
    }

    private static void assertRefused(final NativeStore store, final MemorySegment image, final long length, final String reason)
    {
        final NativeStoreException ex = assertThrows(
            NativeStoreException.class, () -> store.loadSnapshot(image.address(), length));
        assertTrue(ex.getMessage().contains(reason), ex.getMessage() + " should say " + reason);
    }

    private static MemorySegment snapshot(final NativeStore store, final Arena arena)
    {
        final long length = store.snapshotLengthBytes();
        final MemorySegment image = arena.allocate(length, 8);
        assertEquals(length, store.writeSnapshot(image.address(), length));
        return image;
    }

    private void assertSameChecksums(final NativeStore expected, final NativeStore actual, final String context)
    {
        for (final TypeDefinition type : schema.types())
        {
            assertEquals(expected.checksum(type.typeId()), actual.checksum(type.typeId()), context + ": " + type.name());
        }
    }

    private static int writeBatch(final RandomWorkload workload, final OffHeapBuffer batch)
    {
        final int recordCount = 1 + workload.random().nextInt(200);
        return workload.writeBatch(batch.buffer(), 0, batch.capacityBytes(), recordCount,
            workload.random().nextInt(10) != 0, workload.random().nextBoolean());
    }
}
