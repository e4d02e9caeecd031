package io.spate.pipeline;

import io.aeron.ExclusivePublication;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.wire.BatchAppliedEncoder;
import io.spate.wire.DispatchEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Another process on the same driver writes what it likes: a Connect crafted to make a decoder read
 * past the message, a Dispatch on a worker's stream, a fake "applied" report. The first is refused
 * and counted (no stack trace, no agent error); nobody reads the stranger's dispatch (the worker's
 * subscription names the conductor's session, so the stranger's publication stays unconnected); the fake report is refused by session id. The
 * pipeline goes on and a real producer's records all apply.
 */
class HostileNeighbourTest
{
    @Test
    void forgedMessagesShouldChangeNothing()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            RawProducer hostile = harness.rawProducer(666);
            SpateClient good = harness.client())
        {
            final PipelineCounters counters = harness.pipeline.counters();
            final PipelineConfiguration configuration = harness.pipeline.configuration();
            final long rejectedBefore = counters.rejectedMessages().get();

            // 1. A 40-byte Connect whose header claims a block far longer than the message.
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[512]);
            buffer.putShort(0, (short)0x7FFF, ByteOrder.LITTLE_ENDIAN);
            buffer.putShort(2, (short)20, ByteOrder.LITTLE_ENDIAN);
            buffer.putShort(4, (short)1701, ByteOrder.LITTLE_ENDIAN);
            buffer.putShort(6, (short)0, ByteOrder.LITTLE_ENDIAN);
            buffer.putInt(8, 40, ByteOrder.LITTLE_ENDIAN);
            hostile.send(buffer, 0, 40);
            RawProducer.await(() -> counters.rejectedMessages().get() == rejectedBefore + 1, "the crafted Connect refused");

            // 2. A Dispatch on worker 0's stream and a fake applied report, from publications of a stranger.
            final MessageHeaderEncoder header = new MessageHeaderEncoder();
            try (ExclusivePublication dispatch = harness.aeron.addExclusivePublication(
                "aeron:ipc", configuration.dispatchStreamIdBase());
                ExclusivePublication applied = harness.aeron.addExclusivePublication(
                    "aeron:ipc", configuration.appliedStreamId()))
            {
                final DispatchEncoder dispatchEncoder = new DispatchEncoder().wrapAndApplyHeader(buffer, 0, header)
                    .batchSeq(1).offsetBytes(0).lengthBytes(64).recordCount(1).dispatchTimeNs(0);
                dispatchEncoder.barriersCount(0);
                dispatchEncoder.putPayload(new UnsafeBuffer(new byte[0]), 0, 0);
                final int dispatchLength = MessageHeaderEncoder.ENCODED_LENGTH + dispatchEncoder.encodedLength();
                header.frameLengthBytes(dispatchLength);
                // The worker's subscription names the conductor's session: the stranger's image never joins it.
                assertEquals(io.aeron.Publication.NOT_CONNECTED, dispatch.offer(buffer, 0, dispatchLength));

                final BatchAppliedEncoder appliedEncoder = new BatchAppliedEncoder().wrapAndApplyHeader(buffer, 0, header)
                    .batchSeq(1).recordCount(1).worker(0).applyStartNs(0).applyEndNs(0);
                appliedEncoder.failuresCount(1).next().recordIndex(0).status(RecordStatus.MALFORMED);
                final int appliedLength = MessageHeaderEncoder.ENCODED_LENGTH + appliedEncoder.encodedLength();
                header.frameLengthBytes(appliedLength);
                offer(applied, buffer, appliedLength);
                RawProducer.await(() -> counters.rejectedMessages().get() == rejectedBefore + 2,
                    "the fake applied report refused");
                assertTrue(!dispatch.isConnected(), "no subscriber reads the stranger's dispatch stream");
            }

            // 3. Real work goes on, ids from 1.
            for (int i = 0; i < 100; i++)
            {
                good.create(user);
                good.setLong(user.field("age"), i);
            }
            final var result = good.flushAsync();
            assertTrue(good.awaitAcks(30_000));
            assertTrue(result.join().isOk(), result.join().toString());
            assertEquals(1, result.join().createdId(0));
            assertEquals(100, good.count(user));
            assertEquals(0, counters.worker(0).errors().get() + counters.worker(1).errors().get());
            assertNull(harness.pipeline.fatalError());
            harness.assertNoAgentError();
        }
    }

    private static void offer(final ExclusivePublication publication, final UnsafeBuffer buffer, final int length)
    {
        RawProducer.await(publication::isConnected, "a subscriber on stream " + publication.streamId());
        RawProducer.await(() -> publication.offer(buffer, 0, length) > 0, "offer on stream " + publication.streamId());
    }
}
