package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.CncFileDescriptor;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Takes over at once the directory of a media driver that died without closing (SIGKILL, a crash), instead of
 * refusing it until its heartbeat is older than the driver timeout (Aeron's "active driver detected", 20 s by
 * default).
 * <p>
 * The CnC file names the process that hosts its driver ({@link CncFileDescriptor#pid}, Aeron 1.51). When no such
 * process is alive on this host, the driver is dead whatever its heartbeat says: the heartbeat is reset to
 * {@link Aeron#NULL_VALUE}, as a driver's clean close leaves it ({@code DriverConductor.onClose}), and the start
 * goes on as after a clean stop (a standalone driver saves the old error log next to the directory, then both
 * kinds replace the directory). A CnC file whose driver died before it finished writing it (version 0) is removed.
 * When the process is alive, or the CnC file names none, nothing is touched and the usual checks decide.
 * <p>
 * The process id is looked up on this host: a directory shared with another host or PID namespace (not Spate's
 * setup: the directory is under /dev/shm, private to the user) is not supported.
 */
final class DeadDriverTakeover
{
    private DeadDriverTakeover()
    {
    }

    /**
     * @param pid a process id, as a CnC or mark file records it.
     * @return true when it names a process (pid above 0) that is not alive on this host; false for one that is
     * alive, and for no process at all (0 or below: nothing is known).
     */
    static boolean isDead(final long pid)
    {
        return pid > 0 && pid != ProcessHandle.current().pid() &&
            !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Takes over the directory's CnC file when its driver's process is dead and its heartbeat would hold up the
     * start: younger than {@code driverTimeoutMs}, or a CnC file never finished.
     *
     * @param directory       an Aeron directory that exists.
     * @param driverTimeoutMs how old a heartbeat must be for Aeron to take the directory.
     * @return one line saying what was done ("the media driver that used DIR (pid N) is gone: ..."), or null
     * when nothing was.
     * @throws IllegalStateException when the CnC file of a dead driver cannot be opened or removed.
     */
    static String takeOverIfDead(final Path directory, final long driverTimeoutMs)
    {
        final Path cncFile = directory.resolve(CncFileDescriptor.CNC_FILE);
        final long length;
        try
        {
            if (!Files.isRegularFile(cncFile, LinkOption.NOFOLLOW_LINKS) ||
                (length = Files.size(cncFile)) < CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return null; // no CnC file, or one too short to name a process: the usual checks decide
            }
        }
        catch (final IOException ex)
        {
            return null;
        }

        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(cncFile, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, length);
        }
        catch (final IOException ex)
        {
            return null; // not ours to write (another user's driver?): the usual checks decide, and say so
        }
        final Takeover takeover;
        try
        {
            takeover = takeOver(mapped, driverTimeoutMs);
        }
        finally
        {
            IoUtil.unmap(mapped);
        }
        if (null == takeover)
        {
            return null;
        }
        if (takeover.removeCncFile())
        {
            try
            {
                Files.deleteIfExists(cncFile);
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException("cannot remove the CnC file " + cncFile + " of a media driver that " +
                    "died starting: " + ex + "; delete " + directory + " by hand", ex);
            }
        }
        return "the media driver that used " + directory + " " + takeover.what();
    }

    /** What was done: the rest of the line, and whether the CnC file is to go. */
    private record Takeover(String what, boolean removeCncFile)
    {
    }

    private static Takeover takeOver(final MappedByteBuffer mapped, final long driverTimeoutMs)
    {
        final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
        final long pid = metaData.getLongVolatile(CncFileDescriptor.pidOffset(0));
        if (!isDead(pid))
        {
            return null;
        }
        final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
        if (0 == version)
        {
            return new Takeover("(pid " + pid + ") died starting: removed its unfinished " + CncFileDescriptor.CNC_FILE,
                true);
        }
        try
        {
            CncFileDescriptor.checkVersion(version);
        }
        catch (final RuntimeException ex)
        {
            return null; // another Aeron's layout: the usual checks decide, and say so
        }
        final ManyToOneRingBuffer toDriver;
        try
        {
            toDriver = new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(mapped, metaData));
        }
        catch (final RuntimeException ex)
        {
            return null; // not the layout its metadata claims (cut short?): the usual checks decide, and say so
        }
        final long heartbeatMs = toDriver.consumerHeartbeatTime();
        final long heartbeatAgeMs = System.currentTimeMillis() - heartbeatMs;
        if (Aeron.NULL_VALUE == heartbeatMs || heartbeatAgeMs > driverTimeoutMs)
        {
            return null; // closed cleanly, or dead long enough: nothing holds the start up
        }
        toDriver.consumerHeartbeatTime(Aeron.NULL_VALUE);
        mapped.force();
        return new Takeover("(pid " + pid + ") is gone: took its directory over at once (its heartbeat was " +
            heartbeatAgeMs + " ms old, under the " + driverTimeoutMs + " ms driver timeout)", false);
    }
}
