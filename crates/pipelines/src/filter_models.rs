//! The ONNX models behind the model-based img2img source filters (`api/onnx_web/image/source_filter.py`,
//! spec §3.3), read from `models/filter/<name>.onnx`:
//!
//! - `depth`: a DPT/MiDaS depth estimator, `pixel_values [1,3,H,W]` (RGB normalized with mean 0.5,
//!   std 0.5; 384×384 when the model's size is dynamic) → `predicted_depth [1,H',W']`; as
//!   transformers' depth-estimation pipeline, the map is resized to the source and scaled by
//!   `255 / max`, as 3 equal channels.
//! - `normal`: the same model, then onnx-web's Sobel normal map (background threshold 0.4).
//! - `hed`, `scribble`: a HED edge detector, RGB 0..255 `[1,3,H,W]` → one or more side outputs
//!   `[1,1,h,w]` (logits): resized to the source, averaged, sigmoid, ×255 (controlnet_aux); for
//!   `scribble`, controlnet_aux's `nms(127, 3)`, a σ 3 blur and a threshold at 4.
//! - `segment`: UperNet, `pixel_values [1,3,H,W]` (ImageNet-normalized; 512×512 when dynamic) →
//!   `logits [1,150,h,w]`: upsampled (bilinear) to the source, argmax, ADE20k palette.
//! - `mlsd`: M-LSD, `[1,4,S,S]` (RGB + a ones channel, in [-1,1]; 512 when dynamic) → `[1,16,h,w]`
//!   (or the 9-channel tpMap): controlnet_aux's line decoding (centre heat-map peaks, top 200,
//!   score > 0.1, length > 0.1), white 1-pixel lines on black.
//! - `openpose`: the OpenPose body network, `[1,3,H,W]` (BGR `/ 256 - 0.5`) → PAFs `[1,38,h,w]` and
//!   heat maps `[1,19,h,w]`: controlnet_aux's body estimation and skeleton drawing ([`openpose`]).
//! - `face`: a MediaPipe face-landmark model on the whole source (no face detector), drawn as
//!   laion_face does ([`face`]).

use std::path::Path;
use std::sync::Arc;

use image::imageops::FilterType;
use image::{GrayImage, Rgb, RgbImage};
use onnx_web_engine::ort::value::TensorRef;
use onnx_web_engine::{Engine, Model};
use onnx_web_imageops::SourceFilter;

use crate::error::{PipelineError, Result};

/// One output of a filter model: its dimensions and values.
struct Output {
    dims: Vec<usize>,
    data: Vec<f32>,
}

fn model_error(model: &Model, message: impl std::fmt::Display) -> PipelineError {
    PipelineError::Unsupported(format!("source filter model {}: {message}", model.label()))
}

/// The model's fixed input height and width, or `default` where they are dynamic.
fn input_size(model: &Model, default: u32) -> Result<(u32, u32)> {
    let input = model
        .inputs()
        .first()
        .ok_or_else(|| model_error(model, "has no inputs"))?;
    if input.shape.len() != 4 {
        return Err(model_error(
            model,
            format!("input {} is not [1, C, H, W]", input.name),
        ));
    }
    let dim = |d: i64| if d > 0 { d as u32 } else { default };
    Ok((dim(input.shape[3]), dim(input.shape[2])))
}

/// Runs `model` on one `[1, C, H, W]` input and copies out all its outputs.
fn run(model: &Model, input: &[f32], shape: [usize; 4]) -> Result<Vec<Output>> {
    let tensor = TensorRef::from_array_view((shape, input)).map_err(|e| model_error(model, e))?;
    let outputs = model.run(onnx_web_engine::ort::inputs![tensor], |outputs| {
        let mut all = Vec::with_capacity(outputs.len());
        for index in 0..outputs.len() {
            let (dims, data) = outputs[index].try_extract_tensor::<f32>()?;
            all.push(Output {
                dims: dims.iter().map(|&d| d.max(0) as usize).collect(),
                data: data.to_vec(),
            });
        }
        Ok(all)
    })?;
    if outputs.is_empty() {
        return Err(model_error(model, "has no outputs"));
    }
    Ok(outputs)
}

/// The image as a `[1, 3, H, W]` tensor, `(v * scale - mean[c]) / std[c]` per channel.
fn to_tensor(
    image: &RgbImage,
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
) -> (Vec<f32>, [usize; 4]) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut data = vec![0.0; 3 * w * h];
    for (i, p) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (f32::from(p[c]) * scale - mean[c]) / std[c];
        }
    }
    (data, [1, 3, h, w])
}

fn resized(source: &RgbImage, (w, h): (u32, u32), filter: FilterType) -> RgbImage {
    if source.dimensions() == (w, h) {
        source.clone()
    } else {
        image::imageops::resize(source, w, h, filter)
    }
}

/// Runs the model of a model-based `filter` on `source`; the result has the source's size.
pub fn run_filter(
    engine: &Engine,
    platform: &str,
    filter: SourceFilter,
    path: &Path,
    source: &RgbImage,
) -> Result<RgbImage> {
    let model = engine.load(path, platform)?;
    match filter {
        SourceFilter::Depth => {
            let (depth, w, h) = depth_map(&model, source)?;
            let (sw, sh) = (source.width() as usize, source.height() as usize);
            let depth = resize_bilinear(&depth, h, w, sh, sw);
            let max = depth.iter().copied().fold(0.0f32, f32::max);
            let scale = if max > 0.0 { 255.0 / max } else { 0.0 };
            let grey = depth
                .iter()
                .map(|&d| (d * scale).clamp(0.0, 255.0) as u8)
                .collect();
            Ok(grey_to_rgb(
                &GrayImage::from_raw(source.width(), source.height(), grey).expect("size"),
            ))
        }
        SourceFilter::Normal => {
            let (depth, w, h) = depth_map(&model, source)?;
            let normal = normal_map(&depth, w, h, 0.4);
            Ok(resized(&normal, source.dimensions(), FilterType::Triangle))
        }
        SourceFilter::Hed => Ok(grey_to_rgb(&hed(&model, source)?)),
        SourceFilter::Scribble => Ok(grey_to_rgb(&scribble(&hed(&model, source)?))),
        SourceFilter::Segment => segment(&model, source),
        SourceFilter::Mlsd => mlsd(&model, source),
        SourceFilter::Openpose => openpose(&model, source),
        SourceFilter::Face => face(&model, source),
        other => Err(PipelineError::Unsupported(format!(
            "the {} source filter is not implemented",
            other.name()
        ))),
    }
}

fn grey_to_rgb(img: &GrayImage) -> RgbImage {
    let raw = img.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
    RgbImage::from_raw(img.width(), img.height(), raw).expect("same size")
}

/// The raw `predicted_depth` of a DPT model, at the model's resolution: `(map, width, height)`.
fn depth_map(model: &Arc<Model>, source: &RgbImage) -> Result<(Vec<f32>, usize, usize)> {
    let size = input_size(model, 384)?;
    let input = resized(source, size, FilterType::CatmullRom);
    let (data, shape) = to_tensor(&input, 1.0 / 255.0, [0.5; 3], [0.5; 3]);
    let output = run(model, &data, shape)?.swap_remove(0);
    let (h, w) = match output.dims[..] {
        [1, h, w] | [1, 1, h, w] | [h, w] => (h, w),
        _ => {
            return Err(model_error(
                model,
                format!("predicted_depth {:?} is not [1, H, W]", output.dims),
            ))
        }
    };
    Ok((output.data, w, h))
}

/// onnx-web's `source_filter_normal`: Sobel x and y of the depth (zero where the min-max
/// normalized depth is below `threshold`), z = 2π, normalized, `× 127.5 + 127.5`.
pub fn normal_map(depth: &[f32], w: usize, h: usize, threshold: f32) -> RgbImage {
    let min = depth.iter().copied().fold(f32::INFINITY, f32::min);
    let max = depth.iter().copied().fold(f32::NEG_INFINITY, f32::max) - min;
    // cv2's default border: reflect 101.
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        if n == 1 {
            return 0;
        }
        let mut i = i;
        if i < 0 {
            i = -i;
        }
        if i >= n {
            i = 2 * n - 2 - i;
        }
        i.clamp(0, n - 1) as usize
    };
    let at = |x: isize, y: isize| depth[reflect(y, h) * w + reflect(x, w)];
    let z = std::f32::consts::PI * 2.0;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (xi, yi) = (x as isize, y as isize);
        let background = (at(xi, yi) - min) / max < threshold;
        let (dx, dy) = if background {
            (0.0, 0.0)
        } else {
            let dx = (at(xi + 1, yi - 1) - at(xi - 1, yi - 1))
                + 2.0 * (at(xi + 1, yi) - at(xi - 1, yi))
                + (at(xi + 1, yi + 1) - at(xi - 1, yi + 1));
            let dy = (at(xi - 1, yi + 1) - at(xi - 1, yi - 1))
                + 2.0 * (at(xi, yi + 1) - at(xi, yi - 1))
                + (at(xi + 1, yi + 1) - at(xi + 1, yi - 1));
            (dx, dy)
        };
        let norm = (dx * dx + dy * dy + z * z).sqrt();
        let px = |v: f32| (v / norm * 127.5 + 127.5).clamp(0.0, 255.0) as u8;
        Rgb([px(dx), px(dy), px(z)])
    })
}

/// Bilinear resize of a single-channel map (half-pixel centres, as cv2's `INTER_LINEAR` and
/// torch's `interpolate(align_corners=False)`).
pub fn resize_bilinear(src: &[f32], sh: usize, sw: usize, dh: usize, dw: usize) -> Vec<f32> {
    if (sh, sw) == (dh, dw) {
        return src.to_vec();
    }
    let xs = taps(sw, dw);
    let ys = taps(sh, dh);
    let mut out = Vec::with_capacity(dh * dw);
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = src[y0 * sw + x0] * (1.0 - fx) + src[y0 * sw + x1] * fx;
            let bottom = src[y1 * sw + x0] * (1.0 - fx) + src[y1 * sw + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Bilinear source taps `(i0, i1, weight of i1)` for each destination index.
fn taps(src: usize, dst: usize) -> Vec<(usize, usize, f32)> {
    let scale = src as f32 / dst as f32;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(src - 1);
            let i1 = (i0 + 1).min(src - 1);
            (i0, i1, s - i0 as f32)
        })
        .collect()
}

/// HED soft edges at the source size (controlnet_aux `HEDdetector`).
fn hed(model: &Arc<Model>, source: &RgbImage) -> Result<GrayImage> {
    let size = input_size(model, 0)?;
    let size = (
        if size.0 == 0 { source.width() } else { size.0 },
        if size.1 == 0 { source.height() } else { size.1 },
    );
    let input = resized(source, size, FilterType::Triangle);
    let (data, shape) = to_tensor(&input, 1.0, [0.0; 3], [1.0; 3]);
    let (sw, sh) = (source.width() as usize, source.height() as usize);
    let mut sum = vec![0.0f32; sw * sh];
    let outputs = run(model, &data, shape)?;
    for output in &outputs {
        let (h, w) = match output.dims[..] {
            [1, 1, h, w] | [1, h, w] => (h, w),
            _ => {
                return Err(model_error(
                    model,
                    format!("edge output {:?} is not [1, 1, H, W]", output.dims),
                ))
            }
        };
        for (s, v) in sum
            .iter_mut()
            .zip(resize_bilinear(&output.data, h, w, sh, sw))
        {
            *s += v;
        }
    }
    let n = outputs.len() as f32;
    let raw = sum
        .iter()
        .map(|&s| {
            let edge = 1.0 / (1.0 + (-s / n).exp());
            (edge * 255.0).clamp(0.0, 255.0) as u8
        })
        .collect();
    Ok(GrayImage::from_raw(source.width(), source.height(), raw).expect("size"))
}

/// controlnet_aux's scribble post-processing of HED edges: `nms(edges, 127, 3.0)`, a Gaussian
/// blur (σ 3), then 255 where above 4, else 0.
pub fn scribble(edges: &GrayImage) -> GrayImage {
    let (w, h) = (edges.width() as usize, edges.height() as usize);
    let x: Vec<f32> = edges.as_raw().iter().map(|&v| f32::from(v)).collect();
    // nms: blur (float: cv2 kernel size 25 for σ 3), keep pixels that are maxima along any of
    // the 4 directions, threshold at 127.
    let x = gaussian_f32(&x, w, h, 3.0, 25);
    let at = |xx: isize, yy: isize| -> f32 {
        if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
            f32::NEG_INFINITY
        } else {
            x[yy as usize * w + xx as usize]
        }
    };
    let mut z = vec![0.0f32; w * h];
    for yy in 0..h as isize {
        for xx in 0..w as isize {
            let v = at(xx, yy);
            let is_max = [(1, 0), (0, 1), (1, 1), (1, -1)]
                .iter()
                .any(|&(dx, dy)| at(xx + dx, yy + dy) <= v && at(xx - dx, yy - dy) <= v);
            if is_max && v > 127.0 {
                z[yy as usize * w + xx as usize] = 255.0;
            }
        }
    }
    // The blur of the uint8 map (cv2 kernel size 19 for σ 3), then the threshold.
    let blurred = gaussian_f32(&z, w, h, 3.0, 19);
    let raw = blurred
        .iter()
        .map(|&v| if v.round() > 4.0 { 255 } else { 0 })
        .collect();
    GrayImage::from_raw(edges.width(), edges.height(), raw).expect("size")
}

/// A separable Gaussian blur of a single-channel map with a `ksize` kernel and reflect-101
/// borders (cv2's `GaussianBlur(x, (0, 0), sigma)`).
fn gaussian_f32(src: &[f32], w: usize, h: usize, sigma: f32, ksize: usize) -> Vec<f32> {
    let r = (ksize / 2) as isize;
    let mut kernel: Vec<f32> = (-r..=r)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        if n == 1 {
            return 0;
        }
        let mut i = i;
        loop {
            if i < 0 {
                i = -i;
            } else if i >= n {
                i = 2 * n - 2 - i;
            } else {
                return i as usize;
            }
        }
    };
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * src[y * w + reflect(x as isize + k as isize - r, w)])
                .sum();
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * tmp[reflect(y as isize + k as isize - r, h) * w + x])
                .sum();
        }
    }
    out
}

/// UperNet segmentation coloured with the ADE20k palette, at the source size.
fn segment(model: &Arc<Model>, source: &RgbImage) -> Result<RgbImage> {
    let size = input_size(model, 512)?;
    let input = resized(source, size, FilterType::Triangle);
    let (data, shape) = to_tensor(
        &input,
        1.0 / 255.0,
        [0.485, 0.456, 0.406],
        [0.229, 0.224, 0.225],
    );
    let logits = run(model, &data, shape)?.swap_remove(0);
    let [1, classes, h, w] = logits.dims[..] else {
        return Err(model_error(
            model,
            format!("logits {:?} are not [1, classes, H, W]", logits.dims),
        ));
    };
    if classes == 0 || h == 0 || w == 0 {
        return Err(model_error(model, "has empty logits"));
    }
    let (sw, sh) = (source.width() as usize, source.height() as usize);
    let xs = taps(w, sw);
    let ys = taps(h, sh);
    let plane = h * w;
    let mut out = RgbImage::new(source.width(), source.height());
    for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            let weights = [
                (y0 * w + x0, (1.0 - fy) * (1.0 - fx)),
                (y0 * w + x1, (1.0 - fy) * fx),
                (y1 * w + x0, fy * (1.0 - fx)),
                (y1 * w + x1, fy * fx),
            ];
            let mut best = (0, f32::NEG_INFINITY);
            for c in 0..classes {
                let base = &logits.data[c * plane..(c + 1) * plane];
                let v: f32 = weights.iter().map(|&(i, k)| base[i] * k).sum();
                if v > best.1 {
                    best = (c, v);
                }
            }
            out.put_pixel(
                x as u32,
                y as u32,
                Rgb(ADE_PALETTE[best.0 % ADE_PALETTE.len()]),
            );
        }
    }
    Ok(out)
}

/// M-LSD straight lines (controlnet_aux `MLSDdetector`, `thr_v = thr_d = 0.1`), white on black.
fn mlsd(model: &Arc<Model>, source: &RgbImage) -> Result<RgbImage> {
    let (iw, ih) = input_size(model, 512)?;
    let input = resized(source, (iw, ih), FilterType::Triangle);
    let (iw, ih) = (iw as usize, ih as usize);
    let mut data = vec![0.0f32; 4 * iw * ih];
    for (i, p) in input.pixels().enumerate() {
        for c in 0..3 {
            data[c * iw * ih + i] = f32::from(p[c]) / 127.5 - 1.0;
        }
        // The ones channel goes through `/ 127.5 - 1` too, as in controlnet_aux.
        data[3 * iw * ih + i] = 1.0 / 127.5 - 1.0;
    }
    let output = run(model, &data, [1, 4, ih, iw])?.swap_remove(0);
    let [1, channels, h, w] = output.dims[..] else {
        return Err(model_error(
            model,
            format!("output {:?} is not [1, C, H, W]", output.dims),
        ));
    };
    // The 16-channel head output; the tpMap (centre + 4 displacements) starts at channel 7.
    let offset = if channels == 16 { 7 } else { 0 };
    if channels < offset + 5 || h == 0 || w == 0 {
        return Err(model_error(
            model,
            format!("output {:?} has no line map", output.dims),
        ));
    }
    let lines = decode_lines(&output.data[offset * h * w..], w, h, 200, 3, 0.1, 0.1);
    // Output pixels to source pixels.
    let sx = source.width() as f32 / w as f32;
    let sy = source.height() as f32 / h as f32;
    let mut out = GrayImage::new(source.width(), source.height());
    for [x0, y0, x1, y1] in lines {
        draw_line(
            &mut out,
            (x0 * sx) as i64,
            (y0 * sy) as i64,
            (x1 * sx) as i64,
            (y1 * sy) as i64,
        );
    }
    Ok(grey_to_rgb(&out))
}

/// controlnet_aux `deccode_output_score_and_ptss` + `pred_lines`: peaks of the sigmoid centre map
/// (a `ksize` max-pool), the `topk` best, kept when their score and length pass the thresholds;
/// segments `[x0, y0, x1, y1]` in map pixels.
pub fn decode_lines(
    tp: &[f32],
    w: usize,
    h: usize,
    topk: usize,
    ksize: usize,
    score_thr: f32,
    dist_thr: f32,
) -> Vec<[f32; 4]> {
    let plane = w * h;
    let heat: Vec<f32> = tp[..plane]
        .iter()
        .map(|&v| 1.0 / (1.0 + (-v).exp()))
        .collect();
    let r = (ksize / 2) as isize;
    let mut peaks: Vec<(f32, usize)> = Vec::new();
    for y in 0..h as isize {
        for x in 0..w as isize {
            let v = heat[y as usize * w + x as usize];
            let mut is_max = true;
            'window: for yy in (y - r).max(0)..(y + r + 1).min(h as isize) {
                for xx in (x - r).max(0)..(x + r + 1).min(w as isize) {
                    if heat[yy as usize * w + xx as usize] > v {
                        is_max = false;
                        break 'window;
                    }
                }
            }
            peaks.push((if is_max { v } else { 0.0 }, y as usize * w + x as usize));
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    peaks.truncate(topk);
    let mut lines = Vec::new();
    for (score, index) in peaks {
        let d = |c: usize| tp[(1 + c) * plane + index];
        let (dx0, dy0, dx1, dy1) = (d(0), d(1), d(2), d(3));
        let distance = ((dx0 - dx1).powi(2) + (dy0 - dy1).powi(2)).sqrt();
        if score > score_thr && distance > dist_thr {
            let (x, y) = ((index % w) as f32, (index / w) as f32);
            lines.push([x + dx0, y + dy0, x + dx1, y + dy1]);
        }
    }
    lines
}

/// A 1-pixel white line (Bresenham), clipped to the image.
fn draw_line(img: &mut GrayImage, x0: i64, y0: i64, x1: i64, y1: i64) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    walk_line(x0, y0, x1, y1, |x, y| {
        if (0..w).contains(&x) && (0..h).contains(&y) {
            img.put_pixel(x as u32, y as u32, image::Luma([255]));
        }
    });
}

/// The Bresenham points from `(x0, y0)` to `(x1, y1)`.
fn walk_line(x0: i64, y0: i64, x1: i64, y1: i64, mut plot: impl FnMut(i64, i64)) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (stepx, stepy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    // Long lines far outside the image: bound the walk.
    for _ in 0..=(dx - dy).min(1 << 20) {
        plot(x, y);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += stepx;
        }
        if e2 <= dx {
            err += dx;
            y += stepy;
        }
    }
}

/// OpenPose body limbs (1-based part pairs) and their PAF channels (1-based, minus 19), as
/// controlnet_aux `body.py`.
const LIMB_SEQ: [[usize; 2]; 19] = [
    [2, 3],
    [2, 6],
    [3, 4],
    [4, 5],
    [6, 7],
    [7, 8],
    [2, 9],
    [9, 10],
    [10, 11],
    [2, 12],
    [12, 13],
    [13, 14],
    [2, 1],
    [1, 15],
    [15, 17],
    [1, 16],
    [16, 18],
    [3, 17],
    [6, 18],
];
const MAP_IDX: [[usize; 2]; 19] = [
    [31, 32],
    [39, 40],
    [33, 34],
    [35, 36],
    [41, 42],
    [43, 44],
    [19, 20],
    [21, 22],
    [23, 24],
    [25, 26],
    [27, 28],
    [29, 30],
    [47, 48],
    [49, 50],
    [53, 54],
    [51, 52],
    [55, 56],
    [37, 38],
    [45, 46],
];
const POSE_COLOURS: [[u8; 3]; 18] = [
    [255, 0, 0],
    [255, 85, 0],
    [255, 170, 0],
    [255, 255, 0],
    [170, 255, 0],
    [85, 255, 0],
    [0, 255, 0],
    [0, 255, 85],
    [0, 255, 170],
    [0, 255, 255],
    [0, 170, 255],
    [0, 85, 255],
    [0, 0, 255],
    [85, 0, 255],
    [170, 0, 255],
    [255, 0, 255],
    [255, 0, 170],
    [255, 0, 85],
];

/// A body-part candidate: position, score, global id.
#[derive(Debug, Clone, Copy)]
struct Peak {
    x: usize,
    y: usize,
    score: f32,
}

/// OpenPose body skeletons (controlnet_aux `OpenposeDetector`, body only): one scale (0.5 of a
/// 368 box), input `/ 256 - 0.5` padded with 128 to a multiple of 8, outputs PAFs `[1,38,h,w]`
/// and heat maps `[1,19,h,w]` (told apart by their channel counts), peaks, PAF-scored limbs,
/// people assembled and drawn (circles and 0.6-alpha ellipses) on black.
fn openpose(model: &Arc<Model>, source: &RgbImage) -> Result<RgbImage> {
    let (ow, oh) = (source.width() as usize, source.height() as usize);
    let fixed = input_size(model, 0)?;
    let (pw, ph, scaled) = if fixed.0 > 0 && fixed.1 > 0 {
        let scaled = resized(source, fixed, FilterType::CatmullRom);
        (fixed.0 as usize, fixed.1 as usize, scaled)
    } else {
        let scale = 0.5 * 368.0 / oh as f64;
        let w = ((ow as f64 * scale).round() as u32).max(1);
        let h = ((oh as f64 * scale).round() as u32).max(1);
        let scaled = resized(source, (w, h), FilterType::CatmullRom);
        (
            w.div_ceil(8) as usize * 8,
            h.div_ceil(8) as usize * 8,
            scaled,
        )
    };
    let (sw, sh) = (scaled.width() as usize, scaled.height() as usize);
    // The padding value 128, as `128 / 256 - 0.5`.
    let mut data = vec![0.0f32; 3 * pw * ph];
    for (x, y, p) in scaled.enumerate_pixels() {
        for c in 0..3 {
            // controlnet_aux feeds the BGR array of OpenCV to the network.
            data[c * pw * ph + y as usize * pw + x as usize] = f32::from(p[2 - c]) / 256.0 - 0.5;
        }
    }
    let outputs = run(model, &data, [1, 3, ph, pw])?;
    let find = |channels: usize| {
        outputs
            .iter()
            .find(|o| o.dims.len() == 4 && o.dims[1] == channels)
            .ok_or_else(|| model_error(model, format!("has no [1, {channels}, H, W] output")))
    };
    let (paf, heat) = (find(38)?, find(19)?);
    // Network maps → padded input size → crop the padding → source size.
    let to_source = |o: &Output, c: usize| -> Vec<f32> {
        let (h, w) = (o.dims[2], o.dims[3]);
        let plane = &o.data[c * h * w..(c + 1) * h * w];
        let padded = resize_bilinear(plane, h, w, ph, pw);
        let cropped: Vec<f32> = (0..sh)
            .flat_map(|y| padded[y * pw..y * pw + sw].iter().copied())
            .collect();
        resize_bilinear(&cropped, sh, sw, oh, ow)
    };
    Ok(pose_from_maps(
        |part| to_source(heat, part),
        |channel| to_source(paf, channel),
        ow,
        oh,
    ))
}

/// controlnet_aux's body estimation on heat maps and PAFs already at the source size (`heat(part)`
/// for the 18 parts, `paf(channel)` for the 38 PAF channels), drawn with `draw_bodypose`.
fn pose_from_maps(
    heat: impl Fn(usize) -> Vec<f32>,
    paf: impl Fn(usize) -> Vec<f32>,
    ow: usize,
    oh: usize,
) -> RgbImage {
    // Peaks of each of the 18 parts.
    let mut peaks: Vec<Peak> = Vec::new();
    let mut part_peaks: Vec<Vec<usize>> = Vec::new();
    for part in 0..18 {
        let map = heat(part);
        let smooth = gaussian_f32(&map, ow, oh, 3.0, 25);
        let at = |x: isize, y: isize| -> f32 {
            if x < 0 || y < 0 || x >= ow as isize || y >= oh as isize {
                0.0
            } else {
                smooth[y as usize * ow + x as usize]
            }
        };
        let mut ids = Vec::new();
        for y in 0..oh {
            for x in 0..ow {
                let (xi, yi) = (x as isize, y as isize);
                let v = at(xi, yi);
                if v > 0.1
                    && v >= at(xi - 1, yi)
                    && v >= at(xi + 1, yi)
                    && v >= at(xi, yi - 1)
                    && v >= at(xi, yi + 1)
                {
                    ids.push(peaks.len());
                    peaks.push(Peak {
                        x,
                        y,
                        score: map[y * ow + x],
                    });
                }
            }
        }
        part_peaks.push(ids);
    }
    // Limbs scored along the PAFs: (peak a, peak b, score) per limb type.
    let mut connections: Vec<Option<Vec<(usize, usize, f32)>>> = Vec::new();
    for (limb, paf_idx) in LIMB_SEQ.iter().zip(MAP_IDX) {
        let cand_a = &part_peaks[limb[0] - 1];
        let cand_b = &part_peaks[limb[1] - 1];
        if cand_a.is_empty() || cand_b.is_empty() {
            connections.push(None);
            continue;
        }
        let px = paf(paf_idx[0] - 19);
        let py = paf(paf_idx[1] - 19);
        let mut candidates = Vec::new();
        for (i, &a) in cand_a.iter().enumerate() {
            for (j, &b) in cand_b.iter().enumerate() {
                let (pa, pb) = (peaks[a], peaks[b]);
                let (vx, vy) = (pb.x as f32 - pa.x as f32, pb.y as f32 - pa.y as f32);
                let norm = (vx * vx + vy * vy).sqrt().max(0.001);
                let (vx, vy) = (vx / norm, vy / norm);
                let mut scores = [0.0f32; 10];
                for (s, score) in scores.iter_mut().enumerate() {
                    let t = s as f32 / 9.0;
                    let x = (pa.x as f32 + t * (pb.x as f32 - pa.x as f32)).round() as usize;
                    let y = (pa.y as f32 + t * (pb.y as f32 - pa.y as f32)).round() as usize;
                    let i = y.min(oh - 1) * ow + x.min(ow - 1);
                    *score = px[i] * vx + py[i] * vy;
                }
                let mean = scores.iter().sum::<f32>() / 10.0;
                let prior = mean + (0.5 * oh as f32 / norm - 1.0).min(0.0);
                let above = scores.iter().filter(|&&s| s > 0.05).count();
                if above as f32 > 0.8 * 10.0 && prior > 0.0 {
                    candidates.push((i, j, prior));
                }
            }
        }
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut connection: Vec<(usize, usize, f32)> = Vec::new();
        let (mut used_a, mut used_b) = (Vec::new(), Vec::new());
        for (i, j, s) in candidates {
            if !used_a.contains(&i) && !used_b.contains(&j) {
                used_a.push(i);
                used_b.push(j);
                connection.push((cand_a[i], cand_b[j], s));
                if connection.len() >= cand_a.len().min(cand_b.len()) {
                    break;
                }
            }
        }
        connections.push(Some(connection));
    }
    // People: 18 part ids (-1 for none), total score, part count.
    let mut people: Vec<([i64; 18], f32, usize)> = Vec::new();
    for (k, connection) in connections.iter().enumerate() {
        let Some(connection) = connection else {
            continue;
        };
        let (ia, ib) = (LIMB_SEQ[k][0] - 1, LIMB_SEQ[k][1] - 1);
        for &(a, b, s) in connection {
            let (a, b) = (a as i64, b as i64);
            let found: Vec<usize> = people
                .iter()
                .enumerate()
                .filter(|(_, p)| p.0[ia] == a || p.0[ib] == b)
                .map(|(j, _)| j)
                .take(2)
                .collect();
            match found[..] {
                [j] => {
                    let person = &mut people[j];
                    if person.0[ib] != b {
                        person.0[ib] = b;
                        person.2 += 1;
                        person.1 += peaks[b as usize].score + s;
                    }
                }
                [j1, j2] => {
                    let overlap = (0..18).any(|p| people[j1].0[p] >= 0 && people[j2].0[p] >= 0);
                    if !overlap {
                        let other = people[j2];
                        for p in 0..18 {
                            people[j1].0[p] += other.0[p] + 1;
                        }
                        people[j1].1 += other.1 + s;
                        people[j1].2 += other.2;
                        people.remove(j2);
                    } else {
                        people[j1].0[ib] = b;
                        people[j1].2 += 1;
                        people[j1].1 += peaks[b as usize].score + s;
                    }
                }
                _ if k < 17 => {
                    let mut parts = [-1i64; 18];
                    parts[ia] = a;
                    parts[ib] = b;
                    let score = peaks[a as usize].score + peaks[b as usize].score + s;
                    people.push((parts, score, 2));
                }
                _ => {}
            }
        }
    }
    people.retain(|p| p.2 >= 4 && p.1 / p.2 as f32 >= 0.4);
    // Drawing: joints, then limbs blended at 0.6.
    let mut canvas = RgbImage::new(ow as u32, oh as u32);
    for part in 0..18 {
        for person in &people {
            if person.0[part] < 0 {
                continue;
            }
            let p = peaks[person.0[part] as usize];
            fill_shape(&mut canvas, POSE_COLOURS[part], 1.0, |x, y| {
                let (dx, dy) = (x - p.x as f32, y - p.y as f32);
                (dx * dx + dy * dy <= 16.0, (p.x as f32, p.y as f32, 4.0))
            });
        }
    }
    for (i, limb) in LIMB_SEQ.iter().take(17).enumerate() {
        for person in &people {
            let (a, b) = (person.0[limb[0] - 1], person.0[limb[1] - 1]);
            if a < 0 || b < 0 {
                continue;
            }
            let (pa, pb) = (peaks[a as usize], peaks[b as usize]);
            let (mx, my) = ((pa.x + pb.x) as f32 / 2.0, (pa.y + pb.y) as f32 / 2.0);
            let (dx, dy) = (pb.x as f32 - pa.x as f32, pb.y as f32 - pa.y as f32);
            let length = (dx * dx + dy * dy).sqrt();
            let half = (length / 2.0).floor().max(0.5);
            let (ux, uy) = if length > 0.0 {
                (dx / length, dy / length)
            } else {
                (1.0, 0.0)
            };
            fill_shape(&mut canvas, POSE_COLOURS[i], 0.6, |x, y| {
                let (rx, ry) = (x - mx, y - my);
                let along = (rx * ux + ry * uy) / half;
                let across = (-rx * uy + ry * ux) / 4.0;
                (
                    along * along + across * across <= 1.0,
                    (mx, my, half.max(4.0)),
                )
            });
        }
    }
    canvas
}

/// Blends `colour` at `alpha` into the pixels where `inside(x, y).0`; `inside` also returns the
/// shape's centre and radius, which bound the pixels visited.
fn fill_shape(
    canvas: &mut RgbImage,
    colour: [u8; 3],
    alpha: f32,
    inside: impl Fn(f32, f32) -> (bool, (f32, f32, f32)),
) {
    let (_, (cx, cy, r)) = inside(0.0, 0.0);
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let x0 = (cx - r - 1.0).max(0.0) as u32;
    let y0 = (cy - r - 1.0).max(0.0) as u32;
    let x1 = (cx + r + 1.0).min(w - 1.0).max(0.0) as u32;
    let y1 = (cy + r + 1.0).min(h - 1.0).max(0.0) as u32;
    for y in y0..=y1 {
        for x in x0..=x1 {
            if inside(x as f32, y as f32).0 {
                let p = canvas.get_pixel_mut(x, y);
                for c in 0..3 {
                    p[c] = (f32::from(p[c]) * (1.0 - alpha) + f32::from(colour[c]) * alpha).round()
                        as u8;
                }
            }
        }
    }
}

/// MediaPipe face mesh contours (`face_mesh_connections.py`) with laion_face's colours (RGB, the
/// reverse of its BGR drawing specs): face oval, eyes, eyebrows, lips.
const FACE_OVAL: [[u16; 2]; 36] = [
    [10, 338],
    [338, 297],
    [297, 332],
    [332, 284],
    [284, 251],
    [251, 389],
    [389, 356],
    [356, 454],
    [454, 323],
    [323, 361],
    [361, 288],
    [288, 397],
    [397, 365],
    [365, 379],
    [379, 378],
    [378, 400],
    [400, 377],
    [377, 152],
    [152, 148],
    [148, 176],
    [176, 149],
    [149, 150],
    [150, 136],
    [136, 172],
    [172, 58],
    [58, 132],
    [132, 93],
    [93, 234],
    [234, 127],
    [127, 162],
    [162, 21],
    [21, 54],
    [54, 103],
    [103, 67],
    [67, 109],
    [109, 10],
];
const LEFT_EYE: [[u16; 2]; 16] = [
    [263, 249],
    [249, 390],
    [390, 373],
    [373, 374],
    [374, 380],
    [380, 381],
    [381, 382],
    [382, 362],
    [263, 466],
    [466, 388],
    [388, 387],
    [387, 386],
    [386, 385],
    [385, 384],
    [384, 398],
    [398, 362],
];
const LEFT_EYEBROW: [[u16; 2]; 8] = [
    [276, 283],
    [283, 282],
    [282, 295],
    [295, 285],
    [300, 293],
    [293, 334],
    [334, 296],
    [296, 336],
];
const RIGHT_EYE: [[u16; 2]; 16] = [
    [33, 7],
    [7, 163],
    [163, 144],
    [144, 145],
    [145, 153],
    [153, 154],
    [154, 155],
    [155, 133],
    [33, 246],
    [246, 161],
    [161, 160],
    [160, 159],
    [159, 158],
    [158, 157],
    [157, 173],
    [173, 133],
];
const RIGHT_EYEBROW: [[u16; 2]; 8] = [
    [46, 53],
    [53, 52],
    [52, 65],
    [65, 55],
    [70, 63],
    [63, 105],
    [105, 66],
    [66, 107],
];
const LIPS: [[u16; 2]; 40] = [
    [61, 146],
    [146, 91],
    [91, 181],
    [181, 84],
    [84, 17],
    [17, 314],
    [314, 405],
    [405, 321],
    [321, 375],
    [375, 291],
    [61, 185],
    [185, 40],
    [40, 39],
    [39, 37],
    [37, 0],
    [0, 267],
    [267, 269],
    [269, 270],
    [270, 409],
    [409, 291],
    [78, 95],
    [95, 88],
    [88, 178],
    [178, 87],
    [87, 14],
    [14, 317],
    [317, 402],
    [402, 318],
    [318, 324],
    [324, 308],
    [78, 191],
    [191, 80],
    [80, 81],
    [81, 82],
    [82, 13],
    [13, 312],
    [312, 311],
    [311, 310],
    [310, 415],
    [415, 308],
];

/// MediaPipe face annotation (onnx-web's `laion_face.generate_annotation`, one face, confidence
/// 0.5, faces under 64 pixels dropped): a face-landmark model, `[1,3,S,S]` RGB in [0, 1] (192
/// when dynamic) → landmarks `[.., 478 × 3]` (x, y, z in input pixels) and a face score (logit,
/// the output with one value). The whole source is the face crop: MediaPipe's face detector is
/// not run. Contours 2 pixels wide and the two pupils, on black.
fn face(model: &Arc<Model>, source: &RgbImage) -> Result<RgbImage> {
    let (iw, ih) = input_size(model, 192)?;
    // onnx-web quirk: `pil_to_cv2` hands MediaPipe (which expects RGB) the BGR array.
    let mut input = resized(source, (iw, ih), FilterType::Triangle);
    input.pixels_mut().for_each(|p| p.0.reverse());
    let (data, shape) = to_tensor(&input, 1.0 / 255.0, [0.0; 3], [1.0; 3]);
    let outputs = run(model, &data, shape)?;
    let landmarks = outputs
        .iter()
        .find(|o| o.data.len() >= 468 * 3 && o.data.len() % 3 == 0)
        .ok_or_else(|| model_error(model, "has no landmarks output (468 or 478 × 3)"))?;
    let score = outputs
        .iter()
        .find(|o| o.data.len() == 1)
        .map(|o| o.data[0]);
    let mut canvas = RgbImage::new(source.width(), source.height());
    if score.is_some_and(|s| 1.0 / (1.0 + (-s).exp()) < 0.5) {
        return Ok(canvas);
    }
    // Normalized landmark positions.
    let points: Vec<(f32, f32)> = landmarks
        .data
        .chunks_exact(3)
        .map(|p| (p[0] / iw as f32, p[1] / ih as f32))
        .collect();
    draw_face(&mut canvas, &points);
    Ok(canvas)
}

/// Draws one face of normalized landmarks on `canvas`; false when the face is under 64 pixels.
fn draw_face(canvas: &mut RgbImage, points: &[(f32, f32)]) -> bool {
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let (min_x, max_x) = points
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (min_y, max_y) = points
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if ((max_x - min_x) * w).min((max_y - min_y) * h) < 64.0 {
        return false;
    }
    // MediaPipe's `_normalized_to_pixel_coordinates`: points outside [0, 1] are not drawn.
    let pixel = |i: u16| -> Option<(i64, i64)> {
        let &(x, y) = points.get(usize::from(i))?;
        if !(0.0..=1.0).contains(&x) || !(0.0..=1.0).contains(&y) {
            return None;
        }
        Some((
            (x * w).floor().min(w - 1.0) as i64,
            (y * h).floor().min(h - 1.0) as i64,
        ))
    };
    let sets: [(&[[u16; 2]], [u8; 3]); 6] = [
        (&FACE_OVAL, [10, 200, 10]),
        (&LEFT_EYE, [10, 200, 180]),
        (&LEFT_EYEBROW, [10, 220, 180]),
        (&RIGHT_EYE, [180, 200, 10]),
        (&RIGHT_EYEBROW, [180, 220, 10]),
        (&LIPS, [10, 180, 10]),
    ];
    for (edges, colour) in sets {
        for [a, b] in edges {
            if let (Some(pa), Some(pb)) = (pixel(*a), pixel(*b)) {
                draw_thick_line(canvas, pa, pb, colour);
            }
        }
    }
    // Pupils: 4×4 squares (`image[y - 2 : y + 2, x - 2 : x + 2]`) at landmarks 468 and 473.
    for (index, colour) in [(468u16, [250, 200, 10]), (473, [10, 200, 250])] {
        let Some(&(x, y)) = points.get(usize::from(index)) else {
            continue;
        };
        if !(0.0..1.0).contains(&x) || !(0.0..1.0).contains(&y) {
            continue;
        }
        let (px, py) = ((w * x) as i64, (h * y) as i64);
        for yy in (py - 2).max(0)..(py + 2).min(h as i64) {
            for xx in (px - 2).max(0)..(px + 2).min(w as i64) {
                canvas.put_pixel(xx as u32, yy as u32, Rgb(colour));
            }
        }
    }
    true
}

/// A line about 2 pixels wide (cv2 `thickness=2`): each Bresenham point with its right and lower
/// neighbours.
fn draw_thick_line(
    canvas: &mut RgbImage,
    (x0, y0): (i64, i64),
    (x1, y1): (i64, i64),
    colour: [u8; 3],
) {
    let (w, h) = (i64::from(canvas.width()), i64::from(canvas.height()));
    walk_line(x0, y0, x1, y1, |x, y| {
        for (px, py) in [(x, y), (x + 1, y), (x, y + 1)] {
            if (0..w).contains(&px) && (0..h).contains(&py) {
                canvas.put_pixel(px as u32, py as u32, Rgb(colour));
            }
        }
    });
}

/// The ADE20k palette (150 classes), as onnx-web's `ade_palette.py` and controlnet_aux.
pub const ADE_PALETTE: [[u8; 3]; 150] = [
    [120, 120, 120],
    [180, 120, 120],
    [6, 230, 230],
    [80, 50, 50],
    [4, 200, 3],
    [120, 120, 80],
    [140, 140, 140],
    [204, 5, 255],
    [230, 230, 230],
    [4, 250, 7],
    [224, 5, 255],
    [235, 255, 7],
    [150, 5, 61],
    [120, 120, 70],
    [8, 255, 51],
    [255, 6, 82],
    [143, 255, 140],
    [204, 255, 4],
    [255, 51, 7],
    [204, 70, 3],
    [0, 102, 200],
    [61, 230, 250],
    [255, 6, 51],
    [11, 102, 255],
    [255, 7, 71],
    [255, 9, 224],
    [9, 7, 230],
    [220, 220, 220],
    [255, 9, 92],
    [112, 9, 255],
    [8, 255, 214],
    [7, 255, 224],
    [255, 184, 6],
    [10, 255, 71],
    [255, 41, 10],
    [7, 255, 255],
    [224, 255, 8],
    [102, 8, 255],
    [255, 61, 6],
    [255, 194, 7],
    [255, 122, 8],
    [0, 255, 20],
    [255, 8, 41],
    [255, 5, 153],
    [6, 51, 255],
    [235, 12, 255],
    [160, 150, 20],
    [0, 163, 255],
    [140, 140, 140],
    [250, 10, 15],
    [20, 255, 0],
    [31, 255, 0],
    [255, 31, 0],
    [255, 224, 0],
    [153, 255, 0],
    [0, 0, 255],
    [255, 71, 0],
    [0, 235, 255],
    [0, 173, 255],
    [31, 0, 255],
    [11, 200, 200],
    [255, 82, 0],
    [0, 255, 245],
    [0, 61, 255],
    [0, 255, 112],
    [0, 255, 133],
    [255, 0, 0],
    [255, 163, 0],
    [255, 102, 0],
    [194, 255, 0],
    [0, 143, 255],
    [51, 255, 0],
    [0, 82, 255],
    [0, 255, 41],
    [0, 255, 173],
    [10, 0, 255],
    [173, 255, 0],
    [0, 255, 153],
    [255, 92, 0],
    [255, 0, 255],
    [255, 0, 245],
    [255, 0, 102],
    [255, 173, 0],
    [255, 0, 20],
    [255, 184, 184],
    [0, 31, 255],
    [0, 255, 61],
    [0, 71, 255],
    [255, 0, 204],
    [0, 255, 194],
    [0, 255, 82],
    [0, 10, 255],
    [0, 112, 255],
    [51, 0, 255],
    [0, 194, 255],
    [0, 122, 255],
    [0, 255, 163],
    [255, 153, 0],
    [0, 255, 10],
    [255, 112, 0],
    [143, 255, 0],
    [82, 0, 255],
    [163, 255, 0],
    [255, 235, 0],
    [8, 184, 170],
    [133, 0, 255],
    [0, 255, 92],
    [184, 0, 255],
    [255, 0, 31],
    [0, 184, 255],
    [0, 214, 255],
    [255, 0, 112],
    [92, 255, 0],
    [0, 224, 255],
    [112, 224, 255],
    [70, 184, 160],
    [163, 0, 255],
    [153, 0, 255],
    [71, 255, 0],
    [255, 0, 163],
    [255, 204, 0],
    [255, 0, 143],
    [0, 255, 235],
    [133, 255, 0],
    [255, 0, 235],
    [245, 0, 255],
    [255, 0, 122],
    [255, 245, 0],
    [10, 190, 212],
    [214, 255, 0],
    [0, 204, 255],
    [20, 0, 255],
    [255, 255, 0],
    [0, 153, 255],
    [0, 41, 255],
    [0, 255, 204],
    [41, 0, 255],
    [41, 255, 0],
    [173, 0, 255],
    [0, 245, 255],
    [71, 0, 255],
    [122, 0, 255],
    [0, 255, 184],
    [0, 92, 255],
    [184, 255, 0],
    [0, 133, 255],
    [255, 214, 0],
    [25, 194, 194],
    [102, 255, 0],
    [92, 0, 255],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_resize_keeps_constants_and_interpolates() {
        assert_eq!(resize_bilinear(&[2.0; 4], 2, 2, 5, 3), vec![2.0; 15]);
        let up = resize_bilinear(&[0.0, 4.0], 1, 2, 1, 4);
        assert_eq!(up, vec![0.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn normal_map_of_a_ramp() {
        // Depth rising to the right: flat background on the left (below 0.4), slope on the right.
        let (w, h) = (10, 4);
        let depth: Vec<f32> = (0..w * h).map(|i| (i % w) as f32).collect();
        let n = normal_map(&depth, w, h, 0.4);
        assert_eq!(n.get_pixel(1, 1).0, [127, 127, 255]);
        let p = n.get_pixel(6, 1).0;
        assert!(p[0] > 127 && p[1] == 127 && p[2] < 255, "{p:?}");
    }

    #[test]
    fn scribble_keeps_strong_lines_only() {
        // A thick band survives the σ 3 blur of nms (its ridge is thinned to a line, then
        // widened again); a 1-pixel line is too weak after the blur.
        let band = |lo: u32, hi: u32| {
            GrayImage::from_fn(40, 40, move |x, _| {
                image::Luma([if (lo..hi).contains(&x) { 255 } else { 0 }])
            })
        };
        let s = scribble(&band(15, 26));
        assert!(s.pixels().all(|p| p[0] == 0 || p[0] == 255));
        assert_eq!(s.get_pixel(20, 20)[0], 255);
        assert_eq!(s.get_pixel(2, 20)[0], 0);
        assert!(scribble(&band(20, 21)).pixels().all(|p| p[0] == 0));
        assert!(scribble(&GrayImage::new(9, 9)).pixels().all(|p| p[0] == 0));
    }

    #[test]
    fn lines_are_decoded_from_peaks() {
        let (w, h) = (8, 8);
        let mut tp = vec![-10.0f32; 5 * w * h];
        let at = 3 * w + 4;
        tp[at] = 5.0;
        for (c, v) in [-2.0, 0.0, 2.0, 1.0].into_iter().enumerate() {
            tp[(1 + c) * w * h + at] = v;
        }
        let lines = decode_lines(&tp, w, h, 200, 3, 0.1, 0.1);
        assert_eq!(lines, vec![[2.0, 3.0, 6.0, 4.0]]);
        let mut img = GrayImage::new(8, 8);
        draw_line(&mut img, 2, 3, 6, 4);
        assert_eq!(img.pixels().filter(|p| p[0] == 255).count(), 5);
    }

    #[test]
    fn a_right_arm_is_found_and_drawn() {
        // Neck, right shoulder, elbow and wrist (parts 1..4) on a line, PAFs pointing right.
        let (w, h) = (64, 40);
        let joints = [(10.0, 20.0), (20.0, 20.0), (30.0, 20.0), (40.0, 20.0)];
        let heat = |part: usize| -> Vec<f32> {
            let mut map = vec![0.0; w * h];
            if (1..=4).contains(&part) {
                let (jx, jy) = joints[part - 1];
                for (i, v) in map.iter_mut().enumerate() {
                    let (dx, dy) = ((i % w) as f32 - jx, (i / w) as f32 - jy);
                    *v = (-(dx * dx + dy * dy) / 8.0).exp();
                }
            }
            map
        };
        let paf = |channel: usize| vec![if channel.is_multiple_of(2) { 1.0 } else { 0.0 }; w * h];
        let pose = pose_from_maps(heat, paf, w, h);
        assert_eq!(pose.dimensions(), (64, 40));
        assert_eq!(pose.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(pose.get_pixel(60, 38).0, [0, 0, 0]);
        for x in [10, 15, 25, 35, 40] {
            assert_ne!(pose.get_pixel(x, 20).0, [0, 0, 0], "limb at x = {x}");
        }
        // No peaks, no people.
        let none = pose_from_maps(|_| vec![0.0; w * h], paf, w, h);
        assert!(none.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn faces_are_drawn_unless_small() {
        // A ring of landmarks (in [0.1, 0.9]) and pupils at 468 and 473.
        let mut points: Vec<(f32, f32)> = (0..478)
            .map(|i| {
                let a = i as f32 * 0.1;
                (0.5 + 0.4 * a.cos(), 0.5 + 0.4 * a.sin())
            })
            .collect();
        points[468] = (0.3, 0.4);
        points[473] = (0.7, 0.4);
        let mut canvas = RgbImage::new(100, 100);
        assert!(draw_face(&mut canvas, &points));
        assert_eq!(canvas.get_pixel(30, 40).0, [250, 200, 10]);
        assert_eq!(canvas.get_pixel(70, 40).0, [10, 200, 250]);
        assert!(canvas.pixels().any(|p| p.0 == [10, 200, 10]), "face oval");
        let mut small = RgbImage::new(60, 60);
        assert!(!draw_face(&mut small, &points));
        assert!(small.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn the_palette_starts_as_ade20k() {
        assert_eq!(ADE_PALETTE[0], [120, 120, 120]);
        assert_eq!(ADE_PALETTE[149], [92, 0, 255]);
    }
}
