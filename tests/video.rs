//! Video clips: frames sampled evenly with their times from container video (through the
//! `ffmpeg` program) and animated images (through the `image` crate), and the contact sheet a
//! one-image model gets.

mod common;

use common::*;
use image::GenericImageView;
use vchat::media::video::{self, FrameSampling};
use vchat::media::{self, MediaOptions};

fn mean_red(image: &image::DynamicImage) -> f64 {
    let rgb = image.to_rgb8();
    rgb.pixels().map(|p| f64::from(p[0])).sum::<f64>() / (rgb.width() * rgb.height()) as f64
}

/// Whether `source` loads as a clip (the file decides), as `/image`, `--image` and a drop do.
async fn loads_as_a_clip(source: &str) -> bool {
    let loaded = media::load_attachment(source, &MediaOptions::default()).await;
    match loaded.expect("loads") {
        media::Attachment::Clip(clip) => !clip.frames.is_empty(),
        media::Attachment::Image(_) => false,
    }
}

#[tokio::test]
async fn a_clip_gives_evenly_spread_frames_each_taken_at_its_time() {
    let clip = red_clock_clip("red-clock.mp4");
    let source = clip.to_str().unwrap();
    assert!(loads_as_a_clip(source).await);
    for frames in [1, 3, 8] {
        let options = MediaOptions::default();
        let clip = media::load_clip(source, &options, FrameSampling::Count(frames))
            .await
            .expect("clip");
        assert!((clip.duration - 4.0).abs() < 0.15, "{}", clip.duration);
        assert_eq!(clip.frames.len(), frames);
        for (i, frame) in clip.frames.iter().enumerate() {
            let centre = clip.duration * (i as f64 + 0.5) / frames as f64;
            assert!((frame.time - centre).abs() < 1e-9);
            // The frame shown at that time: red is 50 per second (one frame is 0.1 s).
            let red = mean_red(&frame.image.pixels);
            assert!(
                (red - 50.0 * frame.time).abs() <= 50.0 * 0.1 + 3.0,
                "frame {i} of {frames} at {} s has red {red}",
                frame.time
            );
            assert!(frame
                .image
                .label
                .ends_with(&format!("@ {} s", video::format_time(frame.time))));
        }
    }
}

#[tokio::test]
async fn frames_per_second_are_capped_visibly() {
    let clip = red_clock_clip("red-clock.mp4");
    let options = MediaOptions::default();
    let sampled = media::load_clip(
        clip.to_str().unwrap(),
        &options,
        FrameSampling::PerSecond(1.0),
    )
    .await
    .expect("clip");
    assert_eq!(sampled.frames.len(), 4);
    assert!(!sampled.capped);
    let capped = media::load_clip(
        clip.to_str().unwrap(),
        &options,
        FrameSampling::PerSecond(30.0),
    )
    .await
    .expect("clip");
    assert_eq!(capped.frames.len(), video::MAX_FRAMES);
    assert!(capped.capped && capped.description().contains("capped at"));
}

#[tokio::test]
async fn an_animated_gif_is_a_clip_and_a_still_one_is_an_image() {
    // Ten frames of 200 ms, each its own shade of red: a 2-second clip.
    let colours: Vec<[u8; 3]> = (0..10).map(|i| [20 + 20 * i as u8, 0, 0]).collect();
    let path = scratch_dir().join("shades.gif");
    std::fs::write(&path, animated_gif(&colours, 200)).unwrap();
    let source = path.to_str().unwrap();
    assert!(loads_as_a_clip(source).await);
    let clip = media::load_clip(source, &MediaOptions::default(), FrameSampling::Count(4))
        .await
        .expect("clip");
    assert!((clip.duration - 2.0).abs() < 1e-9);
    // Centres 0.25, 0.75, 1.25, 1.75 s fall in frames 1, 3, 6 and 8.
    let reds: Vec<i32> = clip
        .frames
        .iter()
        .map(|f| i32::from(f.image.pixels.get_pixel(5, 5)[0]))
        .collect();
    // (The GIF palette may move a shade by a few levels.)
    for (red, expected) in reds.iter().zip([40, 80, 140, 180]) {
        assert!((red - expected).abs() <= 4, "{reds:?}");
    }

    let still = scratch_dir().join("still.gif");
    std::fs::write(&still, animated_gif(&colours[..1], 0)).unwrap();
    assert!(!loads_as_a_clip(still.to_str().unwrap()).await);
    let err = media::load_clip(
        still.to_str().unwrap(),
        &MediaOptions::default(),
        FrameSampling::Count(4),
    )
    .await
    .expect_err("a still image is not a clip");
    assert!(err.to_string().contains("still image"), "{err}");
}

#[tokio::test]
async fn a_one_image_model_gets_a_contact_sheet_with_every_frame() {
    let clip = red_clock_clip("red-clock.mp4");
    let clip = media::load_clip(
        clip.to_str().unwrap(),
        &MediaOptions::default(),
        FrameSampling::Count(4),
    )
    .await
    .expect("clip");
    let (images, note) = video::for_model(&clip, true).expect("sheet");
    assert_eq!(images.len(), 1);
    let sheet = &images[0].pixels;
    // Four frames tile 2 × 2 cells of 336 pixels, in time order: redder to the right and down.
    assert_eq!(sheet.dimensions(), (672, 672));
    let cell_red = |column: u32, row: u32| {
        mean_red(&sheet.crop_imm(column * 336 + 100, row * 336 + 100, 136, 136))
    };
    let reds = [
        cell_red(0, 0),
        cell_red(1, 0),
        cell_red(0, 1),
        cell_red(1, 1),
    ];
    for (frame, red) in clip.frames.iter().zip(reds) {
        assert!((red - 50.0 * frame.time).abs() < 10.0, "{reds:?}");
    }
    assert!(
        note.contains("contact sheet") && note.contains("4 frames"),
        "{note}"
    );

    let (frames, note) = video::for_model(&clip, false).expect("frames");
    assert_eq!(frames.len(), 4);
    let times: Vec<String> = clip
        .frames
        .iter()
        .map(|f| video::format_time(f.time))
        .collect();
    assert!(
        note.contains(&format!("at {} s", times.join(", "))),
        "{note}"
    );
}

/// A saved chat keeps the sampled frames (as images), not the clip: it reopens with the frames
/// in order, their labels and pixels, and the line that told the model their times.
#[tokio::test]
async fn a_chat_with_a_clip_saves_its_frames_and_reopens_them() {
    use vchat::chats::{to_conversation, to_file, ChatMeta, ChatStore};
    use vchat::conversation::{Conversation, Turn};

    let colours: Vec<[u8; 3]> = (0..6).map(|i| [0, 40 * i as u8, 200]).collect();
    let path = scratch_dir().join("blues.gif");
    std::fs::write(&path, animated_gif(&colours, 500)).unwrap();
    let clip = media::load_clip(
        path.to_str().unwrap(),
        &MediaOptions::default(),
        FrameSampling::Count(3),
    )
    .await
    .expect("clip");
    let (frames, note) = video::for_model(&clip, false).unwrap();
    let mut chat = Conversation::default();
    chat.push_user(format!("{note}\nWhat changes?"), frames.clone());

    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::new(dir.path());
    let meta = ChatMeta {
        id: "clip".into(),
        title: None,
        created: 1_790_000_000,
    };
    let (file, images) = to_file(&meta, &chat, None);
    store.save(&file, &images).unwrap();
    let loaded = store.load("clip").unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let back = to_conversation(&loaded.file, &loaded.images);
    let Some(Turn::User(turn)) = back.turns.first() else {
        panic!("the message is back");
    };
    assert!(turn.text.starts_with(&note) && turn.text.ends_with("What changes?"));
    assert_eq!(turn.images.len(), 3);
    for (back, sent) in turn.images.iter().zip(&frames) {
        assert_eq!(back.label, sent.label);
        assert_eq!(back.pixels.to_rgba8(), sent.pixels.to_rgba8());
    }
    // The three frames are stored as images; no copy of the clip.
    assert_eq!(std::fs::read_dir(store.images_dir()).unwrap().count(), 3);
}

/// `/frame N` reads one moment again at the clip's own resolution: the sampled frames are at
/// most `FRAME_EDGE` a side, the frame read again is not, and it is the frame at that time.
#[tokio::test]
async fn a_frame_read_again_has_the_clips_own_size_and_time() {
    let big = red_clock_clip_of("red-clock-1600.mp4", "1600x900", 5, 2, 100);
    let source = big.to_str().unwrap();
    let options = MediaOptions::default();
    let clip = media::load_clip(source, &options, FrameSampling::Count(4))
        .await
        .expect("clip");
    assert_eq!(
        clip.frames[0].image.pixels.dimensions(),
        (video::FRAME_EDGE, 576)
    );
    let time = clip.frames[2].time;
    let frame = media::load_frame(source, time, &options)
        .await
        .expect("frame");
    assert_eq!(frame.pixels.dimensions(), (1600, 900));
    let red = mean_red(&frame.pixels);
    assert!(
        (red - 100.0 * time).abs() <= 100.0 * 0.2 + 3.0,
        "the frame at {time} s has red {red}"
    );
    assert!(frame.label.contains("full size"), "{}", frame.label);

    // An animated GIF's frame at a time is the one on screen then.
    let colours: Vec<[u8; 3]> = (0..10).map(|i| [20 + 20 * i as u8, 0, 0]).collect();
    let gif = scratch_dir().join("shades-frame.gif");
    std::fs::write(&gif, animated_gif(&colours, 200)).unwrap();
    let frame = media::load_frame(gif.to_str().unwrap(), 1.25, &options)
        .await
        .expect("frame");
    let red = i32::from(frame.pixels.get_pixel(5, 5)[0]);
    assert!((red - 140).abs() <= 4, "red {red}");

    // A clip that is gone by then: one line.
    let err = media::load_frame("/nonexistent/clip.mp4", 1.0, &options)
        .await
        .expect_err("no clip");
    assert!(err.to_string().contains("no such file"), "{err}");
}
