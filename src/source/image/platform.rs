//! Which platforms of a multi-platform image to scan: `--platform OS/ARCH[/VARIANT]`, `--all-platforms`, or the
//! platform of this machine.

use std::fmt;
use std::str::FromStr;

/// A platform as an image index names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform keyhound runs on, in the names images use (`linux/amd64`, `linux/arm64`).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        // Images for macOS and Windows hosts are overwhelmingly Linux images run in a VM.
        let os = match std::env::consts::OS {
            "windows" => "windows",
            _ => "linux",
        };
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
    }

    /// Whether an image of platform `image` is one the user asked for with `self`: a choice without a variant
    /// takes every variant (`linux/arm64` takes `linux/arm64/v8`).
    pub fn takes(&self, image: &Platform) -> bool {
        self.os == image.os
            && self.architecture == image.architecture
            && self.variant.as_ref().is_none_or(|v| Some(v) == image.variant.as_ref())
    }

    /// `unknown/unknown`: what BuildKit calls its attestation manifests, which are not images.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let good = |part: &&str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if parts.iter().all(good) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "`{text}` is not a platform: write OS/ARCH or OS/ARCH/VARIANT, such as linux/amd64 or linux/arm64/v8"
            )),
        }
    }
}

/// Which images of a multi-platform index are scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformChoice {
    /// This machine's platform (the default, as `docker pull` does).
    Host,
    /// The platform named with `--platform`.
    One(Platform),
    /// Every platform (`--all-platforms`).
    All,
}

impl PlatformChoice {
    /// Whether an index entry of `platform` is scanned.
    pub fn takes(&self, platform: &Platform) -> bool {
        match self {
            PlatformChoice::All => !platform.is_unknown(),
            PlatformChoice::One(wanted) => wanted.takes(platform),
            PlatformChoice::Host => Platform::host().takes(platform),
        }
    }

    /// The platform asked for, for messages.
    pub fn describe(&self) -> String {
        match self {
            PlatformChoice::All => "any platform".to_string(),
            PlatformChoice::One(platform) => platform.to_string(),
            PlatformChoice::Host => format!("{} (this machine's; choose with --platform)", Platform::host()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_match_variants() {
        let arm: Platform = "linux/arm64".parse().unwrap();
        let arm_v8: Platform = "linux/arm64/v8".parse().unwrap();
        assert!(arm.takes(&arm_v8));
        assert!(!arm_v8.takes(&"linux/arm64/v9".parse().unwrap()));
        assert!(!arm.takes(&"linux/amd64".parse().unwrap()));
        assert_eq!(arm_v8.to_string(), "linux/arm64/v8");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/amd64/v1/x".parse::<Platform>().is_err());
        assert!("linux/am d64".parse::<Platform>().is_err());
        assert!(!PlatformChoice::All.takes(&"unknown/unknown".parse().unwrap()));
    }
}
