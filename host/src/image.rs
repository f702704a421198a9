//! Image loading and the SqueezeNet preprocessing of the model README.
//!
//! Decode PNG or JPEG (any colour type and bit depth the `image` crate reads) to 8-bit RGB,
//! resize to 256 x 256 with Pillow-compatible bilinear filtering (aspect ratio not kept),
//! centre-crop 227 x 227 at offset (14, 14), reorder RGB to BGR, subtract the Caffe mean
//! (B 104, G 117, R 123) without scaling, and lay the result out as CHW `f32`.
//!
//! The format is detected from the file's content, not its extension. Alpha is dropped (not
//! composited), 16-bit samples are scaled to 8 bits and grayscale is replicated to three
//! channels. JPEG EXIF orientation is not applied (Pillow's `Image.open` does not either).

pub mod resize;
pub mod views;

use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use ::image::{ImageFormat, ImageReader, RgbImage};

pub use resize::resize_bilinear_pil;

/// Side of the square the decoded image is resized to.
pub const RESIZE: u32 = 256;
/// Side of the network input (the centre crop).
pub const CROP: u32 = 227;
/// Offset of the centre crop in the resized image: (256 - 227) / 2, rounded down.
pub const CROP_OFFSET: u32 = (RESIZE - CROP) / 2;
/// Channels of the network input.
pub const CHANNELS: usize = 3;
/// Number of `f32` values in one preprocessed input (3 x 227 x 227).
pub const INPUT_LEN: usize = CHANNELS * (CROP as usize) * (CROP as usize);
/// Per-channel mean subtracted from the pixels, in network (BGR) order.
pub const MEAN_BGR: [f32; 3] = weights::topology::INPUT_MEAN_BGR;

/// Why an image could not be turned into a network input. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read image {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a PNG or JPEG image (format not recognised from its content)")]
    UnknownFormat { path: PathBuf },
    #[error("{path} is a {format:?} file; only PNG and JPEG are supported")]
    UnsupportedFormat { path: PathBuf, format: ImageFormat },
    #[error("{path} is not a regular file (an image file is expected)")]
    NotAFile { path: PathBuf },
    #[error(
        "{path} is {bytes} bytes; images of at most {} bytes are read",
        MAX_FILE_BYTES
    )]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error(
        "{path} is {width} x {height} pixels; images of at most {} pixels are decoded",
        MAX_PIXELS
    )]
    TooManyPixels {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error(
        "{path} is a truncated JPEG (no end-of-image marker): refusing to classify a partial image"
    )]
    Truncated { path: PathBuf },
    #[error("cannot decode image {path} (corrupt or truncated?): {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: ::image::ImageError,
    },
}

/// Largest image file read, in bytes (a photo is a few MB; a larger file is refused unread).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Largest image decoded, in pixels (a 40-megapixel photo; the header is read first, so a small
/// file that claims a huge image is refused before any pixel is decoded).
pub const MAX_PIXELS: u64 = 40_000_000;

/// Decode a PNG or JPEG file to 8-bit RGB. Only regular files of at most [`MAX_FILE_BYTES`] are
/// read (a FIFO or a device is refused, not waited on).
pub fn load_rgb8(path: impl AsRef<Path>) -> Result<RgbImage, ImageError> {
    use std::io::Read;
    let path = path.as_ref();
    let read = |source| ImageError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(ImageError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge {
            path: path.to_owned(),
            bytes: meta.len(),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge {
            path: path.to_owned(),
            bytes: bytes.len() as u64,
        });
    }
    decode_rgb8(&bytes, path)
}

/// Whether JPEG bytes end with the end-of-image marker (0xFFD9), allowing for a little padding
/// after it: a file cut short has none, and the decoder would fill the missing rows silently.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Decode PNG or JPEG bytes to 8-bit RGB; `name` is only used in error messages.
pub fn decode_rgb8(bytes: &[u8], name: &Path) -> Result<RgbImage, ImageError> {
    let format = ::image::guess_format(bytes).map_err(|_| ImageError::UnknownFormat {
        path: name.to_owned(),
    })?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(ImageError::UnsupportedFormat {
            path: name.to_owned(),
            format,
        });
    }
    let decode_err = |source| ImageError::Decode {
        path: name.to_owned(),
        source,
    };
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::Truncated {
            path: name.to_owned(),
        });
    }
    // The header first: the pixel count decides whether to decode at all.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(decode_err)?;
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(ImageError::TooManyPixels {
            path: name.to_owned(),
            width: w,
            height: h,
        });
    }
    let reader = ImageReader::with_format(BufReader::new(Cursor::new(bytes)), format);
    let decoded = reader.decode().map_err(decode_err)?;
    // Already 8-bit RGB (most JPEGs and many PNGs): no copy.
    Ok(decoded.into_rgb8())
}

/// Preprocess an 8-bit RGB image into the 3 x 227 x 227 CHW BGR mean-subtracted network input.
pub fn preprocess(rgb: &RgbImage) -> Vec<f32> {
    let resized = resize_bilinear_pil(rgb, RESIZE, RESIZE);
    let plane = (CROP * CROP) as usize;
    let mut out = vec![0.0f32; INPUT_LEN];
    for y in 0..CROP {
        for x in 0..CROP {
            let p = resized.get_pixel(x + CROP_OFFSET, y + CROP_OFFSET).0;
            let i = (y * CROP + x) as usize;
            // Channel 0 is blue: the network was trained on Caffe's BGR order.
            for (c, &mean) in MEAN_BGR.iter().enumerate() {
                out[c * plane + i] = f32::from(p[2 - c]) - mean;
            }
        }
    }
    out
}

/// Load an image file and preprocess it for the network (3 x 227 x 227 CHW `f32`).
pub fn load_preprocessed(path: impl AsRef<Path>) -> Result<Vec<f32>, ImageError> {
    Ok(preprocess(&load_rgb8(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};

    fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, format).expect("encode");
        buf.into_inner()
    }

    fn name() -> &'static Path {
        Path::new("test-image")
    }

    #[test]
    fn constants_match_the_model_readme() {
        assert_eq!(CROP_OFFSET, 14);
        assert_eq!(INPUT_LEN, 3 * 227 * 227);
    }

    #[test]
    fn decodes_every_png_colour_type_to_the_same_rgb() {
        let rgb = RgbImage::from_fn(31, 17, |x, y| Rgb([(x * 8) as u8, (y * 15) as u8, 77]));
        let rgba = ImageBuffer::from_fn(31, 17, |x, y| {
            let p = rgb.get_pixel(x, y).0;
            Rgba([p[0], p[1], p[2], (x * 3) as u8])
        });
        let rgb16 = ImageBuffer::from_fn(31, 17, |x, y| {
            let p = rgb.get_pixel(x, y).0;
            Rgb([
                u16::from(p[0]) * 257,
                u16::from(p[1]) * 257,
                u16::from(p[2]) * 257,
            ])
        });
        for img in [
            DynamicImage::ImageRgb8(rgb.clone()),
            DynamicImage::ImageRgba8(rgba),
            DynamicImage::ImageRgb16(rgb16),
        ] {
            let back = decode_rgb8(&encode(img.clone(), ImageFormat::Png), name()).unwrap();
            assert_eq!(back, rgb, "{:?}", img.color());
        }
    }

    #[test]
    fn grayscale_with_and_without_alpha_and_16_bit() {
        let gray = ImageBuffer::from_fn(9, 5, |x, y| Luma([(x * 20 + y) as u8]));
        let expect = RgbImage::from_fn(9, 5, |x, y| {
            let v = gray.get_pixel(x, y).0[0];
            Rgb([v, v, v])
        });
        let gray_a = ImageBuffer::from_fn(9, 5, |x, y| LumaA([gray.get_pixel(x, y).0[0], 10]));
        let gray16 = ImageBuffer::from_fn(9, 5, |x, y| {
            Luma([u16::from(gray.get_pixel(x, y).0[0]) * 257])
        });
        for img in [
            DynamicImage::ImageLuma8(gray),
            DynamicImage::ImageLumaA8(gray_a),
            DynamicImage::ImageLuma16(gray16),
        ] {
            let back = decode_rgb8(&encode(img.clone(), ImageFormat::Png), name()).unwrap();
            assert_eq!(back, expect, "{:?}", img.color());
        }
    }

    #[test]
    fn decodes_jpeg() {
        let rgb = RgbImage::from_pixel(40, 30, Rgb([200, 100, 50]));
        let bytes = encode(DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg);
        let back = decode_rgb8(&bytes, name()).unwrap();
        assert_eq!(back.dimensions(), (40, 30));
        // Lossy, but a flat colour survives within a few levels.
        for p in back.pixels() {
            for (a, b) in p.0.iter().zip([200u8, 100, 50]) {
                assert!(a.abs_diff(b) <= 3, "{:?}", p.0);
            }
        }
    }

    #[test]
    fn rejects_text_truncated_and_other_formats_naming_the_file() {
        let err = decode_rgb8(b"hello, I am not an image\n", Path::new("notes.txt")).unwrap_err();
        assert!(matches!(err, ImageError::UnknownFormat { .. }));
        assert!(err.to_string().contains("notes.txt"));

        let png = encode(
            DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 9]))),
            ImageFormat::Png,
        );
        let err = decode_rgb8(&png[..png.len() / 2], Path::new("half.png")).unwrap_err();
        assert!(matches!(err, ImageError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("half.png"));

        let jpeg = encode(
            DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 9]))),
            ImageFormat::Jpeg,
        );
        let err = decode_rgb8(&jpeg[..jpeg.len() / 10], Path::new("tenth.jpg")).unwrap_err();
        assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("tenth.jpg"));
        // Padding after the end marker is tolerated.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0; 100]);
        assert!(decode_rgb8(&padded, Path::new("padded.jpg")).is_ok());

        let gif_magic = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        let err = decode_rgb8(gif_magic, Path::new("x.gif")).unwrap_err();
        assert!(matches!(err, ImageError::UnsupportedFormat { .. }), "{err}");

        // A FIFO, a device or a folder is refused at once, not read.
        for p in ["/dev/zero", "/tmp"] {
            let err = load_rgb8(p).unwrap_err();
            assert!(matches!(err, ImageError::NotAFile { .. }), "{err}");
        }

        let err = load_rgb8("/nonexistent/dir/cat.png").unwrap_err();
        assert!(matches!(err, ImageError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/cat.png"));
    }

    /// A bounded fuzz of the decoder path: PNG and JPEG files with random bytes flipped, cut or
    /// appended are decoded or refused, never a panic.
    #[test]
    fn mutated_images_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(48, 40, |x, y| {
            Rgb([x as u8 * 5, y as u8 * 6, (x ^ y) as u8])
        }));
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let good = encode(img.clone(), format);
            for _ in 0..400 {
                let mut b = good.clone();
                for _ in 0..rng.gen_range(1..6) {
                    let i = rng.gen_range(0..b.len());
                    match rng.gen_range(0..3) {
                        0 => b[i] ^= 1 << rng.gen_range(0..8),
                        1 => b.truncate(i.max(1)),
                        _ => b.insert(i, rng.gen()),
                    }
                }
                let _ = decode_rgb8(&b, Path::new("fuzz"));
            }
        }
    }

    #[test]
    fn huge_images_are_refused_from_their_header_or_size() {
        // A PNG of 8000 x 6000 pixels: refused from its header, before decoding, from a small file.
        let img = ::image::GrayImage::new(8_000, 6_000);
        let png = encode(DynamicImage::ImageLuma8(img), ImageFormat::Png);
        assert!(png.len() < 1 << 20, "{} bytes", png.len());
        let err = decode_rgb8(&png, Path::new("huge.png")).unwrap_err();
        assert!(matches!(err, ImageError::TooManyPixels { .. }), "{err}");
        // A file over the size cap is refused unread (sparse: costs no disk).
        let p = std::env::temp_dir().join(format!("sqz-big-{}.png", std::process::id()));
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        drop(f);
        let err = load_rgb8(&p).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn preprocess_is_bgr_minus_mean_chw() {
        // A flat image stays flat through the resize, so every value is known.
        let img = RgbImage::from_pixel(300, 200, Rgb([10, 20, 30]));
        let x = preprocess(&img);
        let plane = 227 * 227;
        assert_eq!(x.len(), INPUT_LEN);
        assert!(x[..plane].iter().all(|&v| v == 30.0 - 104.0));
        assert!(x[plane..2 * plane].iter().all(|&v| v == 20.0 - 117.0));
        assert!(x[2 * plane..].iter().all(|&v| v == 10.0 - 123.0));
    }

    #[test]
    fn crop_is_centred_at_offset_14() {
        // Already 256 x 256: no resize pass runs, so the crop window is directly visible.
        let img = RgbImage::from_fn(256, 256, |x, y| Rgb([x as u8, y as u8, 0]));
        let x = preprocess(&img);
        let plane = 227 * 227;
        // Red (channel 2 in BGR) holds the source column, green the source row.
        assert_eq!(x[2 * plane], 14.0 - 123.0);
        assert_eq!(x[plane], 14.0 - 117.0);
        assert_eq!(x[2 * plane + 226], 240.0 - 123.0);
        assert_eq!(x[plane + 226 * 227], 240.0 - 117.0);
    }
}
