package io.spate.driver;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdleStrategiesTest
{
    @ParameterizedTest
    @CsvSource({
        "backoff, org.agrona.concurrent.BackoffIdleStrategy",
        "sleeping, org.agrona.concurrent.SleepingIdleStrategy",
        "yielding, org.agrona.concurrent.YieldingIdleStrategy",
        "busy, org.agrona.concurrent.BusySpinIdleStrategy",
        "noop, org.agrona.concurrent.NoOpIdleStrategy",
        "' BackOff ', org.agrona.concurrent.BackoffIdleStrategy",
        "BUSY, org.agrona.concurrent.BusySpinIdleStrategy",
    })
    void parsesEveryName(final String name, final String className)
    {
        assertEquals(className, IdleStrategies.parse(name).getClass().getName());
    }

    @Test
    void everyListedNameParses()
    {
        for (final String name : IdleStrategies.NAMES)
        {
            IdleStrategies.parse(name);
            assertEquals(name, IdleStrategies.validate(name.toUpperCase()));
        }
        assertTrue(IdleStrategies.NAMES.contains(IdleStrategies.DEFAULT));
    }

    @Test
    void statefulStrategiesAreNewInstances()
    {
        final IdleStrategy first = IdleStrategies.parse("backoff");
        assertInstanceOf(BackoffIdleStrategy.class, first);
        assertNotSame(first, IdleStrategies.parse("backoff"));
        assertInstanceOf(SleepingIdleStrategy.class, IdleStrategies.parse("sleeping"));
        assertNotSame(IdleStrategies.parse("sleeping"), IdleStrategies.parse("sleeping"));
        assertInstanceOf(YieldingIdleStrategy.class, IdleStrategies.parse("yielding"));
        assertInstanceOf(BusySpinIdleStrategy.class, IdleStrategies.parse("busy"));
        assertInstanceOf(NoOpIdleStrategy.class, IdleStrategies.parse("noop"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"spin", "backof", "sleep-ns", "org.agrona.concurrent.BackoffIdleStrategy"})
    @NullAndEmptySource
    void unknownNameIsRefusedListingValidNames(final String name)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> IdleStrategies.parse(name));
        assertTrue(ex.getMessage().startsWith("unknown idle strategy '" + name + "'"), ex.getMessage());
        assertTrue(ex.getMessage().endsWith("valid names: backoff, sleeping, yielding, busy, noop"), ex.getMessage());
    }

    @ParameterizedTest
    @CsvSource({ "'', 1000000", "1000, 1000", "100000, 100000", "' 250000 ', 250000", "1000000000, 1000000000" })
    void backoffMaxParkComesFromItsProperty(final String value, final long expectedNs)
    {
        System.setProperty(IdleStrategies.BACKOFF_MAX_PARK_PROP, value);
        try
        {
            assertEquals(expectedNs, IdleStrategies.backoffMaxParkNs());
            assertTrue(IdleStrategies.parse("backoff").toString().contains("maxParkPeriodNs=" + expectedNs),
                IdleStrategies.parse("backoff").toString());
        }
        finally
        {
            System.clearProperty(IdleStrategies.BACKOFF_MAX_PARK_PROP);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "999", "0", "-5", "1000000001", "1ms", "x" })
    void badBackoffMaxParkIsRefusedNamingTheProperty(final String value)
    {
        System.setProperty(IdleStrategies.BACKOFF_MAX_PARK_PROP, value);
        try
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> IdleStrategies.parse("backoff"));
            assertEquals("system property spate.idle.backoff.max.park.ns must be 1000..1000000000 ns: " + value,
                ex.getMessage());
        }
        finally
        {
            System.clearProperty(IdleStrategies.BACKOFF_MAX_PARK_PROP);
        }
    }
}
