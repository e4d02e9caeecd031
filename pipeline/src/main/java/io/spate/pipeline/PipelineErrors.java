package io.spate.pipeline;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.PrintStream;

/**
 * Where every failure inside the pipeline's agents ends up, whichever thread or handler met it.
 * Aeron's poll hands an exception thrown by a fragment handler to the client's error handler and
 * skips the fragment, so Spate's handlers catch their own failures, decide what they mean (fail
 * that batch, close that session, or stop the pipeline) and report them here: each is counted in
 * the agent-errors counter, the first is kept for {@link Pipeline#firstError()}, and one line (with
 * the stack trace: these are bugs or faults, never bad input) goes to the log.
 * <p>
 * A fatal error stops the pipeline: the agent that met it throws a {@link Fatal} from its duty
 * cycle, which ends its {@link org.agrona.concurrent.AgentRunner}, and {@link #fatalMessage()} tells
 * whoever runs the pipeline to exit.
 */
public final class PipelineErrors implements ErrorHandler
{
    /** Ends the agent's runner: the pipeline's state can no longer be trusted. */
    public static final class Fatal extends AgentTerminationException
    {
        private static final long serialVersionUID = 1L;

        Fatal(final String message, final Throwable cause)
        {
            super(message, cause);
        }
    }

    /**
     * Ends an agent whose Aeron client has closed (the media driver is gone): nothing in the CnC file
     * (counters, logs) may be touched any more, so this is neither counted nor logged here.
     */
    public static final class ClientClosed extends AgentTerminationException
    {
        private static final long serialVersionUID = 1L;

        ClientClosed(final String agent)
        {
            super(agent + ": the Aeron client is closed (the media driver is gone)");
        }
    }

    private final AtomicCounter errorCounter;
    private final PrintStream log;
    private volatile Throwable firstError;
    private volatile String fatalMessage;
    private volatile boolean driverGone;

    PipelineErrors(final AtomicCounter errorCounter, final PrintStream log)
    {
        this.errorCounter = errorCounter;
        this.log = log;
    }

    /**
     * Counts and logs an error the agent survives (or, for a {@link Fatal}, one that stopped it).
     */
    public void onError(final Throwable error)
    {
        if (error instanceof ClientClosed || isDriverGone(error))
        {
            // Not a fault of the pipeline: whoever runs it reports the lost driver once.
            driverGone = true;
            return;
        }
        errorCounter.increment();
        if (null == firstError)
        {
            firstError = error;
        }
        if (error instanceof Fatal)
        {
            return; // logged once by fatal()
        }
        synchronized (log)
        {
            log.println("spate pipeline: agent error: " + error);
            error.printStackTrace(log);
            log.flush();
        }
    }

    /**
     * Records an error after which the pipeline must stop, and returns the exception the agent throws
     * from its duty cycle (outside any Aeron poll, which would swallow it).
     *
     * @param message what broke, in one line.
     * @param cause   the exception, or null.
     * @return the exception to throw.
     */
    Fatal fatal(final String message, final Throwable cause)
    {
        if (null == fatalMessage)
        {
            fatalMessage = message;
            synchronized (log)
            {
                log.println("spate pipeline: fatal: " + message + (null == cause ? "" : ": " + cause));
                if (null != cause)
                {
                    cause.printStackTrace(log);
                }
                log.flush();
            }
        }
        return new Fatal(message, cause);
    }

    /**
     * @return the first error counted, or null.
     */
    public Throwable firstError()
    {
        return firstError;
    }

    /**
     * @return why the pipeline stopped itself, or null while it runs.
     */
    public String fatalMessage()
    {
        return fatalMessage;
    }

    /**
     * @return true once an agent met the Aeron client closed because the media driver stopped answering.
     */
    public boolean isDriverGone()
    {
        return driverGone;
    }

    /**
     * @return whether an error only says the media driver is gone (the Aeron client timed it out and closed).
     */
    public static boolean isDriverGone(final Throwable error)
    {
        for (Throwable cause = error; null != cause; cause = cause.getCause())
        {
            if (cause instanceof io.aeron.exceptions.DriverTimeoutException ||
                cause instanceof io.aeron.exceptions.ClientTimeoutException ||
                (cause instanceof io.aeron.exceptions.AeronException && String.valueOf(cause.getMessage()).contains("closed")))
            {
                return true;
            }
            if (cause.getCause() == cause)
            {
                break;
            }
        }
        return false;
    }
}
