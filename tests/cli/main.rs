//! Integration tests: the real `keyhound` binary, run the way a user runs it.

mod anthropic;
mod common;
mod context;
mod docs;
mod fake_anthropic;
mod fake_openai;
mod git;
mod hidden;
mod hook;
mod hostile;
mod hostile_servers;
mod incomplete;
mod ownership;
mod report;
mod revoke;
mod rules;
mod scan;
mod split_walk;
mod trust;
mod unreachable;
