//! keyhound: find leaked OpenAI and other AI-provider API keys in files and git history, report them, and
//! (only when asked) revoke them.
//!
//! The flow runs one way: [`cli`] arguments become a [`scan::Scanner`] (built from [`rules`]); [`source`]s feed
//! content to the [`content`] stage, which yields [`finding::Finding`]s; [`filter`]s drop accepted ones;
//! [`report`]ers print.
//!
//! # Module map
//!
//! The modules are a house of layers, values at the bottom and commands on top. **A module imports only modules
//! of its own layer or below**, and two modules of one layer never import each other (nor run in a longer
//! circle). Where a lower module needs something only a higher one has, the higher one hands it down as a value
//! or a closure: the run's rules reach [`text`] as a [`text::KeyFinder`] the commands install, and the walk of
//! unreachable git objects reaches the history walk as a closure. `tests/layers.rs` checks the rule (outside
//! `#[cfg(test)]` code) against its own copy of this table, which must stay the same.
//!
//! | Module | What it holds | Layer |
//! |---|---|---|
//! | `severity` | how bad and how sure a finding is (`Severity`, `Confidence`) | 0 values |
//! | `finding` | findings: location, fingerprint, redacted secret, provenance | 0 values |
//! | `inspection` | what inspecting content yields, the binary policy, the UTF-16 encodings | 0 values |
//! | `decoder` | the encodings keys hide in (base64, percent, escapes) and their decoding | 0 values |
//! | `format` | the output formats | 0 values |
//! | `paths` | how paths are shown | 0 values |
//! | `invisible` | invisible characters that break a key's match | 0 values |
//! | `exit` | exit codes | 0 values |
//! | `progress` | progress bars on stderr | 0 values |
//! | `text` | untrusted text: redaction and escaping, the one way from outside strings to output | 1 untrusted text |
//! | `input` | reading the small files keyhound is told to read | 2 input and messages |
//! | `output_file` | writing the files keyhound is told to write | 2 input and messages |
//! | `diag` | warnings and notes on stderr, error chains | 2 input and messages |
//! | `counts` | what a scan looked at, and scan errors | 2 input and messages |
//! | `http` | the HTTP client for outside APIs: timeouts, no redirects, bounded retries and answers | 2 input and messages |
//! | `rules` | rules as data: schema, loading, validation, selection | 3 rules |
//! | `scan` | the matcher (`Scanner`), and the rules' examples checked with it | 4 matcher |
//! | `content` | the content stage: inspection of one buffer, decoding, archives, recursively | 5 content stage |
//! | `config` | `keyhound.toml` | 6 configuration |
//! | `source` | where content comes from: working tree, stdin, git history, mirrors of remote repositories | 7 sources |
//! | `remote` | listing an organisation's repositories (GitHub, GitLab), and dealing them into shards | 7 sources |
//! | `report` | reporters: human, JSON, JSON Lines, SARIF; reading reports back | 8 reports and filters |
//! | `filter` | baseline and de-duplication of findings | 8 reports and filters |
//! | `cli` | command-line arguments | 9 arguments |
//! | `revoke` | verifying and revoking leaked keys | 10 revocation |
//! | `command` | the commands: arguments to a run and an exit status | 11 commands |

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
pub mod http;
pub mod input;
pub mod inspection;
pub mod invisible;
pub mod output_file;
pub mod paths;
pub mod progress;
pub mod remote;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod severity;
pub mod source;
pub mod text;
