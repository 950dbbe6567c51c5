//! Coverage-vs-time curves, as SVG or PNG (chosen by the file extension).
//!
//! A sweep over two parameters (`fanout=1..8` × `strategy=push,push-pull`) is drawn as one
//! panel per value of the second, with the first as colour on a sequential scale (so the
//! order of its values reads at a glance), and the legend beside the panels, never over the
//! curves. A single parameter (or a single run) gets one panel.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use super::outcome::CoveragePoint;

/// DejaVu Sans (see assets/fonts/DejaVuSans.LICENSE): bundled so PNG text renders on any
/// machine, with or without system fonts.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

const HEIGHT: u32 = 620;
const PANEL_WIDTH: u32 = 620;
const LEGEND_WIDTH: u32 = 190;

/// One labelled coverage curve: a run of the simulator or of a swarm of processes.
pub type Curve<'a> = (String, &'a [CoveragePoint]);

/// Draws one coverage curve per `(label, points)` into `path` (.svg or .png). Labels of the
/// form `a=1 b=push` (a sweep's settings) choose the colour and the panel.
pub fn plot_coverage(path: &Path, title: &str, runs: &[Curve]) -> Result<(), String> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled font is known good; if it were not, drawing reports the error below.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let layout = Layout::of(runs);
    let size = (
        PANEL_WIDTH * layout.panels.len().max(1) as u32 + LEGEND_WIDTH,
        HEIGHT,
    );
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => draw(
            SVGBackend::new(path, size).into_drawing_area(),
            title,
            runs,
            &layout,
        ),
        Some("png") => draw(
            BitMapBackend::new(path, size).into_drawing_area(),
            title,
            runs,
            &layout,
        ),
        _ => Err(format!(
            "{}: the plot file must end in .svg or .png",
            path.display()
        )),
    }
}

/// Which run goes in which panel, in which colour.
struct Layout {
    /// Panel titles (values of the second parameter), in order of first appearance; one
    /// untitled panel when there is no second parameter.
    panels: Vec<String>,
    /// Legend entries (values of the first parameter, or whole labels), in order.
    colours: Vec<String>,
    /// Per run: (panel, colour) indices.
    placed: Vec<(usize, usize)>,
}

impl Layout {
    fn of(runs: &[Curve]) -> Self {
        let split = |label: &str| -> (String, Option<String>) {
            let mut parts = label.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) if a.contains('=') && b.contains('=') => {
                    (a.to_string(), Some(b.to_string()))
                }
                _ => (label.to_string(), None),
            }
        };
        let mut panels: Vec<String> = Vec::new();
        let mut colours: Vec<String> = Vec::new();
        let mut placed = Vec::with_capacity(runs.len());
        for (label, _) in runs {
            let (colour, panel) = split(label);
            let panel = panel.unwrap_or_default();
            let p = index_of(&mut panels, panel);
            let c = index_of(&mut colours, colour);
            placed.push((p, c));
        }
        Layout {
            panels,
            colours,
            placed,
        }
    }

    /// The colour of legend entry `i`: a sequential scale, stopping short of its palest end
    /// (which would vanish on white).
    fn colour(&self, i: usize) -> RGBColor {
        let n = self.colours.len().max(2) - 1;
        ViridisRGB::get_color(0.85 * i as f64 / n as f64)
    }
}

fn index_of(list: &mut Vec<String>, item: String) -> usize {
    match list.iter().position(|x| *x == item) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    }
}

fn draw<B: DrawingBackend>(
    area: DrawingArea<B, Shift>,
    title: &str,
    runs: &[Curve],
    layout: &Layout,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<B::ErrorType>| format!("cannot draw the plot: {e}");
    area.fill(&WHITE).map_err(err)?;
    let area = area
        .titled(title, ("sans-serif", 22))
        .map_err(err)?;
    let (width, _) = area.dim_in_pixel();
    let (plots, legend) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let max_ms = runs
        .iter()
        .flat_map(|(_, coverage)| coverage.last().map(|p| p.ms))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.05;
    let panels = plots.split_evenly((1, layout.panels.len().max(1)));
    for (p, panel) in panels.iter().enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(&layout.panels[p], ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_ms, 0.0..101.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since the update (ms)")
            .y_desc("live nodes holding it (%)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for ((_, coverage), &(in_panel, c)) in runs.iter().zip(&layout.placed) {
            if in_panel != p {
                continue;
            }
            // A step curve: coverage holds until the next arrival.
            let mut points = Vec::with_capacity(coverage.len() * 2 + 1);
            let mut last = 0.0;
            for point in coverage.iter() {
                points.push((point.ms, last));
                points.push((point.ms, point.pct));
                last = point.pct;
            }
            points.push((max_ms, last));
            chart
                .draw_series(LineSeries::new(points, layout.colour(c).stroke_width(2)))
                .map_err(err)?;
        }
    }
    // The legend, beside the panels: one line per colour.
    let font = ("sans-serif", 15).into_font();
    for (i, name) in layout.colours.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        let colour = layout.colour(i);
        legend
            .draw(&PathElement::new(
                [(10, y), (40, y)],
                colour.stroke_width(3),
            ))
            .map_err(err)?;
        legend
            .draw(&Text::new(name.clone(), (48, y - 8), font.clone()))
            .map_err(err)?;
    }
    legend.present().map_err(err)?;
    plots.present().map_err(err)
}
