package io.spate.perf.jmh;

import io.spate.perf.ApplyBenchmark;

/**
 * The schema the micro-benchmarks share with {@link ApplyBenchmark}: an Event with three numeric
 * fields and a 16-byte string.
 */
final class JmhSchemas
{
    static final String EVENT_SCHEMA_JSON = ApplyBenchmark.SCHEMA_JSON;

    private JmhSchemas()
    {
    }
}
