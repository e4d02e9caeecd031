package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers for the driver tests.
 */
final class DriverTesting
{
    static final int SMALL_TERM_LENGTH = 64 * 1024;

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
