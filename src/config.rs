//! `keyhound.toml`: per-project settings, read from the scanned root or from `--config FILE`.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;
use serde::Deserialize;

use crate::report::Format;

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
    /// Extra rule files or directories, relative to the config file.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Default `--format`.
    pub format: Option<Format>,
    /// Default `--max-file-size`, e.g. `"10MiB"`.
    pub max_file_size: Option<String>,
}

/// A config file that could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A loaded config and where it came from (rule paths are relative to it).
#[derive(Debug, Default)]
pub struct LoadedConfig {
    pub config: Config,
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// Reads `explicit` if given (it must exist), else `keyhound.toml` in `root` if there is one.
    pub fn load(explicit: Option<&Path>, root: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match root.map(|r| r.join(CONFIG_FILE_NAME)) {
                Some(candidate) if candidate.is_file() => candidate,
                _ => return Ok(LoadedConfig::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let loaded = LoadedConfig {
            config,
            path: Some(path),
        };
        // Validate everything up front so a bad value is reported before any scanning.
        loaded.exclude_set()?;
        loaded.placeholder_regexes()?;
        loaded.max_file_size()?;
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
            let glob = Glob::new(pattern).map_err(|e| self.invalid(format!("exclude_paths: `{pattern}`: {e}")))?;
            builder.add(glob);
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| self.invalid(format!("exclude_paths: {e}")))
    }

    pub fn placeholder_regexes(&self) -> Result<Vec<Regex>, ConfigError> {
        self.config
            .placeholder_patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| self.invalid(format!("placeholder_patterns: `{p}`: {e}"))))
            .collect()
    }

    pub fn max_file_size(&self) -> Result<Option<u64>, ConfigError> {
        self.config
            .max_file_size
            .as_deref()
            .map(|text| parse_size(text).map_err(|e| self.invalid(format!("max_file_size: {e}"))))
            .transpose()
    }

    /// Rule paths resolved against the config file's directory.
    pub fn rule_paths(&self) -> Vec<PathBuf> {
        let base = self
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.config.rules.iter().map(|p| base.join(p)).collect()
    }
}

/// Parses a size such as `100MiB`, `10MB`, `512k` or `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{text}` is not a size such as 100MiB ({e})"))
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
}
