//! Decoding under limits: the header is checked before any pixel is allocated, so a
//! decompression bomb is refused instead of eating the machine's memory.

use std::io::Cursor;

use image::{DynamicImage, ImageError, ImageReader, Limits};

use super::MediaError;

/// Longest side sent to the model. LLaVA-class processors resize to a few hundred pixels
/// anyway; anything beyond this only costs time and memory before the first token.
pub const MAX_MODEL_EDGE: u32 = 2048;

/// Limits applied before decoding.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    /// Largest width or height accepted.
    pub max_edge: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_edge: 20_000,
            max_alloc: 1024 * 1024 * 1024,
        }
    }
}

/// Decodes image bytes (format guessed from the content, not the name) and downscales the
/// result so that its longest side is at most [`MAX_MODEL_EDGE`].
pub fn decode_image(
    bytes: &[u8],
    source_name: &str,
    limits: &DecodeLimits,
) -> Result<DynamicImage, MediaError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Corrupt {
            source_name: source_name.into(),
            reason: e.to_string(),
        })?;
    if reader.format().is_none() {
        return Err(MediaError::NotAnImage(source_name.into()));
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| classify(e, source_name))?;
    if width > limits.max_edge || height > limits.max_edge {
        return Err(MediaError::TooLarge {
            source_name: source_name.into(),
            width,
            height,
            limit: limits.max_edge,
        });
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            source_name: source_name.into(),
            reason: "zero-sized image".into(),
        });
    }

    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| classify(ImageError::IoError(e), source_name))?;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_edge);
    decoder_limits.max_image_height = Some(limits.max_edge);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let image = reader.decode().map_err(|e| classify(e, source_name))?;
    Ok(downscale_for_model(image))
}

/// Shrinks an image whose longest side exceeds [`MAX_MODEL_EDGE`], keeping the aspect ratio.
pub fn downscale_for_model(image: DynamicImage) -> DynamicImage {
    if image.width().max(image.height()) <= MAX_MODEL_EDGE {
        return image;
    }
    image.resize(
        MAX_MODEL_EDGE,
        MAX_MODEL_EDGE,
        image::imageops::FilterType::Triangle,
    )
}

fn classify(error: ImageError, source_name: &str) -> MediaError {
    match error {
        ImageError::Unsupported(_) => MediaError::NotAnImage(source_name.into()),
        ImageError::Limits(e) => MediaError::TooMuchMemory {
            source_name: source_name.into(),
            reason: e.to_string(),
        },
        other => MediaError::Corrupt {
            source_name: source_name.into(),
            reason: crate::text::one_line(&other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(width, height);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn huge_images_are_downscaled_keeping_aspect() {
        let img = decode_image(&png(4096, 1024), "wide.png", &DecodeLimits::default()).unwrap();
        assert_eq!((img.width(), img.height()), (2048, 512));
    }

    #[test]
    fn oversized_header_is_refused_before_decoding() {
        let limits = DecodeLimits {
            max_edge: 100,
            ..DecodeLimits::default()
        };
        let err = decode_image(&png(200, 10), "big.png", &limits).unwrap_err();
        assert!(
            matches!(err, MediaError::TooLarge { width: 200, .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_png_is_corrupt_and_text_is_not_an_image() {
        let bytes = png(64, 64);
        let err = decode_image(
            &bytes[..bytes.len() / 2],
            "cut.png",
            &DecodeLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, MediaError::Corrupt { .. }), "{err}");
        let err = decode_image(b"hello world", "notes.txt", &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, MediaError::NotAnImage(_)), "{err}");
    }
}
