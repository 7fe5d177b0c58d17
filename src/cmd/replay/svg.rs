//! A small SVG chart: a time axis, a value axis (or named lanes), lines, step series, markers, shaded
//! spans and marked instants — what the replay report draws, with no dependency and no font lookups
//! (the browser lays out the text).

use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 34.0;

/// Escapes text for XML.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One chart under construction.
#[derive(Debug)]
pub struct Chart {
    title: String,
    x: (f64, f64),
    y: (f64, f64),
    height: f64,
    lanes: Vec<String>,
    x_label: String,
    body: String,
    legend: Vec<(String, String)>,
}

impl Chart {
    /// A chart of `height` pixels over `x` (seconds) and `y`.
    #[must_use]
    pub fn new(title: &str, x: (f64, f64), y: (f64, f64), height: f64) -> Self {
        let y = if y.1 > y.0 { y } else { (y.0, y.0 + 1.0) };
        let x = if x.1 > x.0 { x } else { (x.0, x.0 + 1.0) };
        Self {
            title: title.to_owned(),
            x,
            y,
            height,
            lanes: Vec::new(),
            x_label: "seconds from the fault".to_owned(),
            body: String::new(),
            legend: Vec::new(),
        }
    }

    /// A chart with one horizontal lane per name (the y axis is categorical).
    #[must_use]
    pub fn lanes(title: &str, x: (f64, f64), lanes: Vec<String>) -> Self {
        let height = TOP + BOTTOM + 26.0 * lanes.len().max(1) as f64;
        let mut chart = Self::new(title, x, (0.0, lanes.len().max(1) as f64), height);
        chart.lanes = lanes;
        chart
    }

    /// Names the x axis.
    #[must_use]
    pub fn x_label(mut self, label: &str) -> Self {
        label.clone_into(&mut self.x_label);
        self
    }

    /// The y of lane `name` (its centre), if it is one of the chart's lanes.
    #[must_use]
    pub fn lane(&self, name: &str) -> Option<f64> {
        let i = self.lanes.iter().position(|l| l == name)?;
        Some(self.lanes.len() as f64 - i as f64 - 0.5)
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let inner = self.height - TOP - BOTTOM;
        TOP + inner - (y - self.y.0) / (self.y.1 - self.y.0) * inner
    }

    fn legend_entry(&mut self, label: &str, color: &str) {
        if !label.is_empty() && !self.legend.iter().any(|(l, _)| l == label) {
            self.legend.push((label.to_owned(), color.to_owned()));
        }
    }

    /// A polyline through `points`.
    pub fn line(&mut self, points: &[(f64, f64)], color: &str, label: &str) {
        self.path(points, color, label, false);
    }

    /// A step series: each value holds until the next point.
    pub fn steps(&mut self, points: &[(f64, f64)], color: &str, label: &str) {
        self.path(points, color, label, true);
    }

    fn path(&mut self, points: &[(f64, f64)], color: &str, label: &str, steps: bool) {
        if points.is_empty() {
            return;
        }
        let mut d = String::new();
        let mut last_y = None;
        for (i, &(x, y)) in points.iter().enumerate() {
            let (px, py) = (self.px(x), self.py(y));
            if i == 0 {
                let _ = write!(d, "M{px:.1},{py:.1}");
            } else {
                if steps && let Some(ly) = last_y {
                    let _ = write!(d, " L{px:.1},{ly:.1}");
                }
                let _ = write!(d, " L{px:.1},{py:.1}");
            }
            last_y = Some(py);
        }
        let _ = write!(
            self.body,
            r#"<path class="series" d="{d}" fill="none" stroke="{color}" stroke-width="2"><title>{}</title></path>"#,
            escape(label)
        );
        self.legend_entry(label, color);
    }

    /// A marker at each `(x, y, tooltip)`.
    pub fn markers(&mut self, points: &[(f64, f64, String)], color: &str, label: &str) {
        for (x, y, tip) in points {
            let _ = write!(
                self.body,
                r##"<circle class="marker" cx="{:.1}" cy="{:.1}" r="5" fill="{color}" stroke="#222" stroke-width="0.6"><title>{}</title></circle>"##,
                self.px(*x),
                self.py(*y),
                escape(tip)
            );
        }
        if !points.is_empty() {
            self.legend_entry(label, color);
        }
    }

    /// A text label at `(x, y)`.
    pub fn label(&mut self, x: f64, y: f64, text: &str) {
        let _ = write!(
            self.body,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#222">{}</text>"##,
            self.px(x) + 7.0,
            self.py(y) - 6.0,
            escape(text)
        );
    }

    /// A shaded span from `x0` to `x1`.
    pub fn span(&mut self, x0: f64, x1: f64, color: &str, label: &str) {
        let (a, b) = (self.px(x0.max(self.x.0)), self.px(x1.min(self.x.1)));
        if b <= a {
            return;
        }
        let _ = write!(
            self.body,
            r#"<rect class="span" x="{a:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{color}" opacity="0.25"><title>{}</title></rect>"#,
            b - a,
            self.height - TOP - BOTTOM,
            escape(label)
        );
        self.legend_entry(label, color);
    }

    /// A vertical line at `x`, labelled.
    pub fn instant(&mut self, x: f64, color: &str, label: &str) {
        if x < self.x.0 || x > self.x.1 {
            return;
        }
        let px = self.px(x);
        let _ = write!(
            self.body,
            r#"<line class="instant" x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="5,3"><title>{}</title></line>"#,
            self.height - BOTTOM,
            escape(label)
        );
        self.legend_entry(label, color);
    }

    /// The finished `<svg>` element.
    #[must_use]
    pub fn render(&self) -> String {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h:.0}" viewBox="0 0 {WIDTH} {h:.0}" role="img" aria-label="{t}"><title>{t}</title><rect x="0" y="0" width="{WIDTH}" height="{h:.0}" fill="white"/>"#,
            h = self.height,
            t = escape(&self.title)
        );
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="17" font-size="13" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        self.axes(&mut svg);
        svg.push_str(&self.body);
        // The legend: one row under the title, left to right.
        let mut lx = LEFT;
        for (label, color) in &self.legend {
            let _ = write!(
                svg,
                r#"<rect x="{lx:.1}" y="24" width="10" height="10" fill="{color}"/><text x="{:.1}" y="33" font-size="11">{}</text>"#,
                lx + 13.0,
                escape(label)
            );
            lx += 24.0 + 6.5 * label.chars().count() as f64;
        }
        svg.push_str("</svg>");
        svg
    }

    fn axes(&self, svg: &mut String) {
        let (bottom, right) = (self.height - BOTTOM, WIDTH - RIGHT);
        let _ = write!(
            svg,
            "<g stroke=\"#999\" stroke-width=\"1\"><line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/><line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/></g>"
        );
        for tick in ticks(self.x.0, self.x.1, 8) {
            let px = self.px(tick);
            let _ = write!(
                svg,
                "<line x1=\"{px:.1}\" y1=\"{bottom}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                bottom + 4.0,
                bottom + 15.0,
                format_tick(tick)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
            (LEFT + right) / 2.0,
            self.height - 4.0,
            escape(&self.x_label)
        );
        if self.lanes.is_empty() {
            for tick in ticks(self.y.0, self.y.1, 4) {
                let py = self.py(tick);
                let _ = write!(
                    svg,
                    "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{right}\" y2=\"{py:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                    LEFT - 4.0,
                    py + 3.0,
                    format_tick(tick)
                );
            }
        } else {
            for lane in &self.lanes {
                let py = self.py(self.lane(lane).unwrap_or_default());
                let _ = write!(
                    svg,
                    "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{right}\" y2=\"{py:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                    LEFT - 4.0,
                    py + 3.0,
                    escape(&shorten(lane, 28))
                );
            }
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(max - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// About `n` round tick values covering `[lo, hi]`.
#[must_use]
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let raw = (hi - lo) / n.max(1) as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return vec![lo];
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut tick = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while tick <= hi + step * 1e-9 {
        out.push(tick + 0.0); // no negative zero
        tick += step;
    }
    out
}

fn format_tick(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(-300.0, 600.0, 4), vec![-250.0, 0.0, 250.0, 500.0]);
        assert_eq!(ticks(5.0, 5.0, 4), vec![5.0]);
    }

    #[test]
    fn a_chart_places_series_inside_its_frame_and_escapes_text() {
        let mut chart = Chart::new("a <b>", (0.0, 100.0), (0.0, 10.0), 200.0);
        chart.line(&[(0.0, 0.0), (100.0, 10.0)], "red", "load & more");
        chart.instant(50.0, "black", "fault");
        chart.instant(500.0, "black", "outside");
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(&format!("M{LEFT:.1},{:.1}", 200.0 - BOTTOM)));
        assert!(svg.contains(&format!("L{:.1},{TOP:.1}", WIDTH - RIGHT)));
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("load &amp; more"));
        assert_eq!(
            svg.matches("class=\"instant\"").count(),
            1,
            "outside the range: not drawn"
        );
    }

    #[test]
    fn lanes_are_listed_top_down() {
        let chart = Chart::lanes("l", (0.0, 1.0), vec!["a".into(), "b".into()]);
        assert!(chart.lane("a") > chart.lane("b"));
        assert_eq!(chart.lane("c"), None);
    }
}
