//! PNG figures: image grids with captions, training curves, the confusion matrix.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::images::{ImageShape, Tile};
use crate::error::{Error, Result};
use crate::eval::confusion::ConfusionMatrix;
use crate::eval::sweep::{SweepCell, row_names};
use crate::train::history::{EpochRecord, measured_names};

/// Bundled so figures look the same everywhere, with no system font lookup.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_NAME: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT).unwrap_or_else(|_| panic!("bundled font is valid"));
    });
}

/// Text of `size` px, centred horizontally on its anchor, aligned vertically by `v`.
fn centered(size: u32, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT_NAME, size).into_font()).pos(Pos::new(HPos::Center, v))
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot { path: path.to_path_buf(), problem: e.to_string() }
}

/// The legend box every chart uses: framed, on a faint white background, at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT_NAME, 13))
        .draw()
        .map_err(|e| plot_error(path, e))
}

/// Draws `tiles` (planar images of `shape`, grey or RGB) in a grid of `cols` columns, each
/// image scaled up `scale` times.
pub fn image_grid(path: &Path, title: &str, tiles: &[Tile], shape: ImageShape, cols: usize, scale: usize) -> Result<()> {
    register_font();
    let (h, w) = shape.dims();
    let lines = tiles.iter().map(|t| t.caption.lines().count()).max().unwrap_or(0);
    let caption_h = 16 * lines + 6;
    // Each cell is as wide as its longest caption line, so long class names never overlap.
    let caption_font = (FONT_NAME, 14).into_font();
    let caption_w = tiles.iter().flat_map(|t| t.caption.lines()).map(|line| caption_font.box_size(line).map_or(0, |(w, _)| w as usize)).max().unwrap_or(0);
    let (cell_w, cell_h) = ((w * scale + 16).max(caption_w + 16), h * scale + caption_h + 10);
    let cols = cols.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(cols).max(1);
    let title_h = if title.is_empty() { 0 } else { 34 };
    // Wide enough for the title (about 10 px per character at 20 px).
    let width = (cols * cell_w).max(title.chars().count() * 10 + 20);
    let left = (width - cols * cell_w) / 2;
    let size = (width as u32, (rows * cell_h + title_h) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    if !title.is_empty() {
        root.draw_text(title, &centered(20, VPos::Top), (size.0 as i32 / 2, 6)).map_err(|e| plot_error(path, e))?;
    }
    for (k, tile) in tiles.iter().enumerate() {
        let x0 = (left + k % cols * cell_w + (cell_w - w * scale) / 2) as i32;
        let y0 = (title_h + k / cols * cell_h) as i32;
        for (line_no, line) in tile.caption.lines().enumerate() {
            let cx = (left + k % cols * cell_w + cell_w / 2) as i32;
            root.draw_text(line, &centered(14, VPos::Top), (cx, y0 + 2 + 16 * line_no as i32)).map_err(|e| plot_error(path, e))?;
        }
        let top = y0 + caption_h as i32;
        for r in 0..h {
            for c in 0..w {
                let channel = |k: usize| tile.pixels[(k % shape.channels) * h * w + r * w + c];
                let (x, y) = (x0 + (c * scale) as i32, top + (r * scale) as i32);
                let colour = RGBColor(channel(0), channel(1), channel(2));
                root.draw(&Rectangle::new([(x, y), (x + scale as i32, y + scale as i32)], colour.filled()))
                    .map_err(|e| plot_error(path, e))?;
            }
        }
    }
    root.present().map_err(|e| plot_error(path, e))
}

/// One chart of the training curves: a value and its validation counterpart (`loss` and
/// `val_loss`), as Keras users plot them.
#[derive(Debug, PartialEq)]
struct CurvePanel<'a> {
    /// The value's name, the chart's caption.
    name: &'a str,
    /// The names of the curves drawn on it, each a column of the history.
    series: Vec<&'a str>,
}

/// A panel for the loss and one for each other value `history` recorded, in the order first
/// measured; a `val_` value goes on the panel of the value it validates.
fn curve_panels(history: &[EpochRecord]) -> Vec<CurvePanel<'_>> {
    let mut panels = vec![CurvePanel { name: "loss", series: vec!["loss"] }];
    for name in measured_names(history) {
        let family = name.strip_prefix("val_").unwrap_or(name);
        match panels.iter_mut().find(|panel| panel.name == family) {
            Some(panel) => panel.series.push(name),
            None => panels.push(CurvePanel { name: family, series: vec![name] }),
        }
    }
    panels
}

/// Every value a phase recorded per epoch, a chart each (three to a row): training curves in
/// blue, validation in red, the rest in the colours after them.
pub fn training_curves(path: &Path, title: &str, history: &[EpochRecord]) -> Result<()> {
    register_font();
    let panels = curve_panels(history);
    let columns = panels.len().min(3);
    let rows = panels.len().div_ceil(columns);
    let root = BitMapBackend::new(path, (550 * columns as u32, 420 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let root = root.titled(title, (FONT_NAME, 22)).map_err(|e| plot_error(path, e))?;
    let epochs = history.len().max(2) as f64;
    let value = |record: &EpochRecord, name: &str| if name == "loss" { Some(record.loss) } else { record.get(name) };
    for (area, panel) in root.split_evenly((rows, columns)).iter().zip(&panels) {
        let values: Vec<f64> = history.iter().flat_map(|r| panel.series.iter().filter_map(|name| value(r, name))).filter(|v| v.is_finite()).collect();
        // A loss that falls over decades (the notebook's raw pixels start it near 100) is read
        // on a log scale: the values are drawn as log10 and the axis labelled with the values.
        let log = panel.name == "loss" && spans_decades(&values);
        let scale = move |v: f64| if log { v.log10() } else { v };
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(scale(v)), hi.max(scale(v))));
        let (lo, hi) = match (lo < hi, values.is_empty()) {
            (true, _) => (lo, hi),
            (false, false) => (lo - 0.5, lo + 0.5),
            (false, true) => (0.0, 1.0),
        };
        let pad = (hi - lo) * 0.05;
        let caption = if log { format!("{} (log scale)", panel.name) } else { panel.name.to_string() };
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .caption(caption, (FONT_NAME, 18))
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1.0..epochs, (lo - pad)..(hi + pad))
            .map_err(|e| plot_error(path, e))?;
        let unscaled = move |y: &f64| if log { significant(10f64.powf(*y)) } else { format!("{}", (y * 1e4).round() / 1e4) };
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| if x.fract() == 0.0 { format!("{x}") } else { String::new() })
            .y_label_formatter(&unscaled)
            .label_style((FONT_NAME, 13))
            .draw()
            .map_err(|e| plot_error(path, e))?;
        for (&name, color) in panel.series.iter().zip([BLUE, RED, GREEN, MAGENTA, CYAN].into_iter().cycle()) {
            let points: Vec<(f64, f64)> = history.iter().filter_map(|r| value(r, name).map(|v| (r.epoch as f64, scale(v)))).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| plot_error(path, e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, path)?;
    }
    root.present().map_err(|e| plot_error(path, e))
}

/// `value` with three significant digits (31.6, 3.16, 0.316).
fn significant(value: f64) -> String {
    // 10^0 drawn from a tick at -1e-16 is 0.99999...: nudged, it counts as 1.
    let decimals = (2 - (value.abs() * (1.0 + 1e-9)).log10().floor() as i32).max(0) as usize;
    format!("{value:.decimals$}")
}

/// Whether positive `values` span more than a factor of 30 (a log scale reads them better).
fn spans_decades(values: &[f64]) -> bool {
    let (lo, hi) = values.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    lo > 0.0 && hi / lo > 30.0
}

/// The confusion matrix as a heat map, rows normalised, with counts in the cells.
pub fn confusion_matrix(path: &Path, matrix: &ConfusionMatrix, classes: &[String]) -> Result<()> {
    register_font();
    let n = matrix.counts.len();
    let cell = 52i32;
    let (left, top) = (130i32, 70i32);
    let size = ((left + cell * n as i32 + 30) as u32, (top + cell * n as i32 + 70) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let text = |size: u32| centered(size, VPos::Center);
    let draw = |t: &str, style: &TextStyle, at: (i32, i32)| root.draw_text(t, style, at).map_err(|e| plot_error(path, e));
    draw("Confusion matrix (rows: true class, columns: predicted)", &text(18), (size.0 as i32 / 2, 22))?;
    for (t, row) in matrix.counts.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            let shade = (255.0 * (1.0 - share)) as u8;
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], RGBColor(shade, shade, 255).filled()))
                .map_err(|e| plot_error(path, e))?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            draw(&count.to_string(), &text(14).color(&ink), (x + cell / 2, y + cell / 2))?;
        }
        let name = classes.get(t).map_or("?", String::as_str);
        draw(name, &text(13), (left - 55, top + t as i32 * cell + cell / 2))?;
        draw(name, &text(13), (left + t as i32 * cell + cell / 2, top + n as i32 * cell + 14))?;
    }
    draw("predicted", &text(15), (left + cell * n as i32 / 2, top + n as i32 * cell + 44))?;
    root.present().map_err(|e| plot_error(path, e))
}

/// Ten distinguishable colours (Tableau 10), one per class.
const CLASS_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A scatter plot of 2-D points coloured by class, with a legend of class names.
pub fn embedding(path: &Path, title: &str, points: &[(f64, f64)], labels: &[usize], classes: &[String]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (820, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let range = |pick: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points.iter().map(pick).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo < hi { lo..hi } else { lo - 1.0..lo + 1.0 }
    };
    let mut chart = ChartBuilder::on(&root)
        .margin(14)
        .caption(title, (FONT_NAME, 20))
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(range(|p| p.0), range(|p| p.1))
        .map_err(|e| plot_error(path, e))?;
    chart.configure_mesh().x_desc("PC 1").y_desc("PC 2").label_style((FONT_NAME, 13)).draw().map_err(|e| plot_error(path, e))?;
    for (class, name) in classes.iter().enumerate() {
        let color = CLASS_COLORS[class % CLASS_COLORS.len()];
        let mine = points.iter().zip(labels).filter(|(_, l)| **l == class).map(|(p, _)| Circle::new(*p, 2, color.mix(0.6).filled()));
        chart
            .draw_series(mine)
            .map_err(|e| plot_error(path, e))?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, path)?;
    root.present().map_err(|e| plot_error(path, e))
}

/// Test accuracy against the number of labels (log scale), one line per method and protocol, with
/// mean ± one standard deviation over seeds.
pub fn label_curves(path: &Path, cells: &[SweepCell]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let (lo_x, hi_x) = cells.iter().fold((f64::INFINITY, 0f64), |(lo, hi), c| (lo.min(c.labels as f64), hi.max(c.labels as f64)));
    let lo_y = cells.iter().map(|c| c.mean - c.std).fold(1.0, f64::min).max(0.0);
    let mut chart = ChartBuilder::on(&root)
        .margin(14)
        .caption("Test accuracy against labelled images (mean ± std over seeds)", (FONT_NAME, 20))
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((lo_x * 0.8..hi_x * 1.25).log_scale(), (lo_y - 0.02)..1.0)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("labelled images")
        .x_label_formatter(&|x| format!("{}", x.round()))
        .y_desc("test accuracy")
        .label_style((FONT_NAME, 13))
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (k, name) in row_names(cells).into_iter().enumerate() {
        let color = CLASS_COLORS[k % CLASS_COLORS.len()];
        let mine: Vec<&SweepCell> = cells.iter().filter(|c| c.name() == name).collect();
        let line = mine.iter().map(|c| (c.labels as f64, c.mean));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))
            .map_err(|e| plot_error(path, e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        let bars = mine.iter().map(|c| {
            ErrorBar::new_vertical(c.labels as f64, c.mean - c.std, c.mean, c.mean + c.std, color.stroke_width(1), 8)
        });
        chart.draw_series(bars).map_err(|e| plot_error(path, e))?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, path)?;
    root.present().map_err(|e| plot_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, measured: &[(&'static str, f64)]) -> EpochRecord {
        EpochRecord { epoch, loss: 3.0 - epoch as f64, measured: measured.iter().copied().collect(), learning_rate: 0.002, seconds: 1.0 }
    }

    #[test]
    fn each_value_recorded_gets_a_chart_with_its_validation_counterpart() {
        let history = [record(1, &[("accuracy", 0.5), ("val_loss", 2.0), ("val_accuracy", 0.4)]), record(2, &[("accuracy", 0.6), ("knn_accuracy", 0.7)])];
        let panels = curve_panels(&history);
        let drawn: Vec<(&str, Vec<&str>)> = panels.into_iter().map(|p| (p.name, p.series)).collect();
        assert_eq!(drawn, [("loss", vec!["loss", "val_loss"]), ("accuracy", vec!["accuracy", "val_accuracy"]), ("knn_accuracy", vec!["knn_accuracy"])]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        training_curves(&path, "Pretext training: rotation", &history).unwrap();
        assert_eq!(image::image_dimensions(&path).unwrap(), (3 * 550, 420));
    }

    #[test]
    fn curves_draw_a_history_of_the_loss_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        training_curves(&path, "Pretext training: simclr", &[record(1, &[]), record(2, &[])]).unwrap();
        assert_eq!(image::image_dimensions(&path).unwrap(), (550, 420));
    }

    #[test]
    fn colour_tiles_keep_their_colours_and_grey_ones_stay_grey() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        // A 2x2 RGB tile: red planes 200, green 30, blue 90; and a grey one at 120.
        let rgb = Tile { pixels: [[200; 4], [30; 4], [90; 4]].concat(), caption: "rgb".into() };
        image_grid(&path, "", &[rgb], ImageShape::square(3, 2), 1, 4).unwrap();
        let png = image::open(&path).unwrap().to_rgb8();
        assert!(png.pixels().any(|p| p.0 == [200, 30, 90]), "no pixel has the tile's colour");
        let grey = Tile { pixels: vec![120; 4], caption: "grey".into() };
        image_grid(&path, "", &[grey], ImageShape::square(1, 2), 1, 4).unwrap();
        let png = image::open(&path).unwrap().to_rgb8();
        assert!(png.pixels().any(|p| p.0 == [120, 120, 120]));
    }

    #[test]
    fn log_axis_labels_keep_three_significant_digits() {
        let labels: Vec<String> = [100.0, 31.622_776, 3.162_277_6, 1.0, 0.999_999_999_999_9, 0.316_227_76].map(significant).into();
        assert_eq!(labels, ["100", "31.6", "3.16", "1.00", "1.00", "0.316"]);
    }

    #[test]
    fn a_loss_falling_over_decades_is_drawn_on_a_log_scale() {
        assert!(spans_decades(&[83.3, 12.0, 0.23])); // the seed preset's downstream loss
        assert!(!spans_decades(&[2.3, 0.9, 0.1]));
        assert!(!spans_decades(&[0.0, 5.0]), "zero has no logarithm");
    }

    #[test]
    fn cells_are_as_wide_as_their_longest_caption() {
        register_font();
        let caption = "Prediction: Ankle boot (100%)\nTrue answer: T-shirt/top";
        let width = (FONT_NAME, 14).into_font().box_size("Prediction: Ankle boot (100%)").unwrap().0;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let tile = Tile { pixels: vec![0; 4], caption: caption.into() };
        image_grid(&path, "", &[tile.clone(), tile.clone(), tile], ImageShape::square(1, 2), 3, 1).unwrap();
        assert!(image::open(&path).unwrap().width() >= 3 * width, "captions of neighbouring cells overlap");
    }
}
