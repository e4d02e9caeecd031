package io.spate.perf;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyPlotTest
{
    @Test
    void labelsTheLogAxisWithPercentiles()
    {
        assertEquals("90%", LatencyPlot.percentileLabel(10));
        assertEquals("99%", LatencyPlot.percentileLabel(100));
        assertEquals("99.9%", LatencyPlot.percentileLabel(1000));
        assertEquals("99.99%", LatencyPlot.percentileLabel(10_000));
        assertEquals("99.999%", LatencyPlot.percentileLabel(100_000));
        assertEquals("0%", LatencyPlot.percentileLabel(1));
        assertEquals("50%", LatencyPlot.percentileLabel(2));
        assertEquals("99.99%", new LatencyPlot.PercentileFormat().format(10_000.0));
        assertEquals("90%", new LatencyPlot.PercentileFormat().format(10L));
    }

    @Test
    void refusesPositionsLeftOfTheAxis()
    {
        assertThrows(IllegalArgumentException.class, () -> LatencyPlot.percentileLabel(0.5));
        assertThrows(IllegalArgumentException.class, () -> LatencyPlot.percentileLabel(Double.NaN));
    }

    @Test
    void writesAReadablePngOfSyntheticCurves(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("latency.png");
        LatencyPlot.write(List.of(
            new LatencyPlot.Curve("Spate 100,000/s", synthetic(200_000, 42), 0, false),
            new LatencyPlot.Curve("echo 100,000/s", synthetic(20_000, 43), 0, true),
            new LatencyPlot.Curve("Spate 1,000,000/s", synthetic(50_000_000, 44), 1, false),
            new LatencyPlot.Curve("echo 1,000,000/s", synthetic(30_000, 45), 1, true)),
            "synthetic run", file);

        assertTrue(Files.size(file) > 20_000, "a chart with axes, curves and a legend: " + Files.size(file));
        final BufferedImage image = ImageIO.read(file.toFile());
        assertNotNull(image);
        assertEquals(LatencyPlot.WIDTH_PIXELS, image.getWidth());
        assertEquals(LatencyPlot.HEIGHT_PIXELS, image.getHeight());
        assertEquals(0xFFFFFF, image.getRGB(2, 2) & 0xFFFFFF, "white background");
        int coloured = 0;
        for (int y = 0; y < image.getHeight(); y += 2)
        {
            for (int x = 0; x < image.getWidth(); x += 2)
            {
                final int rgb = image.getRGB(x, y);
                final int r = rgb >> 16 & 0xFF;
                final int g = rgb >> 8 & 0xFF;
                final int b = rgb & 0xFF;
                if (Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) > 60)
                {
                    coloured++;
                }
            }
        }
        assertTrue(coloured > 500, "curves drawn in colour: " + coloured + " sampled pixels");
    }

    /** Log-normal-ish latencies around a median (ns). */
    private static Histogram synthetic(final long medianNs, final long seed)
    {
        final Histogram histogram = new Histogram(3_600_000_000_000L, 3);
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 100_000; i++)
        {
            histogram.recordValue((long)(medianNs * Math.exp(random.nextGaussian() * 0.8)));
        }
        return histogram;
    }
}
