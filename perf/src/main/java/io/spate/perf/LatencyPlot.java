package io.spate.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.List;
import java.util.Locale;

/**
 * The latency percentile curves of several runs in one PNG, HdrHistogram-plotter style: x is
 * 1 / (1 - percentile) on a log axis labelled 90%, 99%, 99.9%, 99.99%; y the latency on a log axis in
 * µs or ms. One colour per offered rate: Spate's curve solid, the echo ceiling's dashed. Headless.
 */
final class LatencyPlot
{
    static final int WIDTH_PIXELS = 1200;
    static final int HEIGHT_PIXELS = 700;
    /** The x axis reaches at least 99.99%. */
    static final double MIN_X_MAX = 10_000;
    private static final float LINE_WIDTH = 3.0f;
    private static final float[] DASH = { 10.0f, 6.0f };
    /** Distinct on white and for the common colour blindnesses (Okabe-Ito). */
    private static final Color[] COLOURS =
    {
        new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115), new Color(204, 121, 167),
        new Color(86, 180, 233), new Color(230, 159, 0), new Color(0, 0, 0)
    };

    /**
     * One run's histogram (ns) and its label.
     *
     * @param group  curves of one group (one offered rate) share a colour.
     * @param dashed a ceiling's curve, drawn dashed beside its group's.
     */
    record Curve(String label, Histogram histogramNs, int group, boolean dashed)
    {
    }

    private LatencyPlot()
    {
    }

    static void write(final List<Curve> curves, final String title, final Path file) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        long maxNs = 1;
        for (final Curve curve : curves)
        {
            maxNs = Math.max(maxNs, curve.histogramNs().getValueAtPercentile(99.99));
        }
        // Milliseconds once the tails pass 10 ms: "25" ms reads better than "25,000" µs.
        final boolean millis = maxNs > 10_000_000L;
        final double unitNs = millis ? 1e6 : 1e3;
        final double minValue = millis ? 0.001 : 1.0;

        final XYSeriesCollection dataset = new XYSeriesCollection();
        double xMax = MIN_X_MAX;
        for (final Curve curve : curves)
        {
            final XYSeries series = new XYSeries(curve.label(), false, true);
            for (final HistogramIterationValue value : curve.histogramNs().percentiles(5))
            {
                final double percentile = value.getPercentileLevelIteratedTo();
                if (percentile >= 100.0)
                {
                    break;
                }
                final double x = 1.0 / (1.0 - percentile / 100.0);
                xMax = Math.max(xMax, x);
                series.add(x, Math.max(minValue, value.getValueIteratedTo() / unitNs));
            }
            dataset.addSeries(series);
        }

        final LogAxis xAxis = new LogAxis("percentile");
        xAxis.setBase(10);
        xAxis.setRange(1, Math.pow(10, Math.ceil(Math.log10(xMax))));
        xAxis.setTickUnit(new NumberTickUnit(1));
        xAxis.setMinorTickCount(0);
        xAxis.setNumberFormatOverride(new PercentileFormat());

        final LogAxis yAxis = new LogAxis((millis ? "ack latency (ms" : "ack latency (µs") + ", log scale)");
        yAxis.setBase(10);
        yAxis.setSmallestValue(minValue);
        yAxis.setTickUnit(new NumberTickUnit(1));
        yAxis.setNumberFormatOverride(new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)));

        final XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        for (int i = 0; i < curves.size(); i++)
        {
            final Curve curve = curves.get(i);
            renderer.setSeriesPaint(i, COLOURS[Math.floorMod(curve.group(), COLOURS.length)]);
            renderer.setSeriesStroke(i, curve.dashed() ?
                new BasicStroke(LINE_WIDTH, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10.0f, DASH, 0.0f) :
                new BasicStroke(LINE_WIDTH, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        }
        final XYPlot plot = new XYPlot(dataset, xAxis, yAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        final Font tickFont = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
        final Font labelFont = new Font(Font.SANS_SERIF, Font.BOLD, 15);
        for (final LogAxis axis : new LogAxis[]{ xAxis, yAxis })
        {
            axis.setTickLabelFont(tickFont);
            axis.setLabelFont(labelFont);
        }
        final JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 17), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        // Room for the last tick label (99.999%) at the right edge.
        chart.setPadding(new RectangleInsets(8, 8, 8, 40));
        chart.getLegend().setItemFont(tickFont);
        chart.addSubtitle(new TextTitle("solid: Spate ack latency (producer in a separate JVM); dashed: bare Aeron " +
            "IPC echo at the same offered rate; coordinated-omission corrected", new Font(Font.SANS_SERIF, Font.PLAIN, 13)));
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH_PIXELS, HEIGHT_PIXELS);
    }

    /**
     * @param x 1 / (1 - p), at least 1.
     * @return p as a percentage with as many decimals as it needs: 10 is "90%", 1000 "99.9%".
     */
    static String percentileLabel(final double x)
    {
        if (!(x >= 1.0))
        {
            throw new IllegalArgumentException("1 / (1 - p) is at least 1: " + x);
        }
        // Decimals from the axis position itself: 10^k needs k - 2 of them (90%, 99%, 99.9% ...).
        final int decimals = Math.max(0, (int)Math.ceil(Math.log10(x) - 1e-9) - 2);
        final BigDecimal percent = BigDecimal.valueOf(100.0 * (1.0 - 1.0 / x)).setScale(decimals, RoundingMode.HALF_UP);
        return percent.stripTrailingZeros().toPlainString() + "%";
    }

    /** The x axis' tick labels, through {@link #percentileLabel(double)}. */
    static final class PercentileFormat extends NumberFormat
    {
        public StringBuffer format(final double number, final StringBuffer toAppendTo, final FieldPosition pos)
        {
            return toAppendTo.append(percentileLabel(number));
        }

        public StringBuffer format(final long number, final StringBuffer toAppendTo, final FieldPosition pos)
        {
            return format((double)number, toAppendTo, pos);
        }

        public Number parse(final String source, final ParsePosition parsePosition)
        {
            throw new UnsupportedOperationException("tick labels are not parsed");
        }
    }
}
