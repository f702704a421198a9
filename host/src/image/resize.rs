//! A bilinear resize that reproduces Pillow's `Image.resize(size, Image.BILINEAR)` on 8-bit RGB.
//!
//! Pillow does not interpolate between the two nearest pixels: it convolves with a triangle
//! filter whose support grows with the reduction ratio (so a downscale is antialiased), in two
//! separable passes, horizontal first. Each pass uses fixed-point coefficients with 22
//! fractional bits and rounds the result back to `u8` before the next pass. The golden inputs
//! of this project were made that way, so we copy the arithmetic step for step
//! (Pillow `src/libImaging/Resample.c`: `precompute_coeffs`, `normalize_coeffs_8bpc`,
//! `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`).

use ::image::RgbImage;

/// Fractional bits of Pillow's fixed-point coefficients (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Filter taps for one output coordinate: the first input index and the fixed-point weights.
#[derive(Debug, Clone)]
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// Pillow's bilinear (triangle) kernel, support 1.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// Coefficients for mapping `in_size` samples onto `out_size` samples (`precompute_coeffs` with
/// the box `[0, in_size)`, then `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    // When enlarging the filter keeps its unit support; when reducing it is stretched.
    let filterscale = scale.max(1.0);
    let support = filterscale; // triangle support (1.0) * filterscale
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C `(int)` truncates toward zero; both bounds are clamped into the image.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let raw: Vec<f64> = (xmin..xmax.max(xmin))
                .map(|x| triangle((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let fixed = w * f64::from(1u32 << PRECISION_BITS);
                    // Round half away from zero, as Pillow does.
                    if fixed < 0.0 {
                        (fixed - 0.5) as i32
                    } else {
                        (fixed + 0.5) as i32
                    }
                })
                .collect();
            Taps {
                start: xmin,
                weights,
            }
        })
        .collect()
}

/// Pillow's `clip8`: drop the fraction (arithmetic shift) and saturate to `0..=255`.
fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Rounding bias added before the shift (one half in fixed point).
const HALF: i64 = 1 << (PRECISION_BITS - 1);

fn resize_horizontal(src: &RgbImage, out_w: u32) -> RgbImage {
    let taps = coefficients(src.width() as usize, out_w as usize);
    let (w, h) = (src.width() as usize, src.height());
    let raw = src.as_raw();
    let mut out = RgbImage::new(out_w, h);
    for y in 0..h as usize {
        let row = &raw[y * w * 3..(y + 1) * w * 3];
        let out_row = &mut out.as_mut()[y * out_w as usize * 3..(y + 1) * out_w as usize * 3];
        for (xx, t) in taps.iter().enumerate() {
            let mut acc = [HALF; 3];
            for (i, &k) in t.weights.iter().enumerate() {
                let p = &row[(t.start + i) * 3..(t.start + i) * 3 + 3];
                for c in 0..3 {
                    acc[c] += i64::from(p[c]) * i64::from(k);
                }
            }
            for c in 0..3 {
                out_row[xx * 3 + c] = clip8(acc[c]);
            }
        }
    }
    out
}

fn resize_vertical(src: &RgbImage, out_h: u32) -> RgbImage {
    let taps = coefficients(src.height() as usize, out_h as usize);
    let w = src.width() as usize;
    let raw = src.as_raw();
    let mut out = RgbImage::new(src.width(), out_h);
    let stride = w * 3;
    for (yy, t) in taps.iter().enumerate() {
        let out_row = &mut out.as_mut()[yy * stride..(yy + 1) * stride];
        for (x, o) in out_row.iter_mut().enumerate() {
            let mut acc = HALF;
            for (i, &k) in t.weights.iter().enumerate() {
                acc += i64::from(raw[(t.start + i) * stride + x]) * i64::from(k);
            }
            *o = clip8(acc);
        }
    }
    out
}

/// Resize `src` to `out_w` x `out_h` exactly as Pillow's `resize((out_w, out_h), BILINEAR)`
/// does for an RGB image (horizontal pass first, each pass skipped when that size is unchanged).
///
/// Both output sizes must be non-zero (the caller's target is fixed, 256 x 256).
pub fn resize_bilinear_pil(src: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    debug_assert!(out_w > 0 && out_h > 0);
    let horizontal = if src.width() != out_w {
        resize_horizontal(src, out_w)
    } else {
        src.clone()
    };
    if horizontal.height() != out_h {
        resize_vertical(&horizontal, out_h)
    } else {
        horizontal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_sum_to_one_in_fixed_point() {
        for &(i, o) in &[(451, 256), (300, 256), (100, 256), (741, 256), (3, 7)] {
            for t in coefficients(i, o) {
                let sum: i64 = t.weights.iter().map(|&k| i64::from(k)).sum();
                // Each weight is rounded on its own, so the sum can be off by half a unit per tap.
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= t.weights.len() as i64,
                    "{i}->{o}"
                );
                assert!(t.start + t.weights.len() <= i);
            }
        }
    }

    #[test]
    fn same_size_is_identity_and_constant_stays_constant() {
        let img = RgbImage::from_fn(37, 23, |x, y| {
            ::image::Rgb([x as u8, y as u8, (x * y) as u8])
        });
        assert_eq!(resize_bilinear_pil(&img, 37, 23), img);
        let flat = RgbImage::from_pixel(451, 300, ::image::Rgb([200, 17, 3]));
        let out = resize_bilinear_pil(&flat, 256, 256);
        assert!(out.pixels().all(|p| p.0 == [200, 17, 3]));
    }

    #[test]
    fn downscale_by_two_averages_neighbours() {
        // A 2:1 reduction with Pillow's stretched triangle: taps 1/8, 3/8, 3/8, 1/8 inside the
        // image (only the first and last output pixels are renormalised at the edge).
        let img = RgbImage::from_fn(8, 1, |x, _| ::image::Rgb([(x * 16) as u8; 3]));
        let out = resize_bilinear_pil(&img, 4, 1);
        // Centre of output 1 is input 3.0: (16*1 + 32*3 + 48*3 + 64*1) / 8 = 40.
        assert_eq!(out.get_pixel(1, 0).0, [40; 3]);
        assert_eq!(out.get_pixel(2, 0).0, [72; 3]);
    }
}
