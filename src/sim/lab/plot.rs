//! Coverage-vs-time curves, one line per run, as SVG or PNG (chosen by the file extension).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::outcome::Outcome;

/// DejaVu Sans (see assets/fonts/DejaVuSans.LICENSE): bundled so PNG text renders on any
/// machine, with or without system fonts.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

const SIZE: (u32, u32) = (1000, 620);

/// Draws one coverage curve per `(label, outcome)` into `path` (.svg or .png).
pub fn plot_coverage(path: &Path, title: &str, runs: &[(String, &Outcome)]) -> Result<(), String> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled font is known good; if it were not, drawing reports the error below.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => draw(SVGBackend::new(path, SIZE).into_drawing_area(), title, runs),
        Some("png") => draw(
            BitMapBackend::new(path, SIZE).into_drawing_area(),
            title,
            runs,
        ),
        _ => Err(format!(
            "{}: the plot file must end in .svg or .png",
            path.display()
        )),
    }
}

fn draw<B: DrawingBackend>(
    area: DrawingArea<B, Shift>,
    title: &str,
    runs: &[(String, &Outcome)],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<B::ErrorType>| format!("cannot draw the plot: {e}");
    area.fill(&WHITE).map_err(err)?;
    let max_ms = runs
        .iter()
        .flat_map(|(_, o)| o.coverage.last().map(|p| p.ms))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..max_ms, 0.0..101.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since the update (ms)")
        .y_desc("live nodes holding it (%)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(err)?;
    for (i, (label, outcome)) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        // A step curve: coverage holds until the next arrival.
        let mut points = Vec::with_capacity(outcome.coverage.len() * 2 + 1);
        let mut last = 0.0;
        for p in &outcome.coverage {
            points.push((p.ms, last));
            points.push((p.ms, p.pct));
            last = p.pct;
        }
        points.push((max_ms, last));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    area.present().map_err(err)
}
