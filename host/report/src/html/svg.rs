//! Hand-written SVG: a linear scale, "nice" axis ticks and an element
//! writer. Every chart of the report is drawn with these so that the SVG
//! carries classes, `<title>` tooltips and a `viewBox` (it scales down in a
//! narrow page and keeps its text readable at 1280 px).

use std::fmt::Write;

/// Text, HTML-escaped for element content and quoted attributes. Control
/// characters and bidirectional overrides (which a model's tensor names or
/// a label file may hold) are shown as `\u{..}`, not obeyed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c if c.is_control() && c != '\n' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate, to a tenth of a pixel.
pub fn px(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Rough width of `text` at `size` px in a sans-serif font (DejaVu Sans is
/// the widest common one: about 0.6 em per character).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// Maps a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// `[d0, d1]` onto `[r0, r1]` (an empty data interval maps to `r0`).
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Scale {
        Scale { d0, d1, r0, r1 }
    }

    /// The pixel of `v`.
    pub fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span.abs() < f64::EPSILON {
            return self.r0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }

    /// The pixel of `v`, kept inside the pixel interval.
    pub fn clamped(&self, v: f64) -> f64 {
        let (lo, hi) = if self.r0 <= self.r1 {
            (self.r0, self.r1)
        } else {
            (self.r1, self.r0)
        };
        self.at(v).clamp(lo, hi)
    }

    /// The data interval.
    pub fn domain(&self) -> (f64, f64) {
        (self.d0, self.d1)
    }
}

/// About `count` round tick values (1, 2 or 5 × 10^k apart) covering
/// `[lo, hi]`, and their spacing.
pub fn ticks(lo: f64, hi: f64, count: usize) -> (Vec<f64>, f64) {
    let step = tick_step(lo, hi, count);
    let first = (lo / step - 1e-9).ceil() * step;
    let mut out = Vec::new();
    let mut i = 0.0;
    loop {
        let v = first + i * step;
        if v > hi + step * 1e-9 || out.len() > 1000 {
            break;
        }
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        i += 1.0;
    }
    (out, step)
}

/// The most ticks, up to about `count`, whose spacing `fits`; at least the
/// ends' round values.
pub fn spaced_ticks(
    lo: f64,
    hi: f64,
    count: usize,
    fits: impl Fn(&[f64], f64) -> bool,
) -> (Vec<f64>, f64) {
    for c in (1..=count.max(1)).rev() {
        let (values, step) = ticks(lo, hi, c);
        if fits(&values, step) {
            return (values, step);
        }
    }
    let (values, step) = ticks(lo, hi, 1);
    let mut ends: Vec<f64> = [values.first().copied(), values.last().copied()]
        .into_iter()
        .flatten()
        .collect();
    ends.dedup();
    (ends, step)
}

/// The round spacing of about `count` ticks over `[lo, hi]`.
pub fn tick_step(lo: f64, hi: f64, count: usize) -> f64 {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    mag * if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    }
}

/// `[lo, hi]` widened to whole tick steps.
pub fn nice_range(lo: f64, hi: f64, count: usize) -> (f64, f64) {
    let (lo, hi) = if hi - lo < 1e-12 {
        let pad = (lo.abs() * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let step = tick_step(lo, hi, count);
    (
        (lo / step + 1e-9).floor() * step,
        (hi / step - 1e-9).ceil() * step,
    )
}

/// A tick value with as many decimals as its spacing needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_owned()
    } else {
        s
    }
}

/// Horizontal text alignment.
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    /// Text starts at x.
    Start,
    /// Text is centred on x.
    Middle,
    /// Text ends at x.
    End,
}

impl Anchor {
    fn word(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

/// Muted colours of axes, grid and secondary text.
pub const AXIS: &str = "#6b7280";
/// Grid lines.
pub const GRID: &str = "#e5e7eb";
/// Main text.
pub const INK: &str = "#1f2937";
/// Marks of what lies outside a chart's range.
pub const ALERT: &str = "#c2410c";

impl Svg {
    /// An SVG of `width` × `height` user units that scales down with its
    /// container; `label` is its accessible name. Written for inline use in
    /// HTML, where no namespace declaration is needed (and the page keeps
    /// free of any URL).
    pub fn new(width: f64, height: f64, class: &str, label: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"{}\" viewBox=\"0 0 {} {}\" \
             width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\" \
             font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">",
            escape(class),
            px(width),
            px(height),
            px(width),
            px(height),
            escape(label)
        );
        Svg { out }
    }

    /// Appends raw SVG.
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// A line.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, w: f64) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
            px(x1),
            px(y1),
            px(x2),
            px(y2),
            px(w)
        );
    }

    /// A dashed line; `dash` like `"4 3"`.
    pub fn dashed(&mut self, a: (f64, f64), b: (f64, f64), stroke: &str, w: f64, dash: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\" \
             stroke-dasharray=\"{dash}\"/>",
            px(a.0),
            px(a.1),
            px(b.0),
            px(b.1),
            px(w)
        );
    }

    /// A filled rectangle, with a tooltip when `title` is not empty.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"",
            px(x),
            px(y),
            px(w.max(0.0)),
            px(h.max(0.0))
        );
        self.close_with_title("rect", title);
    }

    /// A circle, with a tooltip when `title` is not empty.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, title: &str) {
        let _ = write!(
            self.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"",
            px(x),
            px(y),
            px(r)
        );
        self.close_with_title("circle", title);
    }

    /// A stroked path (`d` in SVG path syntax).
    pub fn path(&mut self, d: &str, stroke: &str, w: f64, title: &str) {
        let _ = write!(
            self.out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{}\" \
             stroke-linejoin=\"round\"",
            px(w)
        );
        self.close_with_title("path", title);
    }

    /// A filled path.
    pub fn fill_path(&mut self, d: &str, fill: &str, title: &str) {
        let _ = write!(self.out, "<path d=\"{d}\" fill=\"{fill}\"");
        self.close_with_title("path", title);
    }

    fn close_with_title(&mut self, tag: &str, title: &str) {
        if title.is_empty() {
            self.out.push_str("/>");
        } else {
            let _ = write!(self.out, "><title>{}</title></{tag}>", escape(title));
        }
    }

    /// Text (escaped here).
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, style: &TextStyle, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" fill=\"{}\"",
            px(x),
            px(y),
            anchor.word(),
            style.fill
        );
        if (style.size - 12.0).abs() > f64::EPSILON {
            let _ = write!(self.out, " font-size=\"{}\"", px(style.size));
        }
        if style.bold {
            self.out.push_str(" font-weight=\"bold\"");
        }
        let _ = write!(self.out, ">{}</text>", escape(text));
    }

    /// Text turned 90° anticlockwise around its position (a y-axis title).
    pub fn vtext(&mut self, x: f64, y: f64, style: &TextStyle, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"0\" y=\"0\" text-anchor=\"middle\" fill=\"{}\" font-size=\"{}\" \
             transform=\"translate({} {}) rotate(-90)\">{}</text>",
            style.fill,
            px(style.size),
            px(x),
            px(y),
            escape(text)
        );
    }

    /// A horizontal axis at pixel row `y`: ticks, their labels, and grid
    /// lines up to `grid_top` (none when `grid_top >= y`).
    pub fn x_axis(&mut self, scale: &Scale, y: f64, grid_top: f64, count: usize, label: &str) {
        let (d0, d1) = scale.domain();
        let (x0, x1) = (scale.at(d0), scale.at(d1));
        // As many ticks as there is room for their labels.
        let (values, step) = spaced_ticks(d0, d1, count, |values, step| {
            let widest = values
                .iter()
                .map(|v| text_width(&tick_label(*v, step), 11.0))
                .fold(0.0, f64::max);
            (scale.at(d0 + step) - scale.at(d0)).abs() >= widest + 12.0
        });
        for v in values {
            let x = scale.at(v);
            if grid_top < y {
                self.line((x, grid_top), (x, y), GRID, 1.0);
            }
            self.line((x, y), (x, y + 4.0), AXIS, 1.0);
            self.text(
                x,
                y + 16.0,
                Anchor::Middle,
                &TextStyle::muted(),
                &tick_label(v, step),
            );
        }
        self.line((x0, y), (x1, y), AXIS, 1.0);
        if !label.is_empty() {
            self.text(
                (x0 + x1) / 2.0,
                y + 33.0,
                Anchor::Middle,
                &TextStyle::plain(),
                label,
            );
        }
    }

    /// A vertical axis at pixel column `x`: ticks, labels, and grid lines
    /// to `grid_right`.
    pub fn y_axis(&mut self, scale: &Scale, x: f64, grid_right: f64, count: usize, unit: &str) {
        let (d0, d1) = scale.domain();
        let (lo, hi) = (d0.min(d1), d0.max(d1));
        let (values, step) = spaced_ticks(lo, hi, count, |_, step| {
            (scale.at(lo + step) - scale.at(lo)).abs() >= 16.0
        });
        for v in values {
            let y = scale.at(v);
            self.line((x, y), (grid_right, y), GRID, 1.0);
            self.line((x - 4.0, y), (x, y), AXIS, 1.0);
            let mut label = tick_label(v, step);
            label.push_str(unit);
            self.text(x - 6.0, y + 4.0, Anchor::End, &TextStyle::muted(), &label);
        }
        self.line((x, scale.at(d0)), (x, scale.at(d1)), AXIS, 1.0);
    }

    /// The finished SVG element.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// How a text element looks.
#[derive(Debug, Clone)]
pub struct TextStyle {
    /// Font size, px.
    pub size: f64,
    /// Colour.
    pub fill: String,
    /// Bold.
    pub bold: bool,
}

impl TextStyle {
    /// 12 px, main text colour.
    pub fn plain() -> TextStyle {
        TextStyle {
            size: 12.0,
            fill: INK.to_owned(),
            bold: false,
        }
    }

    /// 11 px, muted (tick labels, notes).
    pub fn muted() -> TextStyle {
        TextStyle {
            size: 11.0,
            fill: AXIS.to_owned(),
            bold: false,
        }
    }

    /// 13 px bold (panel titles).
    pub fn title() -> TextStyle {
        TextStyle {
            size: 13.0,
            fill: INK.to_owned(),
            bold: true,
        }
    }

    /// This style in another colour.
    pub fn colored(mut self, fill: &str) -> TextStyle {
        self.fill = fill.to_owned();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, step) = ticks(0.0, 13.7, 6);
        assert_eq!(step, 2.0);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        let (t, step) = ticks(0.013, 0.061, 5);
        assert!((step - 0.01).abs() < 1e-12, "{step}");
        assert_eq!(t.len(), 5, "{t:?}");
        assert_eq!(tick_label(0.02, 0.01), "0.02");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(nice_range(3.2, 97.0, 5), (0.0, 100.0));
        let (lo, hi) = nice_range(5.0, 5.0, 4);
        assert!(lo < 5.0 && hi > 5.0);
    }

    #[test]
    fn escape_covers_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn escape_shows_bidi_overrides_and_control_characters() {
        assert_eq!(escape("cat\u{202E}god\x1b[2J"), "cat\\u{202e}god\\u{1b}[2J");
    }

    #[test]
    fn scale_maps_and_clamps() {
        let s = Scale::new(0.0, 10.0, 100.0, 200.0);
        assert_eq!(s.at(5.0), 150.0);
        assert_eq!(s.clamped(20.0), 200.0);
        let flipped = Scale::new(0.0, 1.0, 50.0, 10.0);
        assert_eq!(flipped.at(1.0), 10.0);
        assert_eq!(flipped.clamped(-1.0), 50.0);
    }
}
