//! Decoding under limits: the header is checked before any pixel is allocated, so a
//! decompression bomb is refused instead of eating the machine's memory.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

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

impl DecodeLimits {
    /// Refuses a picture wider or taller than allowed, before any pixel is decoded.
    pub fn check_edges(
        &self,
        width: u32,
        height: u32,
        source_name: &str,
    ) -> Result<(), MediaError> {
        if width > self.max_edge || height > self.max_edge {
            return Err(MediaError::TooLarge {
                source_name: source_name.into(),
                width,
                height,
                limit: self.max_edge,
            });
        }
        Ok(())
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_edge: 20_000,
            max_alloc: 1024 * 1024 * 1024,
        }
    }
}

/// Decodes image bytes (format guessed from the content, not the name), turns the picture the
/// way its EXIF orientation says (as a phone's portrait photo is seen), and downscales the
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
    limits.check_edges(width, height, source_name)?;
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
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| classify(e, source_name))?;
    // A missing or unreadable orientation tag means the picture is stored as seen.
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| classify(e, source_name))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(downscale_for_model(image))
}

/// Refuses an image whose data stops early or is damaged where the decoder would quietly fill
/// in grey (JPEG: the `image` crate decodes leniently, as browsers do). Other formats already
/// fail to decode when cut short. Used for new images; a chat's stored images are shown as
/// they were accepted.
pub fn check_complete(bytes: &[u8], source_name: &str) -> Result<(), MediaError> {
    if image::guess_format(bytes).ok() != Some(ImageFormat::Jpeg) {
        return Ok(());
    }
    let options = zune_core::options::DecoderOptions::default().set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    decoder
        .decode()
        .map(|_| ())
        .map_err(|e| MediaError::Corrupt {
            source_name: source_name.into(),
            reason: crate::text::one_line(&format!("{e:?}")),
        })
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

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        }));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn a_truncated_jpeg_is_refused_and_a_whole_one_accepted() {
        let bytes = jpeg(96, 64);
        check_complete(&bytes, "whole.jpg").unwrap();
        // The lenient decoder shows a cut JPEG (grey below the cut); the check refuses it.
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert!(decode_image(cut, "cut.jpg", &DecodeLimits::default()).is_ok());
        let err = check_complete(cut, "cut.jpg").unwrap_err();
        assert!(matches!(err, MediaError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cut.jpg"), "{err}");
    }

    #[test]
    fn exif_orientation_turns_the_picture() {
        // A 4×2 JPEG whose EXIF says "rotate 90° clockwise to view" (orientation 6).
        let mut bytes = jpeg(4, 2);
        let exif: &[u8] = &[
            b'E', b'x', b'i', b'f', 0, 0, // Exif header
            b'M', b'M', 0, 42, 0, 0, 0, 8, // TIFF, big endian, first IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation (SHORT) = 6
            0, 0, 0, 0, // no next IFD
        ];
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        segment.extend_from_slice(exif);
        bytes.splice(2..2, segment);
        let img = decode_image(&bytes, "portrait.jpg", &DecodeLimits::default()).unwrap();
        assert_eq!((img.width(), img.height()), (2, 4));
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
