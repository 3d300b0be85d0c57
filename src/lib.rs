//! vchat: a terminal vision-chat assistant on mistral.rs.
//!
//! The binary (`src/main.rs`) parses the command line and picks a mode; everything it uses lives
//! here so that tests can drive the same code.

pub mod app;
pub mod branches;
pub mod chats;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod engine;
pub mod logging;
pub mod media;
pub mod oneshot;
pub mod paths;
pub mod rng;
pub mod sampling;
pub mod text;
pub mod tiny_model;
pub mod tui;
pub mod ui;
