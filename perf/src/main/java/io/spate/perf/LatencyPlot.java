package io.spate.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The latency percentile curves of several runs in one PNG, HdrHistogram-plotter style: x is
 * 1 / (1 - percentile) on a log axis (90%, 99%, 99.9% ...), y the latency in µs. Headless.
 */
final class LatencyPlot
{
    /** One run's histogram (ns) and its label. */
    record Curve(String label, Histogram histogramNs)
    {
    }

    private LatencyPlot()
    {
    }

    static void write(final List<Curve> curves, final Path file) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        final XYSeriesCollection dataset = new XYSeriesCollection();
        for (final Curve curve : curves)
        {
            final XYSeries series = new XYSeries(curve.label());
            for (final HistogramIterationValue value : curve.histogramNs().percentiles(5))
            {
                final double percentile = value.getPercentileLevelIteratedTo();
                if (percentile >= 100.0)
                {
                    break;
                }
                series.add(1.0 / (1.0 - percentile / 100.0), Math.max(1.0, value.getValueIteratedTo() / 1e3));
            }
            dataset.addSeries(series);
        }
        final LogAxis xAxis = new LogAxis("percentile: 1 / (1 - p)   (10 = 90%, 100 = 99%, 1000 = 99.9%)");
        xAxis.setBase(10);
        final LogAxis yAxis = new LogAxis("ack latency (µs, log scale)");
        yAxis.setBase(10);
        yAxis.setSmallestValue(1);
        final XYPlot plot = new XYPlot(dataset, xAxis, yAxis, new XYLineAndShapeRenderer(true, false));
        final JFreeChart chart = new JFreeChart("Spate ack latency by offered rate", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1000, 600);
    }
}
