package io.spate.driver;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PerformanceProfileTest
{
    @AfterEach
    void clearProperty()
    {
        System.clearProperty(PerformanceProfile.PROFILE_PROP);
    }

    @ParameterizedTest
    @CsvSource({ "default, DEFAULT", "low-latency, LOW_LATENCY", "' Low-Latency ', LOW_LATENCY" })
    void parsesNames(final String name, final PerformanceProfile expected)
    {
        assertEquals(expected, PerformanceProfile.parse(name));
    }

    @Test
    void defaultWhenUnsetOrBlank()
    {
        assertEquals(PerformanceProfile.DEFAULT, PerformanceProfile.current());
        System.setProperty(PerformanceProfile.PROFILE_PROP, " ");
        assertEquals(PerformanceProfile.DEFAULT, PerformanceProfile.current());
    }

    @Test
    void lowLatencySpinsTheAgentsAndBacksOffTheDriver()
    {
        assertEquals("busy", PerformanceProfile.LOW_LATENCY.agentIdleStrategy());
        assertEquals("backoff", PerformanceProfile.LOW_LATENCY.driverIdleStrategy());
        assertEquals("backoff", PerformanceProfile.DEFAULT.agentIdleStrategy());
        System.setProperty(PerformanceProfile.PROFILE_PROP, "low-latency");
        assertEquals("backoff", new DriverConfiguration().idleStrategy());
    }

    @ParameterizedTest
    @ValueSource(strings = { "fast", "lowlatency", "low_latency" })
    void unknownNamesAreRefusedNamingTheProperty(final String name)
    {
        assertEquals("unknown profile '" + name + "'; valid names: default, low-latency",
            assertThrows(IllegalArgumentException.class, () -> PerformanceProfile.parse(name)).getMessage());
        System.setProperty(PerformanceProfile.PROFILE_PROP, name);
        assertEquals("system property spate.profile: unknown profile '" + name + "'; valid names: default, low-latency",
            assertThrows(IllegalArgumentException.class, PerformanceProfile::current).getMessage());
    }
}
