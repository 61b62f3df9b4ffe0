//! keyhound: find leaked OpenAI and other AI-provider API keys in files and git history, report them, and
//! (only when asked) revoke them.
//!
//! The flow runs one way: [`cli`] arguments become a [`scan::Scanner`] (built from [`rules`]); [`source`]s feed
//! content to the [`content`] stage, which yields [`finding::Finding`]s; [`filter`]s drop accepted ones;
//! [`report`]ers print.

// zlib-rs, exporting the C zlib API, so that libgit2 inflates through it (see Cargo.toml).
use libz_rs_sys as _;

pub mod cli;
pub mod command;
pub mod config;
pub mod content;
pub mod counts;
pub mod decoder;
pub mod diag;
pub mod exit;
pub mod filter;
pub mod finding;
pub mod format;
pub mod input;
pub mod inspection;
pub mod invisible;
pub mod output_file;
pub mod paths;
pub mod progress;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod severity;
pub mod source;
pub mod text;
