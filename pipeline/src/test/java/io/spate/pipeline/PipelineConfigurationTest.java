package io.spate.pipeline;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A malformed system property is an error naming the property, never silently the default.
 */
class PipelineConfigurationTest
{
    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "spate.workers, abc",
        "spate.session.timeout.ms, 10s",
        "spate.max.sessions, 99999999999",
        "spate.pipeline.threading.mode, sometimes",
    })
    void shouldNameAMalformedProperty(final String name, final String value)
    {
        final String previous = System.getProperty(name);
        System.setProperty(name, value);
        try
        {
            final IllegalArgumentException error = assertThrows(IllegalArgumentException.class, PipelineConfiguration::new);
            assertTrue(error.getMessage().contains(name) && error.getMessage().contains(value), error.getMessage());
        }
        finally
        {
            if (null == previous)
            {
                System.clearProperty(name);
            }
            else
            {
                System.setProperty(name, previous);
            }
        }
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({ "spate.workers, 3, 3", "spate.workers, ' 2 ', 2" })
    void shouldReadAWellFormedProperty(final String name, final String value, final int expected)
    {
        System.setProperty(name, value);
        try
        {
            assertEquals(expected, new PipelineConfiguration().workerCount());
        }
        finally
        {
            System.clearProperty(name);
        }
    }
}
