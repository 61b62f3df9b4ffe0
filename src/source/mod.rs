//! Where content comes from: a working tree, stdin, git history. Each source feeds bytes to
//! [`crate::content::inspect::inspect`] and labels the findings with their provenance.

pub mod fs;
pub mod git;
pub mod ignore_files;
pub mod image;
pub mod read_buffer;
