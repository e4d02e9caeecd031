package io.spate.driver;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Agrona idle strategies by name, for the media driver's agents and for any other Spate agent.
 * <ul>
 *     <li>{@code backoff} (the default): spins {@value #BACKOFF_MAX_SPINS} times, yields
 *     {@value #BACKOFF_MAX_YIELDS} times, then parks from 1 µs doubling up to 1 ms ({@value #BACKOFF_MAX_PARK_PROP}).
 *     An idle agent costs
 *     next to no CPU and a busy one reacts within a microsecond or so; right for few cores.</li>
 *     <li>{@code sleeping}: always parks {@value #SLEEPING_PERIOD_MS} ms; cheapest, slowest to react.</li>
 *     <li>{@code yielding}: {@link Thread#yield()}; burns a core when other threads don't want it.</li>
 *     <li>{@code busy}: busy-spins; takes a whole core, only for machines with cores to spare.</li>
 *     <li>{@code noop}: does nothing; for agents driven by a caller that idles itself.</li>
 * </ul>
 * Every call returns a new instance when the strategy has state ({@code backoff}, {@code sleeping}),
 * so each agent gets its own; a strategy instance must never be shared between threads.
 */
public final class IdleStrategies
{
    /** The default strategy's name. */
    public static final String DEFAULT = "backoff";

    /** Every valid name, in the order help texts list them. */
    public static final List<String> NAMES = List.of("backoff", "sleeping", "yielding", "busy", "noop");

    static final long BACKOFF_MAX_SPINS = 10;
    static final long BACKOFF_MAX_YIELDS = 5;
    static final long BACKOFF_MIN_PARK_NS = TimeUnit.MICROSECONDS.toNanos(1);
    static final long BACKOFF_MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);
    /** System property: the longest park of {@code backoff}, in ns, 1 µs .. 1 s (default 1 ms). */
    public static final String BACKOFF_MAX_PARK_PROP = "spate.idle.backoff.max.park.ns";
    static final long SLEEPING_PERIOD_MS = 1;

    private IdleStrategies()
    {
    }

    /**
     * @param name one of {@link #NAMES}; case and surrounding blanks are ignored.
     * @return a new (or, for stateless strategies, the shared) idle strategy of that name.
     * @throws IllegalArgumentException naming the valid names when {@code name} is none of them.
     */
    public static IdleStrategy parse(final String name)
    {
        final String key = null == name ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (key)
        {
            case "backoff" -> new BackoffIdleStrategy(
                BACKOFF_MAX_SPINS, BACKOFF_MAX_YIELDS, BACKOFF_MIN_PARK_NS, backoffMaxParkNs());
            case "sleeping" -> new SleepingIdleStrategy(SLEEPING_PERIOD_MS, TimeUnit.MILLISECONDS);
            case "yielding" -> YieldingIdleStrategy.INSTANCE;
            case "busy" -> BusySpinIdleStrategy.INSTANCE;
            case "noop" -> NoOpIdleStrategy.INSTANCE;
            default -> throw new IllegalArgumentException(
                "unknown idle strategy '" + name + "'; valid names: " + String.join(", ", NAMES));
        };
    }

    /**
     * @return the longest park of {@code backoff}: {@value #BACKOFF_MAX_PARK_PROP}, else 1 ms.
     * @throws IllegalArgumentException naming the property when it is malformed or out of range.
     */
    public static long backoffMaxParkNs()
    {
        final String value = System.getProperty(BACKOFF_MAX_PARK_PROP);
        if (null == value || value.isBlank())
        {
            return BACKOFF_MAX_PARK_NS;
        }
        try
        {
            final long parkNs = Long.parseLong(value.trim());
            if (parkNs >= BACKOFF_MIN_PARK_NS && parkNs <= TimeUnit.SECONDS.toNanos(1))
            {
                return parkNs;
            }
        }
        catch (final NumberFormatException ignore)
        {
            // refused below
        }
        throw new IllegalArgumentException("system property " + BACKOFF_MAX_PARK_PROP + " must be " +
            BACKOFF_MIN_PARK_NS + ".." + TimeUnit.SECONDS.toNanos(1) + " ns: " + value);
    }

    /**
     * @param name a candidate name.
     * @return the name normalised (trimmed, lower case) when valid.
     * @throws IllegalArgumentException naming the valid names when {@code name} is none of them.
     */
    public static String validate(final String name)
    {
        parse(name);
        return name.trim().toLowerCase(Locale.ROOT);
    }
}
