//! Command-line arguments (clap) and the top-level dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::inspection::BinaryPolicy;
use crate::report::Format;

const SCAN_EXAMPLES: &str = "\
Examples:
  keyhound scan                              scan the current directory
  keyhound scan src config/.env              scan some paths
  keyhound scan . --format json -o findings.json
  keyhound scan --no-ignore --show-secrets ~/projects
  cat dump.txt | keyhound scan -             scan standard input
  keyhound scan . --baseline .keyhound-baseline.json   report only new findings";

const GIT_EXAMPLES: &str = "\
Examples:
  keyhound git                          the repository around the current directory, whole history
  keyhound git path/to/repo.git         a bare repository
  keyhound git repo-a repo-b -f json    several repositories, each finding labelled with its repository
  keyhound git --since origin/main      CI on a pull request: only what the new commits introduce
  keyhound git --range v1.2..HEAD
  keyhound git --staged                 pre-commit: keys on lines the next commit would add
  keyhound git --branch main            only what one ref reaches
  keyhound git https://github.com/org/repo.git   a remote repository, mirrored under --cache-dir
  keyhound git git@gitlab.com:group/repo.git --cache-dir /var/cache/keyhound
  keyhound org github my-org | keyhound git --repos-from - -f json -o org.json

Remote repositories: credentials come from git (credential helpers, the ssh agent) or from GITHUB_TOKEN
(github.com) and GITLAB_TOKEN (gitlab.com), never from the command line; URLs are shown without userinfo.";

const IMAGE_EXAMPLES: &str = "\
Examples:
  keyhound image app.tar                         a `docker save` (or `podman save`) archive
  keyhound image ./oci-layout                    an OCI image layout directory (or its tar)
  keyhound image ghcr.io/org/app:1.4 -f sarif -o image.sarif
  keyhound image registry:5000/app@sha256:... --all-platforms
  docker save app:latest -o app.tar && keyhound image app.tar --verify

Registry credentials come from KEYHOUND_REGISTRY_USERNAME and KEYHOUND_REGISTRY_PASSWORD, else from the docker
config ($DOCKER_CONFIG/config.json or ~/.docker/config.json); never from the command line.";

const MERGE_EXAMPLES: &str = "\
Examples:
  keyhound merge reports/*.json -f sarif -o all.sarif
  keyhound merge a.jsonl b.json --baseline .keyhound-baseline.json";

const RULES_EXAMPLES: &str = "\
Examples:
  keyhound rules list
  keyhound rules list --rules my-rules/
  keyhound rules test rules/openai.toml";

#[derive(Debug, Parser)]
#[command(
    name = "keyhound",
    version,
    about = "Find leaked OpenAI and other AI-provider API keys in files and git history, and revoke them.",
    long_about = None,
    after_help = "Exit codes: 0 no findings, 1 findings (see --exit-code), 2 error.\n\
                  Run `keyhound <command> --help` for each command's options and examples."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files and directories (the working tree), or standard input with `-`.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Scan git history: every blob reachable from every ref, a commit range, or the staged changes.
    #[command(after_help = GIT_EXAMPLES)]
    Git(GitArgs),
    /// Scan container images: every layer (files later layers deleted included), the config and the build history.
    #[command(after_help = IMAGE_EXAMPLES)]
    Image(ImageArgs),
    /// Merge JSON or JSON Lines reports (one per CI job, say) into one report in any format.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// List the rules in force, or run rule files' own examples.
    #[command(subcommand, after_help = RULES_EXAMPLES)]
    Rules(RulesCommand),
    /// Check leaked keys at their providers and revoke them through the providers' admin APIs (a dry run unless
    /// --yes).
    #[command(after_help = REVOKE_EXAMPLES)]
    Revoke(RevokeArgs),
    /// List the repositories of a GitHub organisation (or user) or a GitLab group, as JSON lines or as shards for
    /// a CI matrix.
    #[command(after_help = ORG_EXAMPLES)]
    Org(OrgArgs),
    /// Install a git pre-commit hook that blocks commits adding keys (`keyhound git --staged`).
    #[command(after_help = HOOK_EXAMPLES)]
    InstallHook(InstallHookArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const ORG_EXAMPLES: &str = "\
Examples:
  keyhound org github my-org                         one JSON line per repository
  keyhound org gitlab my-group/sub --exclude-forks
  keyhound org github my-org | keyhound git --repos-from - -f json -o org.json
  keyhound org github my-org --matrix 8              {\"include\":[{\"shard\":0,...,\"repos\":\"URL\\nURL\"}...]}
  keyhound org github my-org --shard-index 2 --shard-count 8   the repositories of one shard
  keyhound org github my-org --api-base https://ghe.example.com/api/v3

The token is read from GITHUB_TOKEN or GITLAB_TOKEN only (a public organisation needs none). The API base is
--api-base, else KEYHOUND_GITHUB_API_BASE / KEYHOUND_GITLAB_API_BASE. Without --shard-index, the shard comes from
JOB_COMPLETION_INDEX (with --shard-count) or GitLab's CI_NODE_INDEX / CI_NODE_TOTAL when they are set.";

const REVOKE_EXAMPLES: &str = "\
Examples:
  keyhound revoke --from findings.json                   dry run: what would be revoked
  OPENAI_ADMIN_KEY=... keyhound revoke --from findings.json --yes --audit-log revocations.jsonl
  keyhound scan . --verify                               add a live/dead status to every finding
  keyhound git --revoke                                  scan history, then the same dry run

Admin credentials are read from the environment only, never from the command line: OPENAI_ADMIN_KEY,
ANTHROPIC_ADMIN_KEY, XAI_MANAGEMENT_KEY, OPENROUTER_PROVISIONING_KEY (each optional). Each provider's API base is
KEYHOUND_<PROVIDER>_API_BASE (KEYHOUND_XAI_MANAGEMENT_API_BASE for xAI's Management API).";

const HOOK_EXAMPLES: &str = "\
Examples:
  keyhound install-hook                  in the repository around the current directory
  keyhound install-hook --force          replace an existing pre-commit hook
  keyhound install-hook --outside-repo   write it where core.hooksPath points outside the repository";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  keyhound completions bash > ~/.local/share/bash-completion/completions/keyhound
  keyhound completions zsh > \"${fpath[1]}/_keyhound\"
  keyhound completions fish > ~/.config/fish/completions/keyhound.fish";

/// Liveness checks and revocation after a scan (`scan` and `git`).
#[derive(Debug, Clone, Args, Default)]
pub struct VerifyArgs {
    /// Check whether each key found is live, at its own provider (one read-only request per unique key; keys of
    /// kinds their provider documents no read-only check for are `unknown`, and nothing is sent).
    #[arg(long)]
    pub verify: bool,
    /// After the scan, plan the revocation of the keys found, printed on stderr (a dry run unless --yes; needs the
    /// providers' admin credentials in the environment). The report shows each key's status as with --verify.
    #[arg(long)]
    pub revoke: bool,
    #[command(flatten)]
    pub revoke_options: RevokeOptions,
}

/// The default time budget for probing all the keys of a run, in seconds (`--verify-timeout`; the revocation
/// layer's `DEFAULT_BUDGET`).
pub const DEFAULT_VERIFY_TIMEOUT_SECS: u64 = 60;

/// How revocation runs; shared by `revoke` and `scan/git --revoke`.
#[derive(Debug, Clone, Args, Default)]
pub struct RevokeOptions {
    /// Really revoke (disable or delete) the matched keys (without it, nothing is revoked).
    #[arg(long)]
    pub yes: bool,
    /// When a key belongs to a service account whose key cannot be deleted alone, delete the whole service
    /// account (and all its keys).
    #[arg(long)]
    pub delete_service_accounts: bool,
    /// Append one JSON line per action (probe, match, delete, confirm) to this file.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Where OpenAI API requests go [default: $KEYHOUND_OPENAI_API_BASE, else https://api.openai.com]; other
    /// providers: KEYHOUND_<PROVIDER>_API_BASE.
    /// OPENAI_BASE_URL is ignored: it often names a proxy that must not see leaked keys.
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// How long to keep probing a revoked key until it is rejected, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    pub confirm_timeout: u64,
    /// Timeout of each HTTP request (to providers, and to registries for `image`), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub request_timeout: u64,
    /// Time for the liveness probes of all keys together, in seconds; keys not probed in time are `unknown`.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_VERIFY_TIMEOUT_SECS)]
    pub verify_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// A report written with `--format json` or `jsonl` (redacted reports are fine: keys are re-read from the
    /// files or blobs they were found in).
    #[arg(long, value_name = "REPORT")]
    pub from: PathBuf,
    #[command(flatten)]
    pub options: RevokeOptions,
    /// No progress or summary lines.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InstallHookArgs {
    /// The repository [default: the one around the current directory].
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Replace a pre-commit hook that keyhound did not write.
    #[arg(long)]
    pub force: bool,
    /// Write the hook even when `core.hooksPath` points outside the repository (by default that is refused:
    /// a hooks directory shared with other repositories, or one a repository's config points elsewhere).
    #[arg(long)]
    pub outside_repo: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules in force with their ids, kinds and descriptions.
    List {
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Check rule files against their own examples (default: the built-in rules).
    Test {
        /// Rule files or directories to test.
        paths: Vec<PathBuf>,
    },
}

/// Which rules are in force.
#[derive(Debug, Clone, Args, Default)]
pub struct RuleArgs {
    /// Add rules from a TOML file or a directory of them (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rule_paths: Vec<PathBuf>,
    /// Use only these rule ids (comma-separated).
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub only_rules: Vec<String>,
    /// Do not use these rule ids (comma-separated).
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub disable_rules: Vec<String>,
    /// Read settings from this file instead of `keyhound.toml` at the scanned root.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where a range scan reads its settings from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConfigFrom {
    /// The base revision of the range (`--since REV`, the A of `--range A..B`).
    #[default]
    Base,
    /// The working tree, as for other scans.
    Worktree,
}

/// When to colour the human report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// How and where findings are reported.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Report format [default: human, or `format` from keyhound.toml].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print secrets in full instead of redacted (`sk-proj-AbCd…wXyZ`).
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Exit code when findings are reported.
    #[arg(long, value_name = "N", default_value_t = crate::exit::FINDINGS_EXIT_CODE)]
    pub exit_code: u8,
    /// Report only findings whose fingerprint is not in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the fingerprints of the findings to this baseline file.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// No summary, notes or progress bar on stderr (warnings still appear).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Exit with code 2 when anything could not be read (a file, a blob, a tree, a commit), even with no findings:
    /// an incomplete scan never passes [default: off, or `fail_on_scan_errors` in keyhound.toml].
    #[arg(long)]
    pub fail_on_scan_errors: bool,
}

/// What to read and how, shared by `scan` and `git`.
#[derive(Debug, Clone, Args)]
pub struct ContentArgs {
    /// What to do with binary files (a NUL byte in the first 8 KiB).
    #[arg(long, value_enum, default_value_t = BinaryPolicy::Scan)]
    pub binary: BinaryPolicy,
    /// Skip files larger than this (e.g. 10MiB) [default: 100MiB].
    #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_size)]
    pub max_file_size: Option<u64>,
    /// Worker threads, 1 to 512 [default: one per core; for a working tree at most 12, as ripgrep].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// How many encodings deep to decode base64, percent-encoded and escaped text (0: none)
    /// [default: 3, or `decode_depth` in keyhound.toml].
    #[arg(long, value_name = "N")]
    pub decode_depth: Option<u32>,
    /// How many archives deep to open zip (jar, whl, apk, nupkg), gzip, bzip2, xz and tar files (0: none)
    /// [default: 3, or `archive_depth` in keyhound.toml].
    #[arg(long, value_name = "N")]
    pub archive_depth: Option<u32>,
    /// How much one file's archives may inflate to in all (e.g. 1GiB) [default: 256MiB, or `max_archive_size`].
    #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_size)]
    pub max_archive_size: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GitArgs {
    /// Repositories (working trees, worktrees or bare); a path inside a repository finds it [default: the one
    /// around the current directory; with --staged, the one git names in GIT_DIR, GIT_WORK_TREE and
    /// GIT_INDEX_FILE when it runs a hook]. A URL (https://, http://, ssh://, git@host:path, file://) is fetched
    /// into a bare mirror under --cache-dir, then scanned.
    pub repos: Vec<PathBuf>,
    /// Also scan the repositories listed in FILE (`-`: standard input), one per line: a path, a URL, or a JSON
    /// line of `keyhound org` (its `clone_url`). Blank lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "staged")]
    pub repos_from: Option<PathBuf>,
    /// Where the mirrors of remote repositories are kept and reused [default: $XDG_CACHE_HOME/keyhound/repos,
    /// else ~/.cache/keyhound/repos].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How long one git fetch of a remote repository may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub fetch_timeout: u64,
    /// How many remote repositories are fetched at once, ahead of the scan (which takes them one at a time, in
    /// order).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub fetch_jobs: u16,
    /// Scan every blob reachable from every ref: branches, tags, remotes, stash (the default).
    #[arg(long, conflicts_with_all = ["branch", "since", "range", "staged"])]
    pub all: bool,
    /// Scan only what this revision reaches (repeatable).
    #[arg(long, value_name = "REF", conflicts_with_all = ["since", "range", "staged"])]
    pub branch: Vec<String>,
    /// Scan only blobs introduced by commits reachable from HEAD but not from REV.
    #[arg(long, value_name = "REV", conflicts_with_all = ["range", "staged"])]
    pub since: Option<String>,
    /// Scan only blobs introduced by the commits in A..B.
    #[arg(long, value_name = "A..B", conflicts_with = "staged")]
    pub range: Option<String>,
    /// Scan what the next commit would add (the index against HEAD): for pre-commit hooks.
    #[arg(long)]
    pub staged: bool,
    /// With --since/--range: let inline allow markers (`keyhound:allow`, ...) that the scanned commits add
    /// allow their keys. Without it only markers the base revision already had are honoured, and a key next to
    /// a new marker is reported, so a pull request cannot allow its own key.
    #[arg(long)]
    pub trust_added_allow_markers: bool,
    /// List every commit and path where a flagged blob appears, not only where it was introduced.
    #[arg(long)]
    pub all_commits: bool,
    /// Also scan what no ref reaches: commits only reflogs reach (old branch tips, dropped stashes), then every
    /// other object in the object database (what a rebase or force-push left behind), reported as unreachable
    /// [default: off, or `all_objects` in keyhound.toml].
    #[arg(long, conflicts_with_all = ["branch", "since", "range", "staged"])]
    pub all_objects: bool,
    /// Incremental runs: read from FILE the ref tips already scanned and the findings already reported, per
    /// repository; scan only the commits new since, report only findings not reported before, and write FILE
    /// again after each repository (created when missing). `keyhound merge` unites state files.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["branch", "since", "range", "staged", "all_objects"])]
    pub state: Option<PathBuf>,
    /// Where a --since/--range scan reads keyhound.toml (and the rule files it names) and a --baseline inside the
    /// repository from: the base revision (the default: the commits under review cannot change them) or the
    /// working tree.
    #[arg(long, value_enum, value_name = "WHERE", default_value_t = ConfigFrom::Base)]
    pub config_from: ConfigFrom,
    /// For the benchmark script: read every blob as a scan would, match nothing (the floor of a history scan).
    #[arg(long, hide = true)]
    pub bench_read_only: bool,
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Images: `docker save` / `podman save` archives, OCI image layouts (a directory or a tar), or references
    /// of images in a registry (`ghcr.io/org/app:tag`, `localhost:5000/app@sha256:...`).
    #[arg(required = true, value_name = "IMAGE")]
    pub targets: Vec<String>,
    /// Which image of a multi-platform index to scan [default: this machine's platform].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", conflicts_with = "all_platforms")]
    pub platform: Option<crate::source::image::Platform>,
    /// Scan the image of every platform a multi-platform index holds.
    #[arg(long)]
    pub all_platforms: bool,
    /// Speak plain HTTP to this registry (`HOST[:PORT]`, repeatable), as Docker's `insecure-registries` does;
    /// registries on this machine (localhost, 127.0.0.1, [::1]) always are.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Give up a layer that decompresses to more than this (a decompression bomb) [default: 16GiB].
    #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_size)]
    pub max_layer_size: Option<u64>,
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The forges `keyhound org` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Forge {
    /// GitHub or GitHub Enterprise Server: an organisation, or a user.
    Github,
    /// GitLab.com or a self-hosted GitLab: a group and its subgroups.
    Gitlab,
}

#[derive(Debug, Args)]
pub struct OrgArgs {
    #[arg(value_enum)]
    pub forge: Forge,
    /// The organisation or user (GitHub), or the group's full path or numeric id (GitLab).
    pub owner: String,
    /// Leave out archived repositories (listed by default: a key leaked there works just as well).
    #[arg(long)]
    pub exclude_archived: bool,
    /// Leave out forks (listed by default).
    #[arg(long)]
    pub exclude_forks: bool,
    /// The API base [default: $KEYHOUND_GITHUB_API_BASE or https://api.github.com; $KEYHOUND_GITLAB_API_BASE or
    /// https://gitlab.com/api/v4]. Plain http only to localhost.
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// Print one JSON document for a GitHub Actions matrix instead of JSON lines: the repositories dealt into N
    /// shards balanced by size, `{"include":[{"shard":0,"count":..,"size":..,"repos":"URL\nURL"}]}`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), conflicts_with_all = ["shard_index", "shard_count"])]
    pub matrix: Option<u16>,
    /// Print only the repositories of this shard (0-based) [default: $JOB_COMPLETION_INDEX, or
    /// $CI_NODE_INDEX - 1].
    #[arg(long, value_name = "I", requires = "shard_count")]
    pub shard_index: Option<usize>,
    /// How many shards [default: $CI_NODE_TOTAL].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shard_count: Option<u32>,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// The longest rate-limit wait keyhound accepts, in seconds; a longer one is an error.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub max_wait: u64,
    /// No notes on stderr (rate-limit waits are still announced).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports written with `--format json` or `--format jsonl`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Also scan files hidden by .gitignore, .ignore and git's excludes.
    #[arg(long)]
    pub no_ignore: bool,
    /// Follow symbolic links.
    #[arg(long, short = 'L')]
    pub follow: bool,
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}
