//! Image pre-processing for model inputs: decode (PNG, JPEG, PNM) under a pixel
//! budget, crop, resize (bilinear; stretch or letterbox keeping aspect),
//! RGB/BGR, mean/std normalization, NCHW/NHWC, f32 or u8 output.
//!
//! Assumes a little-endian target (x86, Arm, WebAssembly).
//!
//! Pure Rust with no WebAssembly types: the image pre-processor component
//! wraps it, and native benchmarks run the very same code.

#![warn(missing_docs)]

use serde::Deserialize;

/// Errors, split as the WIT contract splits them.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A parameter is missing or invalid; the text names it.
    Params(String),
    /// The image cannot be decoded or is too large.
    Input(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Params(m) => write!(f, "invalid params: {m}"),
            Error::Input(m) => write!(f, "invalid input: {m}"),
        }
    }
}

/// How the image is fitted into the tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Scale each axis independently to the tensor size.
    #[default]
    Stretch,
    /// Keep the aspect ratio, centre the image and pad the rest.
    Letterbox,
}

/// Channel order of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Red, green, blue.
    #[default]
    Rgb,
    /// Blue, green, red.
    Bgr,
}

/// Memory layout of the output tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[1, C, H, W]`.
    #[default]
    Nchw,
    /// `[1, H, W, C]`.
    Nhwc,
}

/// Element type of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutType {
    /// `(pixel - mean) / std` as 32-bit floats.
    #[default]
    F32,
    /// Resized pixels rounded to bytes (no normalization).
    U8,
}

/// A rectangle of the original image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Parameters of the image pre-processor, as written in app.json.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Tensor width in pixels.
    pub width: u32,
    /// Tensor height in pixels.
    pub height: u32,
    /// Stretch (default) or letterbox.
    #[serde(default)]
    pub resize: Resize,
    /// Crop this rectangle of the original first.
    #[serde(default)]
    pub crop: Option<Rect>,
    /// Keep this central fraction of the shorter side first (e.g. 0.875).
    #[serde(default)]
    pub center_crop: Option<f32>,
    /// Channel order (default rgb).
    #[serde(default)]
    pub color: Color,
    /// Per-channel mean subtracted from pixel values in 0..=255 (default 0).
    #[serde(default = "zeros")]
    pub mean: [f32; 3],
    /// Per-channel divisor (default 1).
    #[serde(default = "ones")]
    pub std: [f32; 3],
    /// Tensor layout (default nchw).
    #[serde(default)]
    pub layout: Layout,
    /// Output type (default f32).
    #[serde(default)]
    pub dtype: OutType,
    /// Padding value per channel, in pixel units (default 0).
    #[serde(default = "zeros")]
    pub pad: [f32; 3],
    /// Largest decoded image accepted, in pixels (default 40 megapixels).
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
    /// Name of the model input the tensor binds to (default: by position).
    #[serde(default)]
    pub input: String,
}

fn zeros() -> [f32; 3] {
    [0.0; 3]
}
fn ones() -> [f32; 3] {
    [1.0; 3]
}
/// Largest tensor plane, in pixels: 3 f32 channels of it are 192 MiB.
pub const MAX_TENSOR_PIXELS: u64 = 16_777_216;

fn default_max_pixels() -> u64 {
    40_000_000
}

impl Params {
    /// Parses and checks the params JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let p: Params = serde_json::from_str(text).map_err(|e| Error::Params(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.width == 0 || self.height == 0 || self.width > 16384 || self.height > 16384 {
            return Err(Error::Params(format!(
                "width/height must be in 1..=16384, got {}x{}",
                self.width, self.height
            )));
        }
        // The tensor and its working rows live in the component's 32-bit
        // memory: 16384 x 16384 x 3 f32 would not fit (capacity overflow).
        let pixels = u64::from(self.width) * u64::from(self.height);
        if pixels > MAX_TENSOR_PIXELS {
            return Err(Error::Params(format!(
                "width x height must be at most {MAX_TENSOR_PIXELS} pixels (4096 x 4096), got {}x{} = {pixels}",
                self.width, self.height
            )));
        }
        if let Some(i) = self.std.iter().position(|s| !s.is_finite() || *s == 0.0) {
            return Err(Error::Params(format!("std[{i}] must be a non-zero number")));
        }
        if let Some(f) = self.center_crop {
            if !(f > 0.0 && f <= 1.0) {
                return Err(Error::Params(format!(
                    "center_crop must be in (0, 1], got {f}"
                )));
            }
        }
        if self.crop.is_some() && self.center_crop.is_some() {
            return Err(Error::Params("give crop or center_crop, not both".into()));
        }
        Ok(())
    }
}

/// A decoded 8-bit RGB image.
#[derive(Debug, Clone)]
pub struct Rgb8 {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major RGB.
    pub pixels: Vec<u8>,
}

/// Decodes PNG, JPEG or PNM (netpbm) bytes, refusing images over `max_pixels` before any
/// pixel buffer is allocated (decompression bombs).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Rgb8, Error> {
    use image::{ImageFormat, ImageReader};
    use std::io::Cursor;
    let format = image::guess_format(bytes)
        .map_err(|_| Error::Input("not a PNG, JPEG or PNM image".into()))?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Pnm
    ) {
        return Err(Error::Input(format!(
            "unsupported image format {format:?} (PNG, JPEG and PNM are)"
        )));
    }
    let reader = |bytes| ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader(bytes)
        .into_dimensions()
        .map_err(|e| Error::Input(format!("corrupt {format:?} header: {e}")))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(Error::Input(format!(
            "image is {w}x{h} = {pixels} pixels, over the limit of {max_pixels} (max_pixels)"
        )));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(pixels.saturating_mul(16).max(1 << 20));
    let mut r = reader(bytes);
    r.limits(limits);
    let img = r
        .decode()
        .map_err(|e| Error::Input(format!("cannot decode {format:?} image: {e}")))?;
    let rgb = img.into_rgb8();
    Ok(Rgb8 {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    })
}

/// Maps tensor pixel coordinates back to the original image:
/// `x_orig = x * scale_x + offset_x` (same for y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Original width.
    pub width: u32,
    /// Original height.
    pub height: u32,
    /// Tensor width.
    pub tensor_width: u32,
    /// Tensor height.
    pub tensor_height: u32,
    /// Original pixels per tensor pixel, horizontally.
    pub scale_x: f32,
    /// Original pixels per tensor pixel, vertically.
    pub scale_y: f32,
    /// Original x at tensor x = 0.
    pub offset_x: f32,
    /// Original y at tensor y = 0.
    pub offset_y: f32,
}

/// The model input tensor made from one image.
#[derive(Debug, Clone)]
pub struct Output {
    /// `[1, C, H, W]` or `[1, H, W, C]`.
    pub shape: [u32; 4],
    /// Packed little-endian elements (f32 or u8).
    pub data: Vec<u8>,
    /// How tensor pixels map back to the original image.
    pub geometry: Geometry,
}

/// Precomputed bilinear taps along one axis (half-pixel centres, edges clamped).
struct Taps {
    /// First source sample of each output sample.
    index: Vec<u32>,
    /// Second source sample (`index + 1`, clamped to the source).
    next: Vec<u32>,
    /// Weight of the second sample.
    weight: Vec<f32>,
    /// The largest sample any tap reads.
    last: usize,
}

impl Taps {
    /// Taps for `out` samples covering source `[start, start + len)`, scaled by `scale`.
    fn new(out: u32, start: u32, len: u32, scale: f32) -> Self {
        let n = out as usize;
        let (mut index, mut next, mut weight) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let last = start + len - 1;
        for i in 0..out {
            let src =
                ((i as f32 + 0.5) / scale - 0.5 + start as f32).clamp(start as f32, last as f32);
            let i0 = src.floor();
            index.push(i0 as u32);
            next.push((i0 as u32 + 1).min(last));
            weight.push(src - i0);
        }
        Taps {
            index,
            next,
            weight,
            last: last as usize,
        }
    }
}

/// Crops, resizes, normalizes and lays out `img` as `params` say.
pub fn preprocess(img: &Rgb8, p: &Params) -> Result<Output, Error> {
    preprocess_inline(img, p)
}

/// Instruction sets a native x86-64 build can run [`preprocess`] with: the
/// same source compiled for each, so that benchmarks compare the wasm
/// component (128-bit `simd128`) with native code of the same width and with
/// the widest this CPU has. Decoding is not recompiled (the `image` crate is
/// built once, for the baseline).
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X86Level {
    /// SSE2: what every x86-64 build may assume.
    Sse2,
    /// SSE4.1: 128-bit, the closest to WebAssembly's `simd128`.
    Sse41,
    /// AVX2 with FMA: 256-bit.
    Avx2Fma,
}

#[cfg(target_arch = "x86_64")]
impl X86Level {
    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        match self {
            X86Level::Sse2 => true,
            X86Level::Sse41 => std::is_x86_feature_detected!("sse4.1"),
            X86Level::Avx2Fma => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
        }
    }
}

/// [`preprocess`] compiled for `level`; `None` when this CPU lacks it.
#[cfg(target_arch = "x86_64")]
pub fn preprocess_x86(img: &Rgb8, p: &Params, level: X86Level) -> Option<Result<Output, Error>> {
    #[target_feature(enable = "sse4.1")]
    fn sse41(img: &Rgb8, p: &Params) -> Result<Output, Error> {
        preprocess_inline(img, p)
    }
    #[target_feature(enable = "avx2,fma")]
    fn avx2_fma(img: &Rgb8, p: &Params) -> Result<Output, Error> {
        preprocess_inline(img, p)
    }
    if !level.available() {
        return None;
    }
    Some(match level {
        X86Level::Sse2 => preprocess_inline(img, p),
        // SAFETY: the CPU has the features (checked just above).
        X86Level::Sse41 => unsafe { sse41(img, p) },
        // SAFETY: as above.
        X86Level::Avx2Fma => unsafe { avx2_fma(img, p) },
    })
}

/// What the resampling kernel needs, worked out once per image.
struct Plan {
    layout: Layout,
    letterbox: bool,
    /// Tensor width and height.
    tw: usize,
    th: usize,
    /// Size of the image area inside the tensor, and its top-left corner.
    nw: usize,
    nh: usize,
    px: usize,
    py: usize,
    xt: Taps,
    yt: Taps,
    /// Source channel of each output channel (RGB or BGR).
    channel: [usize; 3],
    /// Normalization as one multiply-add per element: `v * a + b`.
    a: [f32; 3],
    b: [f32; 3],
    /// The padding value per output channel, normalized.
    pad: [f32; 3],
}

#[inline(always)]
fn preprocess_inline(img: &Rgb8, p: &Params) -> Result<Output, Error> {
    let crop = match (p.crop, p.center_crop) {
        (Some(r), _) => {
            if r.width == 0
                || r.height == 0
                || u64::from(r.x) + u64::from(r.width) > u64::from(img.width)
                || u64::from(r.y) + u64::from(r.height) > u64::from(img.height)
            {
                return Err(Error::Params(format!(
                    "crop {r:?} is empty or outside the {}x{} image",
                    img.width, img.height
                )));
            }
            r
        }
        (None, Some(f)) => {
            let side = ((img.width.min(img.height) as f32 * f).round() as u32).max(1);
            Rect {
                x: (img.width - side) / 2,
                y: (img.height - side) / 2,
                width: side,
                height: side,
            }
        }
        (None, None) => Rect {
            x: 0,
            y: 0,
            width: img.width,
            height: img.height,
        },
    };
    let (tw, th) = (p.width, p.height);
    // Size of the image area inside the tensor, and its top-left corner.
    let (nw, nh, px, py) = match p.resize {
        Resize::Stretch => (tw, th, 0, 0),
        Resize::Letterbox => {
            let s = (tw as f32 / crop.width as f32).min(th as f32 / crop.height as f32);
            let nw = ((crop.width as f32 * s).round() as u32).clamp(1, tw);
            let nh = ((crop.height as f32 * s).round() as u32).clamp(1, th);
            (nw, nh, (tw - nw) / 2, (th - nh) / 2)
        }
    };
    let (sx, sy) = (
        nw as f32 / crop.width as f32,
        nh as f32 / crop.height as f32,
    );
    let channel: [usize; 3] = match p.color {
        Color::Rgb => [0, 1, 2],
        Color::Bgr => [2, 1, 0],
    };
    let (a, b): ([f32; 3], [f32; 3]) = match p.dtype {
        OutType::F32 => (
            std::array::from_fn(|c| 1.0 / p.std[channel[c]]),
            std::array::from_fn(|c| -p.mean[channel[c]] / p.std[channel[c]]),
        ),
        OutType::U8 => ([1.0; 3], [0.0; 3]),
    };
    let plan = Plan {
        layout: p.layout,
        letterbox: p.resize == Resize::Letterbox,
        tw: tw as usize,
        th: th as usize,
        nw: nw as usize,
        nh: nh as usize,
        px: px as usize,
        py: py as usize,
        xt: Taps::new(nw, crop.x, crop.width, sx),
        yt: Taps::new(nh, crop.y, crop.height, sy),
        channel,
        a,
        b,
        pad: std::array::from_fn(|c| p.pad[channel[c]] * a[c] + b[c]),
    };

    let len = plan.tw * plan.th * 3;
    let data = match p.dtype {
        OutType::F32 => {
            // Write the floats straight into the output bytes when the buffer
            // is 4-byte aligned (it is with every allocator we know); copy otherwise.
            let mut data = vec![0u8; len * 4];
            match bytemuck::try_cast_slice_mut::<u8, f32>(&mut data) {
                Ok(out) => kernel(img, &plan, out),
                Err(_) => {
                    let mut tmp = vec![0f32; len];
                    kernel(img, &plan, &mut tmp);
                    data.copy_from_slice(bytemuck::cast_slice(&tmp));
                }
            }
            data
        }
        OutType::U8 => {
            let mut tmp = vec![0f32; len];
            kernel(img, &plan, &mut tmp);
            tmp.iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect()
        }
    };
    let shape = match p.layout {
        Layout::Nchw => [1, 3, th, tw],
        Layout::Nhwc => [1, th, tw, 3],
    };
    let geometry = Geometry {
        width: img.width,
        height: img.height,
        tensor_width: tw,
        tensor_height: th,
        scale_x: 1.0 / sx,
        scale_y: 1.0 / sy,
        offset_x: crop.x as f32 - px as f32 / sx,
        offset_y: crop.y as f32 - py as f32 / sy,
    };
    Ok(Output {
        shape,
        data,
        geometry,
    })
}

/// The resampling kernel: writes the normalized tensor into `out`.
#[inline(always)]
fn kernel(img: &Rgb8, k: &Plan, out: &mut [f32]) {
    let plane = k.tw * k.th;
    // Pad everything first; the image area is overwritten below.
    if k.letterbox {
        fill_pad(out, k.layout, plane, k.pad);
    }
    let n = k.nw;
    let stride = img.width as usize * 3;
    let src_row = |y: u32| &img.pixels[y as usize * stride..][..stride];
    // Two horizontally resampled source rows, planar (R.., G.., B..), so
    // the vertical pass and the output writes are contiguous and vectorize.
    let (mut row0, mut row1) = (vec![0f32; 3 * n], vec![0f32; 3 * n]);
    let mut cached = [u32::MAX, u32::MAX];
    let mut mixed = vec![0f32; 3 * n];
    for oy in 0..k.nh {
        let (y0, y1) = (k.yt.index[oy], k.yt.next[oy]);
        if cached[0] != y0 {
            if cached[1] == y0 {
                std::mem::swap(&mut row0, &mut row1);
            } else {
                hpass(src_row(y0), &k.xt, &mut row0);
            }
            cached[0] = y0;
        }
        if cached[1] != y1 {
            hpass(src_row(y1), &k.xt, &mut row1);
            cached[1] = y1;
        }
        let wy = k.yt.weight[oy];
        let ty = oy + k.py;
        match k.layout {
            Layout::Nchw => {
                for c in 0..3 {
                    let s = k.channel[c] * n;
                    let dst = &mut out[c * plane + ty * k.tw + k.px..][..n];
                    vlerp(&row0[s..s + n], &row1[s..s + n], wy, k.a[c], k.b[c], dst);
                }
            }
            Layout::Nhwc => {
                for c in 0..3 {
                    let s = k.channel[c] * n;
                    let dst = &mut mixed[c * n..][..n];
                    vlerp(&row0[s..s + n], &row1[s..s + n], wy, k.a[c], k.b[c], dst);
                }
                let dst = &mut out[(ty * k.tw + k.px) * 3..][..3 * n];
                for (x, d) in dst.chunks_exact_mut(3).enumerate() {
                    d.copy_from_slice(&[mixed[x], mixed[n + x], mixed[2 * n + x]]);
                }
            }
        }
    }
}

/// Vertical pass of one channel, normalized: `dst = lerp(r0, r1, w) * a + b`.
#[inline(always)]
fn vlerp(r0: &[f32], r1: &[f32], w: f32, a: f32, b: f32, dst: &mut [f32]) {
    for ((d, &v0), &v1) in dst.iter_mut().zip(r0).zip(r1) {
        *d = (v0 + (v1 - v0) * w) * a + b;
    }
}

/// Horizontal bilinear pass of one RGB source row into planar `dst`
/// (`[R.., G.., B..]`, `n` samples each).
#[inline(always)]
fn hpass(src: &[u8], xt: &Taps, dst: &mut [f32]) {
    let n = xt.index.len();
    let (r, gb) = dst.split_at_mut(n);
    let (g, b) = gb.split_at_mut(n);
    // Every tap lies inside the row (`Taps::new` clamps to the source), so
    // the pixel reads need no check of their own: one here instead of two
    // per output pixel in the loop, which neither compiler could drop.
    assert!(xt.last < src.len() / 3, "taps outside the source row");
    let taps = xt.index.iter().zip(&xt.next).zip(&xt.weight);
    let planes = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
    for (((&i0, &i1), &w), ((r, g), b)) in taps.zip(planes) {
        // SAFETY: i0 <= i1 <= xt.last < src.len() / 3 (asserted above).
        let (p0, p1) = unsafe {
            (
                src.get_unchecked(i0 as usize * 3..i0 as usize * 3 + 3),
                src.get_unchecked(i1 as usize * 3..i1 as usize * 3 + 3),
            )
        };
        let lerp = |c: usize| {
            let v0 = f32::from(p0[c]);
            v0 + (f32::from(p1[c]) - v0) * w
        };
        *r = lerp(0);
        *g = lerp(1);
        *b = lerp(2);
    }
}

#[inline(always)]
fn fill_pad(out: &mut [f32], layout: Layout, plane: usize, pad: [f32; 3]) {
    match layout {
        Layout::Nchw => {
            for c in 0..3 {
                out[c * plane..][..plane].fill(pad[c]);
            }
        }
        Layout::Nhwc => {
            for px in out.chunks_exact_mut(3) {
                px.copy_from_slice(&pad);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: &str) -> Params {
        Params::from_json(json).unwrap()
    }

    fn gradient(w: u32, h: u32) -> Rgb8 {
        let mut pixels = Vec::new();
        for y in 0..h {
            for x in 0..w {
                pixels.extend_from_slice(&[x as u8, y as u8, 200]);
            }
        }
        Rgb8 {
            width: w,
            height: h,
            pixels,
        }
    }

    fn f32s(d: &[u8]) -> Vec<f32> {
        d.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn identity_resize_keeps_pixels_and_normalizes() {
        let img = gradient(4, 2);
        let out = preprocess(
            &img,
            &params(r#"{"width":4,"height":2,"mean":[1,0,0],"std":[2,1,1]}"#),
        )
        .unwrap();
        assert_eq!(out.shape, [1, 3, 2, 4]);
        let v = f32s(&out.data);
        // R plane: (x - 1) / 2.
        assert_eq!(&v[0..4], &[-0.5, 0.0, 0.5, 1.0]);
        // B plane is constant 200.
        assert!(v[16..24].iter().all(|&b| b == 200.0));
    }

    #[test]
    fn downscale_by_two_averages_neighbours() {
        let img = gradient(4, 4);
        let out = preprocess(&img, &params(r#"{"width":2,"height":2,"layout":"nhwc"}"#)).unwrap();
        let v = f32s(&out.data);
        // Half-pixel centres: output x 0 samples source x 0.5.
        assert_eq!(&v[0..3], &[0.5, 0.5, 200.0]);
        assert_eq!(&v[3..6], &[2.5, 0.5, 200.0]);
    }

    #[test]
    fn letterbox_pads_and_maps_back() {
        let img = gradient(200, 100);
        let out = preprocess(
            &img,
            &params(r#"{"width":100,"height":100,"resize":"letterbox","pad":[7,7,7]}"#),
        )
        .unwrap();
        let g = out.geometry;
        assert_eq!((g.scale_x, g.scale_y), (2.0, 2.0));
        assert_eq!((g.offset_x, g.offset_y), (0.0, -50.0));
        let v = f32s(&out.data);
        assert_eq!(v[0], 7.0, "top rows are padding");
        assert_ne!(v[50 * 100], 7.0, "row 50 is image");
        // The tensor point (50, 50) is the original centre.
        assert_eq!(
            (50.0 * g.scale_x + g.offset_x, 50.0 * g.scale_y + g.offset_y),
            (100.0, 50.0)
        );
    }

    #[test]
    fn bgr_swaps_channels_and_u8_rounds() {
        let img = gradient(2, 1);
        let out = preprocess(
            &img,
            &params(r#"{"width":2,"height":1,"color":"bgr","dtype":"u8","layout":"nhwc"}"#),
        )
        .unwrap();
        assert_eq!(out.data, vec![200, 0, 0, 200, 0, 1]);
    }

    #[test]
    fn bad_params_name_the_field() {
        assert!(
            matches!(Params::from_json(r#"{"width":0,"height":1}"#), Err(Error::Params(m)) if m.contains("width"))
        );
        assert!(
            matches!(Params::from_json(r#"{"height":1}"#), Err(Error::Params(m)) if m.contains("width"))
        );
        assert!(
            matches!(Params::from_json(r#"{"width":1,"height":1,"std":[1,0,1]}"#), Err(Error::Params(m)) if m.contains("std[1]"))
        );
        assert!(
            matches!(Params::from_json(r#"{"width":1,"height":1,"colour":"rgb"}"#), Err(Error::Params(m)) if m.contains("colour"))
        );
        // Each side is in range, the tensor is not: refused, not a crash.
        assert!(
            matches!(Params::from_json(r#"{"width":16384,"height":16384}"#), Err(Error::Params(m)) if m.contains("width x height"))
        );
        Params::from_json(r#"{"width":4096,"height":4096}"#).unwrap();
        let img = gradient(4, 4);
        let p = params(r#"{"width":2,"height":2,"crop":{"x":3,"y":0,"width":2,"height":2}}"#);
        assert!(matches!(preprocess(&img, &p), Err(Error::Params(m)) if m.contains("crop")));
    }

    /// The wider builds compute the same expressions in the same order (no
    /// fused multiply-add: Rust does not contract), so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_x86_level_gives_the_same_bits() {
        let img = gradient(97, 61);
        for json in [
            r#"{"width":40,"height":30,"mean":[1,2,3],"std":[3,2,1]}"#,
            r#"{"width":64,"height":64,"resize":"letterbox","layout":"nhwc","color":"bgr","pad":[9,8,7]}"#,
            r#"{"width":50,"height":50,"center_crop":0.8,"dtype":"u8"}"#,
        ] {
            let p = params(json);
            let base = preprocess(&img, &p).unwrap().data;
            for level in [X86Level::Sse2, X86Level::Sse41, X86Level::Avx2Fma] {
                if let Some(out) = preprocess_x86(&img, &p, level) {
                    assert_eq!(out.unwrap().data, base, "{level:?} {json}");
                }
            }
        }
    }

    #[test]
    fn decode_refuses_garbage_and_checks_the_pixel_budget_first() {
        assert!(
            matches!(decode(b"hello", 100), Err(Error::Input(m)) if m.contains("not a PNG, JPEG or PNM"))
        );
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &[9u8; 3 * 64 * 64],
            64,
            64,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let img = decode(&png, 4096).unwrap();
        assert_eq!((img.width, img.height, img.pixels[0]), (64, 64, 9));
        let err = decode(&png, 4095).unwrap_err();
        assert!(
            matches!(&err, Error::Input(m) if m.contains("64x64 = 4096 pixels, over the limit of 4095")),
            "{err}"
        );
        let err = decode(&png[..png.len() / 2], 4096).unwrap_err();
        assert!(
            matches!(&err, Error::Input(m) if m.contains("cannot decode")),
            "{err}"
        );
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!("imageproc-core writes tensors in native byte order, which must be little-endian");
