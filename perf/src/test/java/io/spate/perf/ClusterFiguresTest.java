package io.spate.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClusterFiguresTest
{
    private static final long MS = 1_000_000L;

    @Test
    void readsTheProducersSummaryLine()
    {
        final Map<String, String> pairs = ClusterFigures.pairs("produce: records=300000 producer_acked=300000 " +
            "producer_failed=0 producer_unacked=0 records/s=19949 ack_p50_us=30670.8 ack_p99_us=2359296.0 " +
            "ack_p99.9_us=2413822.0 ack_max_us=2424307.7 producer_created=420000 producer_deleted=0 leader_changes=1 " +
            "resent_batches=256 duplicate_acks=0 alloc_bytes_per_record=0.038 producer_live User=420000");
        assertEquals(19_949, ClusterFigures.number(pairs, "records/s"));
        assertEquals(2_413_822.0, ClusterFigures.number(pairs, "ack_p99.9_us"));
        assertEquals(1, ClusterFigures.number(pairs, "leader_changes"));
        assertEquals(256, ClusterFigures.number(pairs, "resent_batches"));
        assertEquals(420_000, ClusterFigures.number(pairs, "User"));
        assertFalse(pairs.containsKey("producer_live"), "a word without '=' is no pair");
        assertTrue(Double.isNaN(ClusterFigures.number(pairs, "missing")));
        assertEquals(1_234_567, ClusterFigures.number(Map.of("n", "1,234,567"), "n"));
        assertTrue(Double.isNaN(ClusterFigures.number(Map.of("n", "many"), "n")));
    }

    @Test
    void findsTheLastLineWithAPrefix()
    {
        final List<ClusterProcess.Line> lines = List.of(
            line(1, "produce: sent=100 producer_acked=0 producer_failed=0 records/s=0"),
            line(2, "produce: records=10 producer_acked=10 records/s=5"),
            line(3, "produce: records=20 producer_acked=20 records/s=7"),
            line(4, "produce: sent=100 producer_acked=100"));
        assertEquals(7, ClusterFigures.number(ClusterFigures.lastLine(lines, ClusterFigures.SUMMARY_PREFIX), "records/s"));
        assertTrue(ClusterFigures.lastLine(lines, "node: ").isEmpty());
    }

    @Test
    void takesTheMedianOfTheNumbers()
    {
        assertEquals(2_000, ClusterFigures.median(List.of(3_000.0, 1_000.0, 2_000.0)));
        assertEquals(2_500, ClusterFigures.median(List.of(4_000.0, 1_000.0, 2_000.0, 3_000.0)));
        assertEquals(5, ClusterFigures.median(List.of(5.0)));
        assertEquals(1.5, ClusterFigures.median(Arrays.asList(Double.NaN, 1.0, null, 2.0)), "NaN and null left out");
        assertTrue(Double.isNaN(ClusterFigures.median(List.of())));
        assertTrue(Double.isNaN(ClusterFigures.median(List.of(Double.NaN))));
    }

    @Test
    void acksMoveAgainAtTheFirstLineAfterTheKillThatGrows()
    {
        final long killNs = 10_000 * MS;
        final List<ClusterProcess.Line> lines = List.of(
            line(100, "produce: warm-up done: measuring 200000 records"),
            line(9_000, "produce: sent=40000 producer_acked=39000 producer_failed=0 records/s=20000"),
            // After the kill: the acks of before it, then nothing, then growing again.
            line(10_010, "produce: sent=60000 producer_acked=58000 producer_failed=0 records/s=19000"),
            line(11_010, "produce: sent=80000 producer_acked=58000 producer_failed=0 records/s=0"),
            line(12_010, "node: unrelated line"),
            line(12_020, "produce: sent=100000 producer_acked=58000 producer_failed=0 records/s=0"),
            line(13_020, "produce: sent=120000 producer_acked=90000 producer_failed=0 records/s=32000"),
            line(14_020, "produce: sent=140000 producer_acked=130000 producer_failed=0 records/s=40000"));
        assertEquals(3_020, ClusterFigures.acksMovingFromProgressMs(lines, 100 * MS, killNs), 1e-9);
        // Lines before the producer's counts started again do not count.
        assertEquals(3_020, ClusterFigures.acksMovingFromProgressMs(lines, 11_500 * MS, killNs), 1e-9);
        assertTrue(Double.isNaN(ClusterFigures.acksMovingFromProgressMs(lines.subList(0, 5), 100 * MS, killNs)));
        assertEquals(130_000, ClusterFigures.ackedSince(lines, 100 * MS));
        assertEquals(0, ClusterFigures.ackedSince(lines, 20_000 * MS));
    }

    @Test
    void longestAckAfterAMomentComesFromTheIntervalsThatEndAfterIt(@TempDir final Path dir) throws Exception
    {
        final Path hlog = dir.resolve("election.hlog");
        final long startMs = 1_796_059_238_843L;
        try (PrintStream stream = new PrintStream(new FileOutputStream(hlog.toFile()), false, StandardCharsets.UTF_8))
        {
            final HistogramLogWriter writer = new HistogramLogWriter(stream);
            writer.outputLogFormatVersion();
            writer.outputStartTime(startMs);
            writer.setBaseTime(startMs);
            writer.outputLegend();
            // Before the kill: a 340 ms hiccup; the kill at +3,300 ms; the batches around it wait 2.42 s.
            writer.outputIntervalHistogram(interval(startMs, startMs + 1_000, 5 * MS, 340 * MS));
            writer.outputIntervalHistogram(interval(startMs + 1_000, startMs + 2_000, 5 * MS, 30 * MS));
            writer.outputIntervalHistogram(interval(startMs + 2_000, startMs + 3_000, 5 * MS));
            writer.outputIntervalHistogram(interval(startMs + 3_000, startMs + 4_000));
            writer.outputIntervalHistogram(interval(startMs + 4_000, startMs + 5_000, 2_424 * MS, 1_800 * MS, 6 * MS));
            writer.outputIntervalHistogram(interval(startMs + 5_000, startMs + 6_000, 900 * MS, 5 * MS));
        }
        assertEquals(2_424, ClusterFigures.longestAckAfterMs(hlog, startMs + 3_300), 2.5, "HdrHistogram's precision");
        assertEquals(2_424, ClusterFigures.longestAckAfterMs(hlog, startMs), 2.5, "the whole log");
        assertEquals(900, ClusterFigures.longestAckAfterMs(hlog, startMs + 5_500), 1.0, "the last interval only");
        assertTrue(Double.isNaN(ClusterFigures.longestAckAfterMs(hlog, startMs + 10_000)));
        assertTrue(Double.isNaN(ClusterFigures.longestAckAfterMs(dir.resolve("none.hlog"), startMs)));
    }

    @Test
    void aFollowerHasCaughtUpWhenItAppliedAllTheLeaderHas()
    {
        assertTrue(ClusterFigures.caughtUp(1_000, 50, 1_000, 50));
        assertTrue(ClusterFigures.caughtUp(1_100, 50, 1_000, 50), "the follower read after the leader may be ahead");
        assertFalse(ClusterFigures.caughtUp(900, 50, 1_000, 50));
        assertFalse(ClusterFigures.caughtUp(1_000, 49, 1_000, 50));
        assertFalse(ClusterFigures.caughtUp(-1, -1, -1, -1), "unknown positions (a member starting) are not caught up");
        assertFalse(ClusterFigures.caughtUp(1_000, -1, 1_000, -1));
    }

    @Test
    void ratesAndNumbersForTheReport()
    {
        assertEquals(50_000_000, ClusterFigures.perSecond(100_000_000, 2_000 * MS), 1e-6);
        assertEquals(1_000, ClusterFigures.perSecond(1, 0), 1e-9, "at least a millisecond");
        assertTrue(Double.isNaN(ClusterFigures.perSecond(1, -1)));
        assertEquals("1,234,568", ClusterFigures.whole(1_234_567.6));
        assertEquals("n/a", ClusterFigures.whole(Double.NaN));
        assertEquals("0.43", ClusterFigures.ratio(0.4321));
        assertEquals("n/a", ClusterFigures.ratio(Double.POSITIVE_INFINITY));
        assertEquals("| a | 1 |  |", ClusterFigures.row("a", "1", ""));
    }

    @Test
    void writesTheSummaryAsJson()
    {
        final Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("machine", "2 cpus, \"Linux\" amd64\\x");
        summary.put("quick", true);
        summary.put("records_per_s", 123_456L);
        summary.put("ratio", 0.123456);
        summary.put("missing", Double.NaN);
        summary.put("rate", 1.197657792E7);
        summary.put("count", 256.0);
        summary.put("error", "line one\nline two");
        assertEquals("""
            {
              "machine": "2 cpus, \\"Linux\\" amd64\\\\x",
              "quick": true,
              "records_per_s": 123456,
              "ratio": 0.123,
              "missing": null,
              "rate": 11976577.92,
              "count": 256,
              "error": "line one\\nline two"
            }
            """, ClusterFigures.json(summary));
        assertEquals("{\n}\n", ClusterFigures.json(Map.of()));
    }

    private static ClusterProcess.Line line(final long ms, final String text)
    {
        return new ClusterProcess.Line(ms * MS, text);
    }

    private static Histogram interval(final long startMs, final long endMs, final long... valuesNs)
    {
        final Histogram histogram = new Histogram(3_600_000 * MS, 3);
        for (final long value : valuesNs)
        {
            histogram.recordValue(value);
        }
        histogram.setStartTimeStamp(startMs);
        histogram.setEndTimeStamp(endMs);
        return histogram;
    }
}
