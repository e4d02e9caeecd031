package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.archive.client.AeronArchive;
import io.aeron.archive.codecs.SourceLocation;
import io.aeron.archive.status.RecordingPos;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers for the driver tests.
 */
final class DriverTesting
{
    static final int SMALL_TERM_LENGTH = 64 * 1024;
    /** The channel tests record: exclusive IPC publications with small terms. */
    static final String RECORDED_CHANNEL = "aeron:ipc?term-length=64k";
    /** A fail-safe against a hang, never a measurement. */
    static final long AWAIT_TIMEOUT_MS = 10_000;

    private DriverTesting()
    {
    }

    /**
     * @return a directory name under {@code parent} no test has used yet.
     */
    static String uniqueDir(final Path parent)
    {
        return parent.resolve("aeron-" + UUID.randomUUID()).toString();
    }

    /**
     * @return a configuration for a quick test driver (small terms) in a fresh directory under {@code parent}.
     */
    static DriverConfiguration testConfiguration(final Path parent)
    {
        return new DriverConfiguration()
            .aeronDirectoryName(uniqueDir(parent))
            .ipcTermBufferLength(SMALL_TERM_LENGTH)
            .publicationTermBufferLength(SMALL_TERM_LENGTH);
    }

    /**
     * Connects an Aeron client to the driver in {@code aeronDirectoryName} and sends one message over
     * IPC from a publication to a subscription; fails unless it arrives intact within five seconds.
     *
     * @return the term length of the publication, as the driver chose it.
     */
    static int assertIpcRoundTrip(final String aeronDirectoryName)
    {
        final byte[] message = ("hello from spate " + UUID.randomUUID()).getBytes(StandardCharsets.US_ASCII);
        final UnsafeBuffer buffer = new UnsafeBuffer(message);
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectoryName));
            Subscription subscription = aeron.addSubscription("aeron:ipc", 1001);
            Publication publication = aeron.addPublication("aeron:ipc", 1001))
        {
            long position;
            while ((position = publication.offer(buffer, 0, message.length)) < 0)
            {
                if (Publication.CLOSED == position || Publication.MAX_POSITION_EXCEEDED == position)
                {
                    fail("publication cannot take the message: " + Publication.errorString(position));
                }
                awaitUntil(deadlineNs, "publication to accept the message: " + position);
            }

            final AtomicReference<String> received = new AtomicReference<>();
            while (null == received.get())
            {
                final int fragments = subscription.poll(
                    (data, offset, length, header) -> received.set(data.getStringWithoutLengthAscii(offset, length)),
                    10);
                if (0 == fragments)
                {
                    awaitUntil(deadlineNs, "subscription to receive the message");
                }
            }
            assertEquals(new String(message, StandardCharsets.US_ASCII), received.get());
            return publication.termBufferLength();
        }
    }

    /**
     * Adds an exclusive publication on {@link #RECORDED_CHANNEL} and asks the archive to record it.
     */
    static ExclusivePublication addRecordedPublication(final Aeron aeron, final AeronArchive archive, final int streamId)
    {
        final ExclusivePublication publication = aeron.addExclusivePublication(RECORDED_CHANNEL, streamId);
        archive.startRecording(
            ChannelUri.addSessionId(RECORDED_CHANNEL, publication.sessionId()), streamId, SourceLocation.LOCAL);
        return publication;
    }

    /**
     * @return the id of the archive's RecordingPos counter for the publication's session, once it exists.
     */
    static int awaitRecordingCounter(final CountersReader counters, final int sessionId, final long archiveId)
    {
        final int[] counterId = {CountersReader.NULL_COUNTER_ID};
        await(() -> CountersReader.NULL_COUNTER_ID !=
            (counterId[0] = RecordingPos.findCounterIdBySession(counters, sessionId, archiveId)),
            () -> "the RecordingPos counter of session " + sessionId);
        return counterId[0];
    }

    /**
     * Offers {@code count} small messages, each once accepted.
     *
     * @return the publication's position after the last one.
     */
    static long offerMessages(final Publication publication, final int count)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[100]);
        for (int i = 0; i < count; i++)
        {
            buffer.putInt(0, i);
            final long[] result = {0};
            await(() ->
            {
                result[0] = publication.offer(buffer, 0, buffer.capacity());
                if (Publication.CLOSED == result[0] || Publication.MAX_POSITION_EXCEEDED == result[0])
                {
                    fail("publication cannot take the message: " + Publication.errorString(result[0]));
                }
                return result[0] > 0;
            }, () -> "the publication to accept a message: " + Publication.errorString(result[0]));
        }
        return publication.position();
    }

    /**
     * Waits for a counter to reach a value.
     */
    static void awaitCounter(final CountersReader counters, final int counterId, final long value)
    {
        await(() -> counters.getCounterValue(counterId) >= value,
            () -> "counter " + counterId + " to reach " + value + ": " + counters.getCounterValue(counterId));
    }

    /**
     * Polls {@code condition} until it holds; fails after {@link #AWAIT_TIMEOUT_MS}, a fail-safe only.
     */
    static void await(final BooleanSupplier condition, final Supplier<String> what)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(AWAIT_TIMEOUT_MS);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                fail("timed out waiting for " + what.get());
            }
            Thread.yield();
        }
    }

    /**
     * {@link DriverMain} in a JVM of its own, with the test JVM's flags and class path; its output
     * (stdout and stderr) collected line by line.
     */
    static final class DriverProcess implements AutoCloseable
    {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        private final Thread reader;

        DriverProcess(final List<String> systemProperties, final String... args) throws IOException
        {
            final List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (final String argument : ManagementFactory.getRuntimeMXBean().getInputArguments())
            {
                if (!argument.startsWith("-javaagent") && !argument.startsWith("-agentlib") &&
                    !argument.startsWith("-Xrunjdwp"))
                {
                    command.add(argument);
                }
            }
            command.addAll(systemProperties);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), DriverMain.class.getName()));
            command.addAll(List.of(args));

            process = new ProcessBuilder(command).redirectErrorStream(true).start();
            reader = Thread.ofPlatform().daemon().start(() ->
            {
                try (BufferedReader input = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
                {
                    String line;
                    while (null != (line = input.readLine()))
                    {
                        lines.add(line);
                    }
                }
                catch (final IOException ignore)
                {
                    // The process ended.
                }
            });
        }

        /**
         * Waits for the driver to print that it runs; fails if the process ends first.
         */
        void awaitRunning() throws InterruptedException
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (lines.stream().noneMatch((line) -> line.startsWith("driver: running in ")))
            {
                if (!process.isAlive() || System.nanoTime() > deadlineNs)
                {
                    fail("the driver process did not start: " + output());
                }
                Thread.sleep(10);
            }
        }

        /**
         * Waits for the process to end, then for its output to be read.
         */
        void awaitExit(final String why) throws InterruptedException
        {
            if (!process.waitFor(15, TimeUnit.SECONDS))
            {
                fail("the driver did not stop on " + why + ": " + output());
            }
            reader.join(5_000);
        }

        String output()
        {
            return String.join("\n", lines);
        }

        public void close()
        {
            process.destroyForcibly();
        }
    }

    private static void awaitUntil(final long deadlineNs, final String what)
    {
        if (System.nanoTime() - deadlineNs > 0)
        {
            fail("timed out waiting for the " + what);
        }
        Thread.onSpinWait();
        Thread.yield();
    }
}
