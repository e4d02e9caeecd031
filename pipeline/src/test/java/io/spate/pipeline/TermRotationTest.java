package io.spate.pipeline;

import io.aeron.AeronCounters;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every stream on Aeron's smallest term (64 KiB): ingress, each dispatch stream, applied and each
 * producer's response stream rotate many times in a run, so every offer meets ADMIN_ACTION again
 * and again. Four producers at once send random multi-type batches; every batch must be acked exactly
 * once, each ack must say what a single-threaded reference apply of the batches in the pipeline's
 * own ingress order says, record by record, and the final store must equal the reference. Both
 * threading modes, 1-4 workers. The rotation counts are printed and bounded below by what the data
 * volume guarantees. Replay a failure with its seed.
 */
class TermRotationTest
{
    static final int TERM_LENGTH = 64 * 1024;
    static final int PRODUCERS = 4;
    static final int RECORDS_PER_PRODUCER = 30_000;
    static final int MAX_RECORDS_PER_BATCH = 8;

    static Stream<Arguments> runs()
    {
        return Stream.of(PipelineConfiguration.ThreadingMode.values()).flatMap(mode ->
            IntStream.rangeClosed(1, 4).mapToObj(workers -> Arguments.of(mode, workers, 7_000L * workers + mode.ordinal())));
    }

    /** One producer's batches as sent, by correlation id. */
    record Sent(long sessionId, Map<Long, byte[]> batches, List<RawProducer.Ack> acks, long ingressPositionBytes)
    {
    }

    @ParameterizedTest(name = "{0} threading, {1} workers, seed {2}")
    @MethodSource("runs")
    void everyBatchShouldBeAckedOnceAndAppliedInIngressOrderAcrossRotations(
        final PipelineConfiguration.ThreadingMode mode, final int workers, final long seed) throws Exception
    {
        run(mode, workers, seed, false);
    }

    /**
     * The scheduler gives a batch to the lowest idle worker, so with random mixes worker 0 takes nearly
     * everything. Here each producer writes one type of its own and every apply takes a little longer:
     * while a worker holds one producer's type, another producer's batches go to another worker, and every
     * dispatch stream rotates too.
     */
    @ParameterizedTest(name = "dedicated threading, 4 workers, one type per producer, seed {0}")
    @MethodSource("seeds")
    void everyDispatchStreamShouldRotateWhenTypesSpreadOverWorkers(final long seed) throws Exception
    {
        final Map<Integer, long[]> rotations = run(PipelineConfiguration.ThreadingMode.DEDICATED, 4, seed, true);
        final int dispatchBase = new PipelineConfiguration().dispatchStreamIdBase();
        for (int w = 0; w < 4; w++)
        {
            final long[] stream = rotations.getOrDefault(dispatchBase + w, new long[4]);
            assertTrue(stream[3] >= 1, "dispatch stream of worker " + w + " rotated " + stream[3] + " times");
        }
    }

    static Stream<Long> seeds()
    {
        return Stream.of(91L, 92L);
    }

    private Map<Integer, long[]> run(
        final PipelineConfiguration.ThreadingMode mode, final int workers, final long seed, final boolean typePerProducer)
        throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final ConcurrentLinkedQueue<long[]> ingressOrder = new ConcurrentLinkedQueue<>();
        final FaultInjector observer = new FaultInjector()
        {
            public void onClientBatchAppended(final long clientId, final long correlationId)
            {
                ingressOrder.add(new long[]{ clientId, correlationId });
            }

            public void beforeApply(final int worker, final long batchSeq)
            {
                if (typePerProducer)
                {
                    // A slower store: a worker stays busy long enough for the other types to go elsewhere.
                    final long untilNs = System.nanoTime() + 50_000;
                    while (System.nanoTime() < untilNs)
                    {
                        Thread.onSpinWait();
                    }
                }
            }
        };
        try (PipelineHarness harness = new PipelineHarness(schema, d -> d.ipcTermBufferLength(TERM_LENGTH), c -> c
            .threadingMode(mode)
            .workerCount(workers)
            .modifyBufferBytes(32 << 10)
            .maxBatchBytes(4 << 10)
            .maxRecordsPerBatch(MAX_RECORDS_PER_BATCH)
            .faultInjector(observer)))
        {
            final ExecutorService executor = Executors.newFixedThreadPool(PRODUCERS);
            final List<Future<Sent>> futures = new ArrayList<>();
            for (int p = 0; p < PRODUCERS; p++)
            {
                final long clientId = seed * 10 + p + 1;
                final List<io.spate.codec.TypeDefinition> types = typePerProducer ?
                    List.of(schema.types().get(p % schema.types().size())) : null;
                futures.add(executor.submit(() -> produce(harness, clientId, seed + clientId, types)));
            }
            final Map<Long, Sent> byClient = new HashMap<>();
            for (final Future<Sent> future : futures)
            {
                final Sent sent = future.get();
                byClient.put(sent.sessionId(), sent);
            }
            executor.shutdown();
            harness.assertNoAgentError();

            // Exactly once: one ack per batch, none twice, none missing.
            for (final Sent sent : byClient.values())
            {
                final Set<Long> seen = new HashSet<>();
                for (final RawProducer.Ack ack : sent.acks())
                {
                    assertTrue(seen.add(ack.correlationId()), "client " + sent.sessionId() + " acked twice: " +
                        ack.correlationId());
                }
                assertEquals(sent.batches().keySet(), seen, "client " + sent.sessionId() + " acks");
            }

            // The reference applies the batches in the order the conductor took them in, each with the ids the
            // pipeline acked for its creates (AckedIds).
            final Map<String, RawProducer.Ack> ackByBatch = new HashMap<>();
            for (final Sent sent : byClient.values())
            {
                for (final RawProducer.Ack ack : sent.acks())
                {
                    ackByBatch.put(sent.sessionId() + "/" + ack.correlationId(), ack);
                }
            }
            final ReferenceStore reference = new ReferenceStore(schema);
            final Map<String, List<ReferenceStore.Outcome>> expected = new HashMap<>();
            int appended = 0;
            for (final long[] entry : ingressOrder)
            {
                final String key = entry[0] + "/" + entry[1];
                final UnsafeBuffer bytes = new UnsafeBuffer(byClient.get(entry[0]).batches().get(entry[1]));
                AckedIds.patchCreates(schema, bytes, 0, bytes.capacity(), ackByBatch.get(key));
                expected.put(key, reference.apply(bytes, 0, bytes.capacity()));
                appended++;
            }
            int batches = 0;
            for (final Sent sent : byClient.values())
            {
                batches += sent.batches().size();
                for (final RawProducer.Ack ack : sent.acks())
                {
                    final String key = sent.sessionId() + "/" + ack.correlationId();
                    final List<ReferenceStore.Outcome> outcomes = expected.get(key);
                    final String context = mode + " workers " + workers + " seed " + seed + " batch " + key;
                    assertTrue(null != outcomes, context + " was acked but never appended");
                    AckedIds.assertAckMatches(outcomes, ack, context);
                }
            }
            assertEquals(batches, appended, "every batch entered the pipeline once");
            System.out.println(mode + " workers " + workers + ": " + AckedIds.assertNoSlotSkipped(reference, "term rotation"));
            StoreComparison.assertSameState(schema, harness.store, reference, mode + " workers " + workers + " seed " + seed);
            assertEquals(0, harness.pipeline.counters().rejectedMessages().get());
            // The producers have gone (their sessions close as their publications go): none left an answer behind.
            assertEquals(0, harness.pipeline.counters().answersDiscarded().get());
            harness.assertNoAgentError();

            final Map<Integer, long[]> rotations = rotationsByStream(harness);
            System.out.println("term rotations (" + mode + ", " + workers + " workers), stream -> [publications, " +
                "min, max, total]: " + format(rotations));
            final PipelineConfiguration configuration = harness.pipeline.configuration();
            // Ingress (the producers' publications are closed by now: their own positions): every producer
            // sends at least 30,000 records of >= 30 bytes, >= 13 terms each.
            long fewestIngressRotations = Long.MAX_VALUE;
            for (final Sent sent : byClient.values())
            {
                fewestIngressRotations = Math.min(fewestIngressRotations, sent.ingressPositionBytes() / TERM_LENGTH);
            }
            System.out.println("ingress rotations, fewest of " + PRODUCERS + " producers: " + fewestIngressRotations);
            assertTrue(fewestIngressRotations >= 13, "ingress rotations " + fewestIngressRotations);
            long dispatchRotations = 0;
            for (int w = 0; w < workers; w++)
            {
                dispatchRotations += rotations.getOrDefault(configuration.dispatchStreamIdBase() + w, new long[4])[3];
            }
            // >= 120,000 records / 8 per batch = 15,000 dispatches of >= 96 framed bytes: >= 21 terms in all.
            assertTrue(dispatchRotations >= 21, "dispatch rotations " + dispatchRotations);
            assertTrue(rotations.get(configuration.appliedStreamId())[3] >= 10, "applied rotations");
            return rotations;
        }
    }

    private static Sent produce(
        final PipelineHarness harness, final long clientId, final long seed, final List<io.spate.codec.TypeDefinition> types)
    {
        final Map<Long, byte[]> batches = new TreeMap<>();
        try (RawProducer producer = harness.rawProducer(clientId))
        {
            final RandomWorkload workload = new RandomWorkload(harness.schema, seed, types);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[8 * 1024 - 64]);
            int records = 0;
            long correlationId = 0;
            while (records < RECORDS_PER_PRODUCER)
            {
                final int recordCount = 1 + workload.random().nextInt(MAX_RECORDS_PER_BATCH);
                final int length = workload.writeBatch(batch, 0, batch.capacity(), recordCount, true, false);
                correlationId++;
                // The producer stamps its session id into the header: keep the bytes as they are sent.
                batch.putLong(io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES +
                    io.spate.wire.BatchHeaderEncoder.sessionIdEncodingOffset(), producer.sessionId(),
                    java.nio.ByteOrder.LITTLE_ENDIAN);
                final byte[] bytes = new byte[length];
                batch.getBytes(0, bytes);
                batches.put(correlationId, bytes);
                producer.send(batch, 0, length);
                producer.poll();
                records += recordCount;
            }
            producer.awaitAcks((int)correlationId);
            return new Sent(producer.sessionId(), batches, new ArrayList<>(producer.acks), producer.sendPosition());
        }
    }

    /**
     * @return per stream id: publications, fewest and most rotations of one publication, total rotations.
     */
    static Map<Integer, long[]> rotationsByStream(final PipelineHarness harness)
    {
        final Map<Integer, long[]> byStream = new TreeMap<>();
        final CountersReader counters = harness.aeron.countersReader();
        counters.forEach((counterId, typeId, keyBuffer, label) ->
        {
            if (typeId == AeronCounters.DRIVER_PUBLISHER_POS_TYPE_ID)
            {
                final int streamId = keyBuffer.getInt(12);
                final long terms = counters.getCounterValue(counterId) / TERM_LENGTH;
                final long[] stats = byStream.computeIfAbsent(streamId, id -> new long[]{ 0, Long.MAX_VALUE, 0, 0 });
                stats[0]++;
                stats[1] = Math.min(stats[1], terms);
                stats[2] = Math.max(stats[2], terms);
                stats[3] += terms;
            }
        });
        return byStream;
    }

    static String format(final Map<Integer, long[]> rotations)
    {
        final StringBuilder text = new StringBuilder();
        rotations.forEach((streamId, stats) -> text.append(streamId).append("->[").append(stats[0]).append(", ")
            .append(stats[1]).append(", ").append(stats[2]).append(", ").append(stats[3]).append("] "));
        return text.toString();
    }
}
