package io.spate.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The arithmetic and text of {@code bin/spate bench --cluster}, apart from the processes it runs: reading the
 * producer's lines, the medians, the ack gap after a kill, catch-up rates, the markdown rows and the JSON.
 */
final class ClusterFigures
{
    /** How a produce progress line (once a second) and its summary line start. */
    static final String PROGRESS_PREFIX = "produce: sent=";
    static final String SUMMARY_PREFIX = "produce: records=";

    private ClusterFigures()
    {
    }

    /**
     * @param line {@code name: key=value key=value ...}.
     * @return the pairs after the first {@code ": "}, in their order; words without '=' are skipped.
     */
    static Map<String, String> pairs(final String line)
    {
        final Map<String, String> pairs = new LinkedHashMap<>();
        final int colon = line.indexOf(": ");
        for (final String word : line.substring(colon < 0 ? 0 : colon + 2).trim().split("\\s+"))
        {
            final int equals = word.indexOf('=');
            if (equals > 0)
            {
                pairs.put(word.substring(0, equals), word.substring(equals + 1));
            }
        }
        return pairs;
    }

    /**
     * @return the number under the key (digit-group commas allowed), NaN when there is no such key or it is
     * not a number.
     */
    static double number(final Map<String, String> pairs, final String key)
    {
        final String value = pairs.get(key);
        if (null == value)
        {
            return Double.NaN;
        }
        try
        {
            return Double.parseDouble(value.replace(",", ""));
        }
        catch (final NumberFormatException ex)
        {
            return Double.NaN;
        }
    }

    /**
     * @return the pairs of the last line starting with the prefix, empty when there is none.
     */
    static Map<String, String> lastLine(final List<ClusterProcess.Line> lines, final String prefix)
    {
        for (int i = lines.size() - 1; i >= 0; i--)
        {
            if (lines.get(i).text().startsWith(prefix))
            {
                return pairs(lines.get(i).text());
            }
        }
        return Map.of();
    }

    /**
     * @return the median of the values that are numbers (the mean of the middle two for an even count), NaN
     * when there are none.
     */
    static double median(final Collection<Double> values)
    {
        final List<Double> sorted = new ArrayList<>();
        for (final Double value : values)
        {
            if (null != value && !value.isNaN())
            {
                sorted.add(value);
            }
        }
        if (sorted.isEmpty())
        {
            return Double.NaN;
        }
        sorted.sort(Double::compare);
        final int middle = sorted.size() / 2;
        return sorted.size() % 2 == 1 ? sorted.get(middle) : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
    }

    /**
     * When the producer's acks moved again after a kill, from its progress lines (one a second, each with the
     * acks so far): the first line after the kill whose {@code producer_acked} is above the one of the line
     * before it, that line also after the kill. A bound with the lines' resolution: the acks moved again
     * between the two lines.
     *
     * @param fromNanos only lines after this one count (e.g. the "warm-up done" line), since the producer's
     *                  counts start again there.
     * @return ms from the kill to that line, NaN when the acks never moved again.
     */
    static double acksMovingFromProgressMs(final List<ClusterProcess.Line> lines, final long fromNanos,
        final long killNanos)
    {
        long previousAcked = -1;
        for (final ClusterProcess.Line line : lines)
        {
            if (line.nanos() <= Math.max(fromNanos, killNanos) || !line.text().startsWith(PROGRESS_PREFIX))
            {
                continue;
            }
            final double acked = number(pairs(line.text()), "producer_acked");
            if (Double.isNaN(acked))
            {
                continue;
            }
            if (previousAcked >= 0 && acked > previousAcked)
            {
                return (line.nanos() - killNanos) / 1e6;
            }
            previousAcked = (long)acked;
        }
        return Double.NaN;
    }

    /**
     * @return the producer's {@code producer_acked} in its last progress line after {@code fromNanos}, 0 when
     * there is none yet.
     */
    static long ackedSince(final List<ClusterProcess.Line> lines, final long fromNanos)
    {
        long acked = 0;
        for (final ClusterProcess.Line line : lines)
        {
            if (line.nanos() > fromNanos && line.text().startsWith(PROGRESS_PREFIX))
            {
                final double value = number(pairs(line.text()), "producer_acked");
                if (!Double.isNaN(value))
                {
                    acked = (long)value;
                }
            }
        }
        return acked;
    }

    /**
     * The longest ack latency the producer recorded in the intervals of its HdrHistogram interval log that end
     * at or after a moment: after a leader's kill, the wait of the batches sent around the kill, which were
     * answered only once a new leader took them (coordinated-omission corrected: from their intended send
     * times). Overstates kill-to-acks-moving by at most the ack latency before the kill.
     *
     * @param hlog    the producer's --histogram-file (ns values, absolute interval time stamps).
     * @param epochMs the moment (ms since the epoch).
     * @return ms, NaN when the file has no latency after the moment.
     */
    static double longestAckAfterMs(final Path hlog, final long epochMs)
    {
        if (!Files.exists(hlog))
        {
            return Double.NaN;
        }
        try
        {
            final HistogramLogReader reader = new HistogramLogReader(hlog.toFile());
            long maxNs = -1;
            while (reader.hasNext())
            {
                final Histogram interval = (Histogram)reader.nextIntervalHistogram();
                if (null == interval)
                {
                    break;
                }
                if (interval.getEndTimeStamp() >= epochMs && interval.getTotalCount() > 0)
                {
                    maxNs = Math.max(maxNs, interval.getMaxValue());
                }
            }
            return maxNs < 0 ? Double.NaN : maxNs / 1e6;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot read " + hlog + ": " + ex, ex);
        }
    }

    /**
     * @return true when a follower has applied all the leader has: the same commit position and records applied
     * (read while nothing is being written); false while either is unknown.
     */
    static boolean caughtUp(final long followerCommit, final long followerRecords, final long leaderCommit,
        final long leaderRecords)
    {
        return followerCommit >= 0 && leaderCommit >= 0 && followerRecords >= 0 && leaderRecords >= 0 &&
            followerCommit >= leaderCommit && followerRecords == leaderRecords;
    }

    /**
     * @return amount per second over a window of nanoseconds (at least one millisecond), NaN for no window.
     */
    static double perSecond(final double amount, final long windowNanos)
    {
        if (windowNanos < 0)
        {
            return Double.NaN;
        }
        return amount * 1e9 / Math.max(1_000_000L, windowNanos);
    }

    /**
     * @return "1,234" for a number, "n/a" for NaN.
     */
    static String whole(final double value)
    {
        return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%,.0f", value);
    }

    /**
     * @return "1.23" for a number, "n/a" for NaN or infinity.
     */
    static String ratio(final double value)
    {
        return Double.isNaN(value) || Double.isInfinite(value) ? "n/a" : String.format(Locale.ROOT, "%.2f", value);
    }

    /**
     * @return a markdown table row of the cells.
     */
    static String row(final String... cells)
    {
        return "| " + String.join(" | ", cells) + " |";
    }

    /**
     * @return the summary as a JSON object, one key a line: numbers as numbers (NaN and infinities as null),
     * booleans as booleans, everything else as an escaped string.
     */
    static String json(final Map<String, Object> summary)
    {
        final StringBuilder json = new StringBuilder("{\n");
        int i = 0;
        for (final Map.Entry<String, Object> entry : summary.entrySet())
        {
            json.append("  ").append(quote(entry.getKey())).append(": ").append(jsonValue(entry.getValue()))
                .append(++i < summary.size() ? ",\n" : "\n");
        }
        return json.append("}\n").toString();
    }

    private static String jsonValue(final Object value)
    {
        if (value instanceof Double number)
        {
            // Three decimals at most, never an exponent: 11976577.92, not 1.197657792E7.
            return number.isNaN() || number.isInfinite() ? "null" :
                new BigDecimal(number).setScale(3, RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
        }
        if (value instanceof Float number)
        {
            return jsonValue(number.doubleValue());
        }
        if (value instanceof Number || value instanceof Boolean)
        {
            return String.valueOf(value);
        }
        return null == value ? "null" : quote(String.valueOf(value));
    }

    private static String quote(final String text)
    {
        final StringBuilder quoted = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            switch (c)
            {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\r' -> quoted.append("\\r");
                case '\t' -> quoted.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        quoted.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        quoted.append(c);
                    }
                }
            }
        }
        return quoted.append('"').toString();
    }
}
