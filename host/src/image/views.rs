//! Views of a photo: the crops, flips and small rotations a user's pictures come in, made
//! deterministically so a calibration or a fidelity check built from them is reproducible.
//!
//! View 0 of every photo is the photo itself. View `n > 0` comes from a small counter-based
//! generator seeded by `n` alone (not by the photo, so "view 3" means the same geometry on every
//! photo): a crop of 50 to 100 % of the photo's side at an aspect ratio between 3:4 and 4:3,
//! placed anywhere it fits, a horizontal flip half the time, and half the time a rotation of up
//! to 12 degrees either way (the crop shrinks until its rotated corners stay inside the photo).
//! The view is sampled bilinearly at the photo's own resolution; the network's preprocessing
//! ([`super::preprocess`]) then runs on it as on any image.

use ::image::{Rgb, RgbImage};
use std::fmt;

/// The geometry of one view, in fractions of the photo's width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Which view this is (0: the photo itself).
    pub index: u32,
    /// Crop centre, fractions of width and height.
    pub cx: f64,
    pub cy: f64,
    /// Crop width and height, fractions of the photo's width and height.
    pub w: f64,
    pub h: f64,
    /// Mirror left to right.
    pub flip: bool,
    /// Rotation in degrees, counter-clockwise.
    pub angle: f64,
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == 0 {
            return f.write_str("view 0 (whole)");
        }
        write!(
            f,
            "view {} (crop {:.2}x{:.2} at {:.2},{:.2}{}{})",
            self.index,
            self.w,
            self.h,
            self.cx,
            self.cy,
            if self.flip { ", flipped" } else { "" },
            if self.angle != 0.0 {
                format!(", rotated {:+.1} deg", self.angle)
            } else {
                String::new()
            }
        )
    }
}

/// SplitMix64: a fixed generator, so views never change with a dependency's version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Largest rotation, degrees.
pub const MAX_ANGLE: f64 = 12.0;
/// Smallest crop side, fraction of the photo's.
pub const MIN_SIDE: f64 = 0.5;

impl View {
    /// The photo itself.
    pub fn whole() -> View {
        View {
            index: 0,
            cx: 0.5,
            cy: 0.5,
            w: 1.0,
            h: 1.0,
            flip: false,
            angle: 0.0,
        }
    }

    /// View number `index` of a photo of `width` x `height` pixels.
    pub fn nth(index: u32, width: u32, height: u32) -> View {
        if index == 0 {
            return View::whole();
        }
        let mut r = SplitMix(0x5A5A_0000_0000_0000 ^ index as u64);
        let side = r.uniform(MIN_SIDE, 1.0);
        let aspect = r.uniform((0.75f64).ln(), (4.0f64 / 3.0).ln()).exp();
        let mut w = (side * aspect.sqrt()).min(1.0);
        let mut h = (side / aspect.sqrt()).min(1.0);
        let flip = r.next() & 1 == 1;
        let angle = if r.next() & 1 == 1 {
            r.uniform(-MAX_ANGLE, MAX_ANGLE)
        } else {
            0.0
        };
        // Half extents of the rotated crop's bounding box, in pixels; shrink the crop until it fits.
        let (wp, hp) = (width as f64, height as f64);
        let (s, c) = angle.to_radians().sin_cos();
        let (s, c) = (s.abs(), c.abs());
        let bx = |w: f64, h: f64| (w * wp * c + h * hp * s) / 2.0;
        let by = |w: f64, h: f64| (w * wp * s + h * hp * c) / 2.0;
        let fit = (wp / 2.0 / bx(w, h)).min(hp / 2.0 / by(w, h)).min(1.0);
        w *= fit;
        h *= fit;
        let (ex, ey) = (bx(w, h) / wp, by(w, h) / hp);
        let cx = r.uniform(ex, (1.0 - ex).max(ex + 1e-9));
        let cy = r.uniform(ey, (1.0 - ey).max(ey + 1e-9));
        View {
            index,
            cx,
            cy,
            w,
            h,
            flip,
            angle,
        }
    }

    /// Sample the view out of `photo` (bilinear, at the photo's resolution).
    pub fn apply(&self, photo: &RgbImage) -> RgbImage {
        if self.index == 0 {
            return photo.clone();
        }
        let (pw, ph) = (photo.width() as f64, photo.height() as f64);
        let ow = ((self.w * pw).round() as u32).max(1);
        let oh = ((self.h * ph).round() as u32).max(1);
        let (s, c) = self.angle.to_radians().sin_cos();
        let (cx, cy) = (self.cx * pw, self.cy * ph);
        let mut out = RgbImage::new(ow, oh);
        for y in 0..oh {
            for x in 0..ow {
                let sx = if self.flip { ow - 1 - x } else { x };
                // Offset from the crop's centre, rotated into the photo.
                let u = sx as f64 + 0.5 - ow as f64 / 2.0;
                let v = y as f64 + 0.5 - oh as f64 / 2.0;
                let px = cx + u * c + v * s - 0.5;
                let py = cy - u * s + v * c - 0.5;
                out.put_pixel(x, y, bilinear(photo, px, py));
            }
        }
        out
    }
}

fn bilinear(img: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x = x.clamp(0.0, (w - 1) as f64);
    let y = y.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |xx: i64, yy: i64| img.get_pixel(xx as u32, yy as u32).0;
    let (a, b, cc, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut o = [0u8; 3];
    for k in 0..3 {
        let top = a[k] as f64 * (1.0 - fx) + b[k] as f64 * fx;
        let bot = cc[k] as f64 * (1.0 - fx) + d[k] as f64 * fx;
        o[k] = (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_zero_is_the_photo_and_views_are_reproducible() {
        let img = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 7]));
        assert_eq!(View::nth(0, 40, 30).apply(&img), img);
        assert_eq!(View::nth(5, 40, 30), View::nth(5, 40, 30));
        assert_ne!(View::nth(5, 40, 30), View::nth(6, 40, 30));
    }

    #[test]
    fn every_view_stays_inside_the_photo() {
        for (w, h) in [(640u32, 480u32), (300, 900), (227, 227)] {
            for n in 1..200 {
                let v = View::nth(n, w, h);
                assert!(v.w <= 1.0 && v.h <= 1.0 && v.w > 0.2 && v.h > 0.2, "{v}");
                assert!(v.angle.abs() <= MAX_ANGLE);
                // The rotated crop's corners lie inside the photo.
                let (s, c) = v.angle.to_radians().sin_cos();
                for (du, dv) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
                    let u = du * v.w * w as f64 / 2.0;
                    let t = dv * v.h * h as f64 / 2.0;
                    let px = v.cx * w as f64 + u * c + t * s;
                    let py = v.cy * h as f64 - u * s + t * c;
                    assert!(px > -1e-6 && px < w as f64 + 1e-6, "{v}: x {px}");
                    assert!(py > -1e-6 && py < h as f64 + 1e-6, "{v}: y {py}");
                }
            }
        }
    }

    #[test]
    fn a_flip_mirrors_the_crop() {
        let img = RgbImage::from_fn(64, 64, |x, _| Rgb([x as u8 * 4, 0, 0]));
        let mut v = View::whole();
        v.index = 1;
        v.flip = true;
        let out = v.apply(&img);
        assert_eq!(out.get_pixel(0, 0).0[0], 63 * 4);
        assert_eq!(out.get_pixel(63, 5).0[0], 0);
    }
}
