//! Verifying and revoking leaked OpenAI keys (work in progress in this session).

pub mod command;
