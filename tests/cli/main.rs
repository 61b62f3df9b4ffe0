//! Integration tests: the real `keyhound` binary, run the way a user runs it.

mod common;
mod git;
mod hook;
mod report;
mod rules;
mod scan;
