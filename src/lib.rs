//! keyhound: find leaked OpenAI and other AI-provider API keys in files and git history, report them, and
//! (only when asked) revoke them.
//!
//! The flow runs one way: [`cli`] arguments become a [`scan::Scanner`] (built from [`rules`]); [`source`]s feed
//! content to [`inspect`], which yields [`finding::Finding`]s; [`filter`]s drop accepted ones; [`report`]ers print.

// zlib-rs, exporting the C zlib API, so that libgit2 inflates through it (see Cargo.toml).
use libz_rs_sys as _;

pub mod cli;
pub mod command;
pub mod config;
pub mod content;
pub mod counts;
pub mod diag;
pub mod exit;
pub mod filter;
pub mod finding;
pub mod input;
pub mod inspect;
pub mod invisible;
pub mod output_file;
pub mod progress;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod source;
pub mod text;
