package io.spate.cli;

import io.aeron.CncFileDescriptor;
import io.spate.pipeline.PipelineCounters;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.spate.cli.JvmProcess.longValue;
import static io.spate.cli.JvmProcess.pairs;
import static io.spate.cli.ProcessScope.EXIT_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With a driver, a pipeline and a producer in their own JVMs: {@code spate stat --once} shows a row
 * per worker and the conductor's row; the counters' labels are readable from the CnC file by yet
 * another process (this one) the way AeronStat reads them; {@code spate get} and {@code spate count}
 * read nodes back through the pipeline.
 */
@Timeout(120)
class StatAndReadTest
{
    private static final int RECORDS = 20_000;

    private ProcessScope scope;

    @BeforeEach
    void before()
    {
        scope = new ProcessScope();
    }

    @AfterEach
    void after()
    {
        scope.close();
    }

    @Test
    void statShowsWorkersAndConductorAndReadsGetNodesBack() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-stat-");
        final String stream = "2501";
        scope.driver(dir);
        scope.pipeline("--dir", dir, "--workers", "2", "--buffer-bytes", Integer.toString(8 << 20),
            "--ingress-stream", stream);
        // Creates only: ids 1..n of every type are live afterwards.
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", Integer.toString(RECORDS), "--ops", "create:100", "--seed", "3");
        assertEquals(0, producer.awaitExit(EXIT_TIMEOUT), producer.output());
        final Map<String, String> live =
            pairs(producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5)), "producer_live");

        final JvmProcess stat = scope.start("stat", "io.spate.cli.StatMain", "--dir", dir, "--once",
            "--interval-ms", "200");
        assertEquals(0, stat.awaitExit(EXIT_TIMEOUT), stat.output());
        final List<String> lines = stat.lines();
        assertTrue(lines.stream().anyMatch((line) -> line.startsWith("stat: ") && line.contains("workers=2")),
            stat.output());
        long applied = 0;
        for (int worker = 0; worker < 2; worker++)
        {
            final String prefix = "  worker " + worker + ": ";
            final String row = lines.stream().filter((line) -> line.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + prefix + "\n" + stat.output()));
            final Map<String, String> values = pairs(row, null);
            assertTrue(values.keySet().containsAll(List.of("position", "done_batch", "records/s", "applied", "errors")), row);
            assertEquals(0, longValue(values, "errors"), row);
            applied += longValue(values, "applied");
        }
        assertEquals(RECORDS, applied, stat.output());
        final String conductor = lines.stream().filter((line) -> line.startsWith("  conductor: ")).findFirst()
            .orElseThrow(() -> new AssertionError("no conductor row\n" + stat.output()));
        final Map<String, String> values = pairs(conductor, null);
        assertEquals(RECORDS, longValue(values, "records_in"), conductor);
        // One ack per client batch of 100; the counter also counts the pipeline's other answers (the session's).
        assertTrue(longValue(values, "acks") >= RECORDS / 100, conductor);
        for (final String key : List.of("batches", "buffer_free_bytes", "copy_mode", "back_pressure", "rejected"))
        {
            longValue(values, key);
        }
        // What the store holds per type: the live nodes the producer created (creates only: no free slot yet).
        for (final String type : List.of("User", "Post", "Follow", "Counter"))
        {
            final String prefix = "  store " + type + ": ";
            final String row = lines.stream().filter((line) -> line.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + prefix + "\n" + stat.output()));
            final Map<String, String> store = pairs(row, null);
            assertEquals(longValue(live, type), longValue(store, "live"), row);
            assertEquals(0, longValue(store, "free_slots"), row);
            assertEquals(longValue(store, "arena_reserved_bytes"),
                longValue(store, "arena_live_bytes") + longValue(store, "arena_free_bytes"), row);
            longValue(store, "compactions");
        }

        assertCountersReadableLikeAeronStat(dir);

        // Reads through the pipeline.
        final JvmProcess get = scope.start("get", "io.spate.cli.ReadMain", "get", "User", "1", "--schema", scope.schema,
            "--dir", dir, "--stream", stream);
        assertEquals(0, get.awaitExit(EXIT_TIMEOUT), get.output());
        final String node = get.lines().get(get.lines().size() - 1);
        assertTrue(node.startsWith("User#1 age="), node);
        assertTrue(node.matches(".* name=\"p\\d+\" .*"), "strings quoted: " + node);
        final JvmProcess missing = scope.start("get-missing", "io.spate.cli.ReadMain", "get", "Post",
            Long.toString(longValue(live, "Post") + 1), "--schema", scope.schema, "--dir", dir, "--stream", stream);
        assertEquals(1, missing.awaitExit(EXIT_TIMEOUT), missing.output());
        assertTrue(missing.lines().stream().anyMatch(line -> line.equals("not found: deleted") ||
            line.equals("not found: never existed")), missing.output());
        assertEquals(longValue(live, "Follow"), scope.count(dir, Integer.parseInt(stream), "Follow"));
    }

    /**
     * Maps the driver's CnC file from this process, as AeronStat does, and finds Spate's counters by
     * type id with their labels.
     */
    private static void assertCountersReadableLikeAeronStat(final String dir)
    {
        final MappedByteBuffer cnc = IoUtil.mapExistingFile(
            new File(dir, CncFileDescriptor.CNC_FILE), FileChannel.MapMode.READ_ONLY, "cnc");
        try
        {
            final DirectBuffer metaData = CncFileDescriptor.createMetaDataBuffer(cnc);
            CncFileDescriptor.checkVersion(metaData.getInt(CncFileDescriptor.cncVersionOffset(0)));
            final CountersReader counters = new CountersReader(
                CncFileDescriptor.createCountersMetaDataBuffer(cnc, metaData),
                CncFileDescriptor.createCountersValuesBuffer(cnc, metaData),
                StandardCharsets.US_ASCII);
            final Map<String, Long> byLabel = new HashMap<>();
            counters.forEach((counterId, typeId, keyBuffer, label) ->
            {
                if (typeId >= PipelineCounters.WORKER_POSITION_TYPE_ID &&
                    typeId <= PipelineCounters.CONDUCTOR_BARRIER_DISPATCHES_TYPE_ID)
                {
                    assertEquals(label, counters.getCounterLabel(counterId));
                    byLabel.put(label, counters.getCounterValue(counterId));
                }
            });
            for (final String label : List.of("spate worker 0 position (bytes applied)", "spate worker 1 done batch (seq)",
                "spate worker 1 records applied", "spate conductor records in", "spate conductor answers sent (acks, read and connect answers)",
                "spate conductor modify buffer bytes free"))
            {
                assertTrue(byLabel.containsKey(label), "label '" + label + "' in " + byLabel.keySet());
            }
            assertEquals(RECORDS, byLabel.get("spate conductor records in"));
            assertTrue(byLabel.get("spate worker 0 position (bytes applied)") > 0 ||
                byLabel.get("spate worker 1 position (bytes applied)") > 0, byLabel.toString());
        }
        finally
        {
            IoUtil.unmap(cnc);
        }
    }
}
