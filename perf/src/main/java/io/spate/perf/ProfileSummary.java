package io.spate.perf;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads async-profiler's collapsed stacks (one line per distinct stack: {@code frame;frame;... count},
 * the first frame the thread when profiled with {@code threads}) and prints where the samples went: the
 * share of each thread, then per busy thread the frames with the most samples inclusive and self. Used by
 * {@code bin/spate profile}; {@code java io.spate.perf.ProfileSummary FILE.collapsed [TOP]}.
 */
public final class ProfileSummary
{
    private static final int DEFAULT_TOP = 15;
    /** Threads with less than this share of the samples are listed, not broken down. */
    private static final double BREAKDOWN_MIN_SHARE = 0.05;
    private static final int MAX_FRAME_CHARS = 110;

    private final Map<String, Long> samplesByThread = new HashMap<>();
    private final Map<String, Map<String, Long>> inclusiveByThread = new HashMap<>();
    private final Map<String, Map<String, Long>> selfByThread = new HashMap<>();
    private long totalSamples;

    private ProfileSummary()
    {
    }

    /**
     * @param lines collapsed stacks.
     * @return the summary of them.
     * @throws IllegalArgumentException naming the first line that is not {@code stack count}.
     */
    static ProfileSummary of(final List<String> lines)
    {
        final ProfileSummary summary = new ProfileSummary();
        int lineNumber = 0;
        for (final String line : lines)
        {
            lineNumber++;
            if (line.isBlank())
            {
                continue;
            }
            final int space = line.lastIndexOf(' ');
            final long count;
            try
            {
                count = space > 0 ? Long.parseLong(line.substring(space + 1).trim()) : -1;
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("line " + lineNumber + " is not 'frame;frame;... count': " +
                    abbreviate(line), ex);
            }
            if (count < 0)
            {
                throw new IllegalArgumentException("line " + lineNumber + " is not 'frame;frame;... count': " +
                    abbreviate(line));
            }
            summary.add(line.substring(0, space).split(";"), count);
        }
        return summary;
    }

    private void add(final String[] frames, final long count)
    {
        final String thread = frames[0].startsWith("[") ? frames[0] : "[all threads]";
        totalSamples += count;
        samplesByThread.merge(thread, count, Long::sum);
        final Map<String, Long> inclusive = inclusiveByThread.computeIfAbsent(thread, (key) -> new HashMap<>());
        final Set<String> seen = new HashSet<>();
        for (final String frame : frames)
        {
            if (seen.add(frame))
            {
                inclusive.merge(frame, count, Long::sum);
            }
        }
        selfByThread.computeIfAbsent(thread, (key) -> new HashMap<>()).merge(frames[frames.length - 1], count, Long::sum);
    }

    long totalSamples()
    {
        return totalSamples;
    }

    /**
     * @return the samples of the thread whose name contains {@code name}, summed over every such thread.
     */
    long samplesOfThreadsNamed(final String name)
    {
        long samples = 0;
        for (final Map.Entry<String, Long> entry : samplesByThread.entrySet())
        {
            if (entry.getKey().contains(name))
            {
                samples += entry.getValue();
            }
        }
        return samples;
    }

    /**
     * @return the samples of stacks holding the frame, in the thread whose name contains {@code threadName}.
     */
    long inclusiveSamples(final String threadName, final String frame)
    {
        long samples = 0;
        for (final Map.Entry<String, Map<String, Long>> entry : inclusiveByThread.entrySet())
        {
            if (entry.getKey().contains(threadName))
            {
                samples += entry.getValue().getOrDefault(frame, 0L);
            }
        }
        return samples;
    }

    void print(final PrintStream out, final int top)
    {
        out.printf(Locale.ROOT, "%,d samples%n", totalSamples);
        final List<Map.Entry<String, Long>> threads = sortedByCount(samplesByThread);
        for (final Map.Entry<String, Long> thread : threads)
        {
            out.printf(Locale.ROOT, "%5.1f%%  %s%n", percent(thread.getValue(), totalSamples), thread.getKey());
        }
        for (final Map.Entry<String, Long> thread : threads)
        {
            final long threadSamples = thread.getValue();
            if ((double)threadSamples / totalSamples < BREAKDOWN_MIN_SHARE)
            {
                continue;
            }
            out.printf(Locale.ROOT, "%n%s: %,d samples; inclusive (share of the thread)%n", thread.getKey(), threadSamples);
            printTop(out, inclusiveByThread.get(thread.getKey()), threadSamples, top, thread.getKey());
            out.printf(Locale.ROOT, "  self%n");
            printTop(out, selfByThread.get(thread.getKey()), threadSamples, top, thread.getKey());
        }
    }

    private static void printTop(
        final PrintStream out, final Map<String, Long> counts, final long threadSamples, final int top, final String skip)
    {
        int printed = 0;
        for (final Map.Entry<String, Long> entry : sortedByCount(counts))
        {
            if (entry.getKey().equals(skip))
            {
                continue;
            }
            out.printf(Locale.ROOT, "  %5.1f%%  %s%n", percent(entry.getValue(), threadSamples), abbreviate(entry.getKey()));
            if (++printed == top)
            {
                break;
            }
        }
    }

    private static List<Map.Entry<String, Long>> sortedByCount(final Map<String, Long> counts)
    {
        final List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
        entries.sort((a, b) -> a.getValue().equals(b.getValue()) ?
            a.getKey().compareTo(b.getKey()) : Long.compare(b.getValue(), a.getValue()));
        return entries;
    }

    private static double percent(final long part, final long whole)
    {
        return 0 == whole ? 0 : 100.0 * part / whole;
    }

    private static String abbreviate(final String text)
    {
        return text.length() <= MAX_FRAME_CHARS ? text : text.substring(0, MAX_FRAME_CHARS - 3) + "...";
    }

    public static void main(final String[] args) throws IOException
    {
        if (args.length < 1 || args.length > 2 || args[0].startsWith("-"))
        {
            System.err.println("Usage: ProfileSummary FILE.collapsed [TOP]  (async-profiler collapsed stacks)");
            System.exit(2);
        }
        final int top = args.length == 2 ? Integer.parseInt(args[1]) : DEFAULT_TOP;
        of(Files.readAllLines(Path.of(args[0]))).print(System.out, top);
    }
}
