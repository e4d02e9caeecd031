package io.spate.cluster;

import io.aeron.Aeron;
import io.aeron.cluster.ConsensusModule;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.CountedErrorHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;

import java.io.PrintStream;

/**
 * A cluster member's consensus module error handling: a normal leader change ({@link ClusterErrorClassifier}) is a
 * warning, one line {@code node N: warning: leader change: ...}, counted in a counter of its own (type
 * {@value #LEADER_CHANGE_WARNINGS_TYPE_ID}, which {@code bin/spate stat} shows as {@code leader_change_warnings});
 * everything else is an error, one line {@code node N: consensus error: ...}, counted once in the consensus
 * module's error counter ("Cluster Errors", {@code stat}'s {@code errors}). Both still go to the error log in the
 * module's mark file, which Aeron's ClusterTool {@code errors} prints.
 * <p>
 * Wiring: {@link #countedErrorHandler()} replaces Aeron's default counted handler (which would count every
 * report, warnings too) and {@link #errorHandler()} is the module's error handler. Errors reach the latter three
 * ways: from the counted handler (counted there), from the agent's runner (Aeron's AgentRunner counts what escapes
 * a duty cycle before it reports it) and from the module's Aeron client (uncounted: Aeron installs its counted
 * handler on the client only when it made that handler itself). The error counter tells them apart: it has moved
 * since the last report exactly when the caller counted this one; otherwise it is counted here.
 * <p>
 * The warnings counter needs an Aeron client on the member's driver, which runs only once the member is
 * launched: {@link #countWarningsIn(String)} then allocates it, carrying over warnings seen before.
 */
public final class ConsensusErrorHandler implements AutoCloseable
{
    /** Counter type: leader-change warnings of the member's consensus module. */
    public static final int LEADER_CHANGE_WARNINGS_TYPE_ID = 1070;

    private final String prefix;
    private final PrintStream log;
    private final ConsensusModule.Context context;
    private final Counted counted;
    private final ErrorHandler reporter = this::report;
    /** The error counter's value after the last report; every move of it is followed by a report. */
    private long errorsReported;
    private long leaderChangeWarnings;
    private AtomicCounter warningsCounter;
    private Aeron counterClient;

    /**
     * @param memberId the member, named in each line.
     * @param log      where the lines go.
     * @param context  the consensus module's context: once concluded, it holds the error counter and the
     *                 handler that also writes the mark file's error log.
     */
    public ConsensusErrorHandler(final int memberId, final PrintStream log, final ConsensusModule.Context context)
    {
        this.prefix = "node " + memberId + ": ";
        this.log = log;
        this.context = context;
        this.counted = new Counted();
    }

    /**
     * @return the handler for {@link ConsensusModule.Context#errorHandler(ErrorHandler)}.
     */
    public ErrorHandler errorHandler()
    {
        return reporter;
    }

    /**
     * @return the handler for {@link ConsensusModule.Context#countedErrorHandler(CountedErrorHandler)}.
     */
    public CountedErrorHandler countedErrorHandler()
    {
        return counted;
    }

    /**
     * Allocates the warnings counter through a client of the member's driver (launched by now), set to the
     * warnings seen so far.
     *
     * @param aeronDirectoryName the member's Aeron directory.
     */
    public void countWarningsIn(final String aeronDirectoryName)
    {
        final Aeron client = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDirectoryName)
            .clientName(prefix + "warnings")
            .errorHandler((error) -> log.println(prefix + "warnings counter's client: " + error)));
        final AtomicCounter counter;
        try
        {
            counter = client.addCounter(LEADER_CHANGE_WARNINGS_TYPE_ID,
                "spate cluster node: leader change warnings (elections Aeron reports)");
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(client);
            throw ex;
        }
        synchronized (this)
        {
            counterClient = client;
            warningsCounter = counter;
            counter.setRelease(leaderChangeWarnings);
        }
    }

    /**
     * @return the leader-change warnings seen since the member started.
     */
    public synchronized long leaderChangeWarnings()
    {
        return leaderChangeWarnings;
    }

    public void close()
    {
        final Aeron client;
        synchronized (this)
        {
            client = counterClient;
            counterClient = null;
            warningsCounter = null;
        }
        CloseHelper.close(client);
    }

    private synchronized void countWarning()
    {
        leaderChangeWarnings++;
        if (null != warningsCounter && !warningsCounter.isClosed())
        {
            warningsCounter.setRelease(leaderChangeWarnings);
        }
    }

    /** Every report, after Aeron's logging into the mark file: one line, and the count when nobody made it. */
    private synchronized void report(final Throwable error)
    {
        final String leaderChange = ClusterErrorClassifier.leaderChange(error);
        final AtomicCounter errorCounter = context.errorCounter();
        if (null != errorCounter && !errorCounter.isClosed())
        {
            final boolean countedByCaller = errorCounter.get() != errorsReported;
            if (!countedByCaller && null == leaderChange)
            {
                errorCounter.increment();
            }
            errorsReported = errorCounter.get();
        }
        log.println(prefix + (null == leaderChange ? "consensus error: " + error :
            "warning: leader change: " + leaderChange));
    }

    /**
     * The consensus module's counted handler: what it reports itself (elections among it). A warning is counted
     * as one; an error in the error counter; then both go to the module's error handler (mark file, one line).
     */
    private final class Counted extends CountedErrorHandler
    {
        Counted()
        {
            // Aeron's counter exists only once the module's context is concluded: onError counts into it then, and
            // this placeholder (CountedErrorHandler wants one at construction) is never touched.
            super(reporter, new AtomicCounter(new UnsafeBuffer(new byte[CountersReader.COUNTER_LENGTH]), 0));
        }

        public void onError(final Throwable error)
        {
            if (null != ClusterErrorClassifier.leaderChange(error))
            {
                countWarning();
            }
            else
            {
                final AtomicCounter errorCounter = context.errorCounter();
                if (null != errorCounter && !errorCounter.isClosed() && !isClosed())
                {
                    errorCounter.increment();
                }
            }
            context.errorHandler().onError(error); // the mark file's error log, then report()
        }
    }
}
