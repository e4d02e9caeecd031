package io.spate.pipeline;

import org.agrona.concurrent.status.AtomicCounter;

import java.io.PrintStream;

/**
 * Bad or foreign input the pipeline refuses: malformed messages, messages from a stream's stranger,
 * batches of unknown producers. Each is counted; one line per interval says how many and the latest
 * reason, so a flood of garbage costs a counter increment per message and a line per interval,
 * never a stack trace. Reasons are constant strings: the refusing path allocates nothing.
 */
final class InputRejections
{
    private final AtomicCounter counter;
    private final PrintStream log;
    private final long logIntervalNs;
    private final String source;
    private long nextLogNs;
    private long sinceLastLog;
    private String latestReason;

    InputRejections(final AtomicCounter counter, final PrintStream log, final long logIntervalNs, final String source)
    {
        this.counter = counter;
        this.log = log;
        this.logIntervalNs = logIntervalNs;
        this.source = source;
    }

    /**
     * @param reason constant text: what was wrong.
     */
    void reject(final String reason)
    {
        counter.incrementRelease();
        sinceLastLog++;
        latestReason = reason;
        final long nowNs = System.nanoTime();
        if (nowNs - nextLogNs >= 0)
        {
            flushLog(nowNs);
        }
    }

    /**
     * Logs what was refused since the last line, if the interval has passed (called from the duty cycle
     * so the last rejections of a burst are reported too).
     */
    void onTick(final long nowNs)
    {
        if (sinceLastLog > 0 && nowNs - nextLogNs >= 0)
        {
            flushLog(nowNs);
        }
    }

    private void flushLog(final long nowNs)
    {
        log.println("spate pipeline: refused " + sinceLastLog + " " + source + " message(s) (latest: " + latestReason +
            "); total " + counter.get());
        log.flush();
        sinceLastLog = 0;
        nextLogNs = nowNs + logIntervalNs;
    }
}
