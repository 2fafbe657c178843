package io.portcullis.loadtest;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG plots of the suite's results, drawn with XChart (headless). */
final class Charts {
  static {
    System.setProperty("java.awt.headless", "true");
  }

  private Charts() {}

  /**
   * Latency by percentile, one line per run, from HdrHistogram's percentile distribution; the x
   * axis is {@code 1/(1-p)} on a log scale, labelled as percentiles (the HdrHistogram plotter's
   * convention), so the tail is readable.
   */
  static void percentiles(String title, Map<String, Histogram> runs, Path file) throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(1000)
            .height(600)
            .title(title)
            .xAxisTitle("percentile")
            .yAxisTitle("latency (ms, from intended start)")
            .build();
    style(chart);
    chart.getStyler().setXAxisLogarithmic(true);
    chart.getStyler().setYAxisLogarithmic(true);
    chart
        .getStyler()
        .setxAxisTickLabelsFormattingFunction(
            x -> {
              double p = 100 * (1 - 1 / x);
              return p < 99.5 ? String.format("%.0f%%", p) : String.format("%.3g%%", p);
            });
    for (Map.Entry<String, Histogram> e : runs.entrySet()) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      for (HistogramIterationValue v : e.getValue().percentiles(5)) {
        double p = v.getPercentileLevelIteratedTo() / 100.0;
        if (p >= 0.999999) {
          break;
        }
        xs.add(1 / (1 - p));
        ys.add(Math.max(0.001, v.getValueIteratedTo() / 1000.0));
      }
      if (xs.size() > 1) {
        XYSeries s = chart.addSeries(e.getKey(), xs, ys);
        s.setMarker(SeriesMarkers.NONE);
      }
    }
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  /**
   * p99 against the achieved rate of every step of a capacity search that kept up with its offered
   * rate, per scenario.
   */
  static void throughputLatency(String title, Map<String, List<RunResult>> series, Path file)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(1000)
            .height(600)
            .title(title)
            .xAxisTitle("achieved rate (requests/s)")
            .yAxisTitle("p99 latency (ms)")
            .build();
    style(chart);
    chart.getStyler().setYAxisLogarithmic(true);
    for (Map.Entry<String, List<RunResult>> e : series.entrySet()) {
      // overloaded steps (achieved well below offered) would fold the curve back on itself
      List<RunResult> steps =
          new ArrayList<>(
              e.getValue().stream()
                  .filter(r -> r.achievedRate() >= 0.95 * r.offeredRate())
                  .toList());
      steps.sort(Comparator.comparingDouble(RunResult::offeredRate));
      if (steps.isEmpty()) {
        continue;
      }
      List<Double> xs = steps.stream().map(RunResult::achievedRate).toList();
      List<Double> p99 = steps.stream().map(r -> Math.max(0.001, r.p99Ms())).toList();
      chart.addSeries(e.getKey() + " p99", xs, p99).setMarker(SeriesMarkers.CIRCLE);
    }
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  /** Side-by-side bars (decisions/s, p99) for the limiter comparison. */
  static void bars(
      String title, String yTitle, List<String> names, List<? extends Number> values, Path file)
      throws IOException {
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(800)
            .height(500)
            .title(title)
            .xAxisTitle("")
            .yAxisTitle(yTitle)
            .build();
    chart.getStyler().setLegendVisible(false);
    chart.getStyler().setLabelsVisible(true);
    chart.addSeries(yTitle, names, values);
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static void style(XYChart chart) {
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setMarkerSize(6);
    chart.getStyler().setChartTitleVisible(true);
  }
}
