package io.spate.driver;

import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.exceptions.ActiveDriverException;
import io.aeron.exceptions.DriverTimeoutException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * A running Aeron media driver, launched from a {@link DriverConfiguration}.
 * <p>
 * <b>Embedded</b> ({@link #launchEmbedded}): the driver runs inside the process that uses it (the
 * pipeline, tests, the demo). Its directory is private to that process: it is deleted on start
 * (after checking no live driver uses it) and {@link #close()} removes it with everything in it.
 * <p>
 * <b>Standalone</b> ({@link #launchStandalone}, used by {@link DriverMain}): the driver is the whole
 * process and other processes connect to it. By default its directory is not deleted on shutdown,
 * so {@code AeronStat} and {@code ErrorStat} can still read a stopped driver's counters and error
 * log; the next start checks that driver is dead, saves its error log next to the directory if it had
 * errors, and replaces the directory. Both defaults follow {@link DriverConfiguration#embedded()} and
 * can be set explicitly.
 * <p>
 * Either way the launch refuses, with an {@link IllegalStateException}, a directory that a live
 * driver uses (Aeron itself would delete it under that driver when {@code dirDeleteOnStart} is set)
 * and an existing directory holding files that are not Aeron's (which Aeron would delete as well).
 */
public final class SpateDriver implements AutoCloseable
{
    /** What Aeron 1.51 puts in its directory; anything else there means the directory is not Aeron's. */
    static final Set<String> AERON_DIRECTORY_ENTRIES = Set.of(
        CncFileDescriptor.CNC_FILE, "loss-report.dat", "publications", "images");

    private final DriverConfiguration configuration;
    private final MediaDriver mediaDriver;
    private final Path directory;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SpateDriver(final DriverConfiguration configuration, final MediaDriver mediaDriver, final Path directory)
    {
        this.configuration = configuration;
        this.mediaDriver = mediaDriver;
        this.directory = directory;
    }

    /**
     * Launches a driver inside this process. Sets {@code configuration.embedded(true)} and concludes it.
     *
     * @param configuration the driver's settings.
     * @return the running driver; close it to stop it and remove its directory.
     * @throws IllegalStateException    when a live driver uses the directory, or it holds other files.
     * @throws IllegalArgumentException when the configuration is invalid.
     */
    public static SpateDriver launchEmbedded(final DriverConfiguration configuration)
    {
        return launch(configuration.embedded(true));
    }

    /**
     * Launches a driver meant to be the only job of this process ({@link DriverMain}). Sets
     * {@code configuration.embedded(false)} and concludes it; the directory is kept on shutdown
     * unless {@link DriverConfiguration#dirDeleteOnShutdown(boolean)} says otherwise.
     *
     * @param configuration the driver's settings.
     * @return the running driver.
     * @throws IllegalStateException    when a live driver uses the directory, or it holds other files.
     * @throws IllegalArgumentException when the configuration is invalid.
     */
    public static SpateDriver launchStandalone(final DriverConfiguration configuration)
    {
        return launch(configuration.embedded(false));
    }

    private static SpateDriver launch(final DriverConfiguration configuration)
    {
        configuration.conclude();
        final Path directory = Path.of(configuration.aeronDirectoryName());
        refuseUnlessFree(directory, configuration);

        final MediaDriver.Context context = configuration.toMediaDriverContext();
        final MediaDriver mediaDriver;
        try
        {
            mediaDriver = MediaDriver.launch(context);
        }
        catch (final ActiveDriverException ex)
        {
            // Aeron's own check (dirDeleteOnStart false) found a driver whose heartbeat is younger than
            // driverTimeoutMs; it has not touched the directory.
            throw inUse(directory, configuration.driverTimeoutMs());
        }
        catch (final RuntimeException | Error ex)
        {
            if (configuration.dirDeleteOnShutdown())
            {
                try
                {
                    deleteRecursively(directory);
                }
                catch (final RuntimeException cleanupFailure)
                {
                    ex.addSuppressed(cleanupFailure);
                }
            }
            throw ex;
        }
        return new SpateDriver(configuration, mediaDriver, directory);
    }

    /**
     * @return the absolute Aeron directory of this driver; clients connect with
     * {@code new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())}.
     */
    public String aeronDirectoryName()
    {
        return configuration.aeronDirectoryName();
    }

    /**
     * @return the concluded configuration the driver was launched with; do not change it.
     */
    public DriverConfiguration configuration()
    {
        return configuration;
    }

    public boolean isEmbedded()
    {
        return configuration.embedded();
    }

    public boolean isClosed()
    {
        return closed.get();
    }

    /**
     * Stops the driver's threads and frees its resources; when
     * {@link DriverConfiguration#dirDeleteOnShutdown()} holds (the embedded default) it then makes sure
     * the directory and every file in it are gone, deleting whatever Aeron left. Idempotent and
     * thread safe: only the first call does anything.
     *
     * @throws IllegalStateException when the directory could not be removed (the message says what to do);
     *                               the driver is stopped nevertheless.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }

        RuntimeException failure = null;
        try
        {
            mediaDriver.close();
        }
        catch (final RuntimeException ex)
        {
            failure = ex;
        }

        if (configuration.dirDeleteOnShutdown())
        {
            try
            {
                deleteRecursively(directory);
            }
            catch (final RuntimeException ex)
            {
                failure = addTo(failure, ex);
            }
            if (Files.exists(directory, LinkOption.NOFOLLOW_LINKS))
            {
                failure = addTo(failure, new IllegalStateException("the media driver stopped but its directory " +
                    directory + " could not be removed; delete it by hand"));
            }
        }

        if (null != failure)
        {
            throw failure;
        }
    }

    public String toString()
    {
        return "SpateDriver{" + (configuration.embedded() ? "embedded" : "standalone") + ", " + directory +
            (closed.get() ? ", closed" : "") + '}';
    }

    /**
     * Refuses a directory a live driver uses, one being initialised, and one that is not Aeron's.
     * Not atomic: a driver starting in the same directory at the same moment is not detected.
     */
    static void refuseUnlessFree(final Path directory, final DriverConfiguration configuration)
    {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS))
        {
            throw new IllegalStateException("the Aeron directory " + directory + " exists and is not a directory; " +
                "remove it or choose another directory (--dir or " + DriverConfiguration.DIR_PROP + ")");
        }

        final boolean active;
        try
        {
            active = CommonContext.isDriverActive(
                directory.toFile(), configuration.activeDriverCheckTimeoutMs(), (message) -> {});
        }
        catch (final DriverTimeoutException ex)
        {
            throw new IllegalStateException("the Aeron directory " + directory + " holds a CnC file no media driver " +
                "finished initialising within " + configuration.activeDriverCheckTimeoutMs() + " ms; if no driver " +
                "is starting there, delete " + directory + " and retry", ex);
        }
        catch (final RuntimeException ex)
        {
            throw new IllegalStateException("cannot tell whether a media driver uses the Aeron directory " +
                directory + " (" + ex.getMessage() + "); stop any driver using it or delete " + directory +
                ", then retry", ex);
        }
        if (active)
        {
            throw inUse(directory, configuration.activeDriverCheckTimeoutMs());
        }

        final List<String> foreign = new ArrayList<>();
        try (Stream<Path> entries = Files.list(directory))
        {
            entries.map((entry) -> entry.getFileName().toString())
                .filter((name) -> !AERON_DIRECTORY_ENTRIES.contains(name))
                .sorted()
                .limit(3)
                .forEach(foreign::add);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot list the Aeron directory " + directory + ": " + ex +
                "; fix its permissions or choose another directory (--dir or " + DriverConfiguration.DIR_PROP + ")", ex);
        }
        if (!foreign.isEmpty())
        {
            throw new IllegalStateException("the directory " + directory + " is not an Aeron directory (it holds " +
                String.join(", ", foreign) + ") and the media driver would delete it; choose another directory " +
                "(--dir or " + DriverConfiguration.DIR_PROP + ") or empty it");
        }
    }

    private static IllegalStateException inUse(final Path directory, final long heartbeatAgeLimitMs)
    {
        return new IllegalStateException("the Aeron directory " + directory + " is in use by a live media driver " +
            "(its " + CncFileDescriptor.CNC_FILE + " heartbeat is under " + heartbeatAgeLimitMs + " ms old); stop " +
            "that driver (or wait that long if it just died) or use another directory (--dir or " +
            DriverConfiguration.DIR_PROP + ")");
    }

    /**
     * Deletes a directory tree (symbolic links inside are deleted, not followed), tolerating entries
     * that vanish meanwhile; retries a few times so a concurrent deletion cannot leave anything behind.
     */
    static void deleteRecursively(final Path directory)
    {
        for (int attempt = 1; attempt <= 3 && Files.exists(directory, LinkOption.NOFOLLOW_LINKS); attempt++)
        {
            try
            {
                deleteTree(directory);
            }
            catch (final UncheckedIOException ex)
            {
                if (3 == attempt)
                {
                    throw ex;
                }
            }
        }
    }

    private static void deleteTree(final Path directory)
    {
        try (Stream<Path> paths = Files.walk(directory))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                try
                {
                    Files.delete(path);
                }
                catch (final NoSuchFileException ignore)
                {
                    // Removed concurrently (Aeron finishing its own deletion): fine.
                }
            }
        }
        catch (final NoSuchFileException ignore)
        {
            // Gone between the check and the walk.
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot delete " + directory + ": " + ex, ex);
        }
    }

    private static RuntimeException addTo(final RuntimeException failure, final RuntimeException next)
    {
        if (null == failure)
        {
            return next;
        }
        failure.addSuppressed(next);
        return failure;
    }
}
