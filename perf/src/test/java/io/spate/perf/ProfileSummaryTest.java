package io.spate.perf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProfileSummaryTest
{
    private static final List<String> STACKS = List.of(
        "[spate-conductor tid=1];Thread.run;ConductorAgent.doWork;BatchAssembler.walk 30",
        "[spate-conductor tid=1];Thread.run;WorkerAgent.doWork;spate_store_apply 50",
        "[spate-conductor tid=1];Thread.run;BackoffIdleStrategy.idle;Unsafe.park 20",
        "[main tid=2];Main.main;Thread.sleep 5",
        "",
        "[C2 CompilerThread tid=3];Compile::Compile;Compile::Compile 95");

    @Test
    void sharesByThreadAndFrame()
    {
        final ProfileSummary summary = ProfileSummary.of(STACKS);
        assertEquals(200, summary.totalSamples());
        assertEquals(100, summary.samplesOfThreadsNamed("spate-conductor"));
        assertEquals(80, summary.inclusiveSamples("spate-conductor", "Thread.run") - 20);
        assertEquals(50, summary.inclusiveSamples("spate-conductor", "spate_store_apply"));
        // A frame twice in one stack (recursion) counts once.
        assertEquals(95, summary.inclusiveSamples("C2", "Compile::Compile"));

        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        summary.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), 3);
        final String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("200 samples"), text);
        assertTrue(text.contains(" 50.0%  [spate-conductor tid=1]"), text);
        assertTrue(text.contains("  50.0%  spate_store_apply"), text);
        // Below 5% of the samples: listed, not broken down.
        assertTrue(text.contains("  2.5%  [main tid=2]"), text);
        assertTrue(!text.contains("[main tid=2]: "), text);
    }

    @ParameterizedTest
    @ValueSource(strings = { "no count here", "a;b -3", "a;b", "7" })
    void refusesWhatIsNotCollapsedStacks(final String line)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> ProfileSummary.of(List.of("[t];a 1", line)));
        assertTrue(ex.getMessage().startsWith("line 2 is not 'frame;frame;... count'"), ex.getMessage());
    }
}
