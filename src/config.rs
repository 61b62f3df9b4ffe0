//! `keyhound.toml`: per-project settings, read from the scanned root, from a git revision, or from `--config FILE`.
//!
//! A config found in the scanned tree is outside input: a pull request may have written it. So the rule files it
//! names are read from the same place (the tree, or the same git revision), only by relative paths that stay
//! inside it, only as regular files, and parse errors quote at most a short, redacted excerpt.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;
use serde::Deserialize;

use crate::format::Format;
use crate::input::{MAX_CONFIG_FILE, read_regular, toml_error};
use crate::rules::{Rule, RuleBudget, RuleError, RuleOrigin, parse_rule_file};

/// The file name looked for at the scanned root.
pub const CONFIG_FILE_NAME: &str = "keyhound.toml";

/// The settings a config file may hold. Unknown keys are an error, so a typo is never silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Globs (relative to the scanned root) of paths not to scan, e.g. `"vendor/**"`, `"**/*.min.js"`.
    #[serde(default)]
    pub exclude_paths: Vec<String>,
    /// Regexes: a match whose secret matches one is a placeholder, not a finding.
    #[serde(default)]
    pub placeholder_patterns: Vec<String>,
    /// Words: a match whose secret contains one (case-insensitively) is a placeholder.
    #[serde(default)]
    pub placeholder_words: Vec<String>,
    /// Rule ids not to use.
    #[serde(default)]
    pub disable_rules: Vec<String>,
    /// Extra rule files or directories, relative to the config file, inside its directory.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Default `--format`.
    pub format: Option<Format>,
    /// Default `--max-file-size`, e.g. `"10MiB"`.
    pub max_file_size: Option<String>,
    /// Exit with code 2 when anything could not be read (as `--fail-on-scan-errors`).
    pub fail_on_scan_errors: Option<bool>,
    /// Default `--decode-depth`.
    pub decode_depth: Option<u32>,
    /// Default `--archive-depth`.
    pub archive_depth: Option<u32>,
    /// Default `--max-archive-size`, e.g. `"1GiB"`.
    pub max_archive_size: Option<String>,
    /// `git --all-objects` by default, for full-history scans.
    pub all_objects: Option<bool>,
}

/// A config file that could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}")]
    Read(String),
    #[error("invalid config file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// Where a config and the rule files it names are read from: a directory, or the tree of a git revision.
/// Paths given to it are relative and have no `..` (see [`relative_inside`]).
pub trait ConfigFiles {
    /// How `rel` is named in messages: `fixtures/demo/keyhound.toml`, `origin/main:keyhound.toml`.
    fn name(&self, rel: &Path) -> String;
    /// The bytes of the regular file at `rel`, `Ok(None)` when there is nothing there.
    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, String>;
    /// The `*.toml` files directly in the directory at `rel`, sorted; `Ok(None)` when `rel` is not a directory.
    fn toml_files_in(&self, rel: &Path) -> Result<Option<Vec<PathBuf>>, String>;
}

/// A directory on disk. Everything read must resolve (symbolic links included) inside it.
#[derive(Debug)]
pub struct DirFiles {
    root: PathBuf,
    canonical: Option<PathBuf>,
}

impl DirFiles {
    pub fn new(root: &Path) -> DirFiles {
        DirFiles {
            root: root.to_path_buf(),
            canonical: std::fs::canonicalize(root).ok(),
        }
    }

    /// `rel` under the root, resolved; an error if it leaves the root.
    fn resolve(&self, rel: &Path) -> Result<Option<PathBuf>, String> {
        let path = self.root.join(rel);
        let resolved = match std::fs::canonicalize(&path) {
            Ok(resolved) => resolved,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("{}: {}", self.name(rel), crate::input::describe_io(&err))),
        };
        match &self.canonical {
            Some(root) if resolved.starts_with(root) => Ok(Some(resolved)),
            _ => {
                let root = crate::paths::display_path(&self.root);
                Err(format!(
                    "{}: resolves outside {} (a symbolic link?), not read",
                    self.name(rel),
                    if root == "." {
                        "the scanned directory".to_string()
                    } else {
                        root
                    }
                ))
            }
        }
    }
}

impl ConfigFiles for DirFiles {
    fn name(&self, rel: &Path) -> String {
        crate::paths::display_path(&self.root.join(rel))
    }

    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, String> {
        let Some(path) = self.resolve(rel)? else {
            return Ok(None);
        };
        read_regular(&path, MAX_CONFIG_FILE)
            .map(Some)
            .map_err(|e| format!("{}: {}", self.name(rel), inner_message(&e)))
    }

    fn toml_files_in(&self, rel: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        let Some(path) = self.resolve(rel)? else {
            return Ok(None);
        };
        if !path.is_dir() {
            return Ok(None);
        }
        let entries =
            std::fs::read_dir(&path).map_err(|e| format!("{}: {}", self.name(rel), crate::input::describe_io(&e)))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name())
            .filter(|name| Path::new(name).extension().is_some_and(|ext| ext == "toml"))
            .map(|name| rel.join(name))
            .collect();
        files.sort();
        Ok(Some(files))
    }
}

/// The message of an input error without its leading path (the caller names the file its own way).
fn inner_message(error: &crate::input::InputError) -> String {
    let text = error.to_string();
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => text,
    }
}

/// Checks that a path named in a config is relative and stays inside the config's directory: no root, no drive,
/// no `..`.
pub fn relative_inside(path: &Path) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` is not allowed: paths must stay inside the tree".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed: paths are relative to the config file".into());
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err("the path is empty".into());
    }
    Ok(clean)
}

/// A loaded config, where it came from, and the rules of the rule files it names.
#[derive(Debug, Default)]
pub struct LoadedConfig {
    pub config: Config,
    /// The config file as named in messages, when there is one.
    pub path: Option<String>,
    /// The rules of the files listed under `rules`, read from where the config was.
    pub rules: Vec<Rule>,
}

impl LoadedConfig {
    /// Reads `explicit` if given (it must exist), else `keyhound.toml` in `root` if there is one.
    pub fn load(explicit: Option<&Path>, root: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        match (explicit, root) {
            (Some(path), _) => {
                let name = crate::paths::display_path(path);
                let bytes = read_regular(path, MAX_CONFIG_FILE).map_err(|e| ConfigError::Read(e.to_string()))?;
                let base = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                LoadedConfig::parse(&bytes, name, &DirFiles::new(base))
            }
            (None, Some(root)) => LoadedConfig::load_from(&DirFiles::new(root)),
            (None, None) => Ok(LoadedConfig::default()),
        }
    }

    /// Reads `keyhound.toml` at the top of `files`, when there is one.
    pub fn load_from(files: &dyn ConfigFiles) -> Result<LoadedConfig, ConfigError> {
        let rel = Path::new(CONFIG_FILE_NAME);
        match files.read(rel).map_err(ConfigError::Read)? {
            Some(bytes) => LoadedConfig::parse(&bytes, files.name(rel), files),
            None => Ok(LoadedConfig::default()),
        }
    }

    /// Parses config text named `name`; its rule files are read from `files`.
    fn parse(bytes: &[u8], name: String, files: &dyn ConfigFiles) -> Result<LoadedConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: name.clone(),
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8 text ({e})")))?;
        let config: Config = toml::from_str(text).map_err(|e| invalid(toml_error(text, &e)))?;
        let mut loaded = LoadedConfig {
            config,
            path: Some(name.clone()),
            rules: Vec::new(),
        };
        // Validate everything up front so a bad value is reported before any scanning.
        loaded.exclude_set()?;
        loaded.placeholder_regexes()?;
        loaded.max_file_size()?;
        loaded.max_archive_size()?;
        // The rules named here share one budget with the built-in ones (see `rules::budget`): a config in a
        // pull request cannot make keyhound compile gigabytes of automata.
        // Measuring what the built-in rules leave costs a compile of each: only when there are rules to charge.
        let mut budget = if loaded.config.rules.is_empty() {
            RuleBudget::EMPTY
        } else {
            RuleBudget::after_builtin()
        };
        for listed in &loaded.config.rules {
            let rel = relative_inside(listed).map_err(|message| {
                invalid(format!(
                    "rules: `{}`: {message}",
                    crate::text::excerpt(&listed.to_string_lossy())
                ))
            })?;
            let rules = load_rule_files(files, &rel, &mut budget).map_err(|e| match e {
                ConfigError::Read(message) => invalid(format!("rules: {message}")),
                ConfigError::Rule(over @ RuleError::OverBudget { .. }) => invalid(format!("rules: {over}")),
                other => other,
            })?;
            loaded.rules.extend(rules);
        }
        Ok(loaded)
    }

    fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone().unwrap_or_default(),
            message,
        }
    }

    pub fn exclude_set(&self) -> Result<Option<GlobSet>, ConfigError> {
        if self.config.exclude_paths.is_empty() {
            return Ok(None);
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.config.exclude_paths {
            let glob = Glob::new(pattern).map_err(|e| {
                self.invalid(format!(
                    "exclude_paths: `{}`: {}",
                    crate::text::excerpt(pattern),
                    e.kind()
                ))
            })?;
            builder.add(glob);
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| self.invalid(format!("exclude_paths: {}", e.kind())))
    }

    pub fn placeholder_regexes(&self) -> Result<Vec<Regex>, ConfigError> {
        self.config
            .placeholder_patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    self.invalid(format!(
                        "placeholder_patterns: `{}`: {}",
                        crate::text::excerpt(p),
                        crate::rules::regex_error(&e)
                    ))
                })
            })
            .collect()
    }

    pub fn max_file_size(&self) -> Result<Option<u64>, ConfigError> {
        self.config
            .max_file_size
            .as_deref()
            .map(|text| parse_size(text).map_err(|e| self.invalid(format!("max_file_size: {e}"))))
            .transpose()
    }

    pub fn max_archive_size(&self) -> Result<Option<u64>, ConfigError> {
        self.config
            .max_archive_size
            .as_deref()
            .map(|text| parse_size(text).map_err(|e| self.invalid(format!("max_archive_size: {e}"))))
            .transpose()
    }

    /// Does this config change what is scanned or reported (so that a summary should say it did)?
    pub fn narrows_the_scan(&self) -> bool {
        let c = &self.config;
        !(c.exclude_paths.is_empty()
            && c.placeholder_patterns.is_empty()
            && c.placeholder_words.is_empty()
            && c.disable_rules.is_empty())
    }
}

/// The rules of the file at `rel` in `files`, or of every `*.toml` file in the directory there.
fn load_rule_files(files: &dyn ConfigFiles, rel: &Path, budget: &mut RuleBudget) -> Result<Vec<Rule>, ConfigError> {
    let mut read = |rel: &Path| -> Result<Vec<Rule>, ConfigError> {
        let name = files.name(rel);
        let bytes = files
            .read(rel)
            .map_err(ConfigError::Read)?
            .ok_or_else(|| ConfigError::Read(format!("{name}: no such file or directory (named under `rules`)")))?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Invalid {
            path: name.clone(),
            message: format!("not UTF-8 text ({})", e.utf8_error()),
        })?;
        Ok(parse_rule_file(&text, RuleOrigin::File(PathBuf::from(name)), budget)?)
    };
    match files.toml_files_in(rel).map_err(ConfigError::Read)? {
        Some(list) if list.is_empty() => Err(ConfigError::Rule(RuleError::EmptyDir {
            path: PathBuf::from(files.name(rel)),
        })),
        Some(list) => {
            let mut rules = Vec::new();
            for file in list {
                rules.extend(read(&file)?);
            }
            Ok(rules)
        }
        None => read(rel),
    }
}

/// Parses a size such as `100MiB`, `10MB`, `512k` or `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{}` is not a size such as 100MiB ({e})", crate::text::excerpt(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("100MiB"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn config_paths_stay_inside() {
        assert_eq!(
            relative_inside(Path::new("./rules/x.toml")),
            Ok(PathBuf::from("rules/x.toml"))
        );
        assert!(relative_inside(Path::new("/proc/self/environ")).is_err());
        assert!(relative_inside(Path::new("rules/../../etc/passwd")).is_err());
        assert!(relative_inside(Path::new(".")).is_err());
    }
}
