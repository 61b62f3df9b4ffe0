//! Integration tests: the real `keyhound` binary, run the way a user runs it.

mod allowed_live;
mod anthropic;
mod common;
mod context;
mod docs;
mod fake_anthropic;
mod fake_openai;
mod fake_openrouter;
mod fake_providers;
mod git;
mod hidden;
mod hook;
mod hostile;
mod hostile_servers;
mod incomplete;
mod openrouter;
mod ownership;
mod providers;
mod report;
mod revoke;
mod rules;
mod scan;
mod split_walk;
mod trust;
mod unreachable;
