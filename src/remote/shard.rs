//! Dealing repositories into shards, deterministically, so that any CI engine can fan out without a scheduler.
//!
//! Two ways, for two shapes of fan-out:
//! - [`matrix`]: the listing is made once (a job that enumerates), and its shards are handed to the scan jobs
//!   (a GitHub Actions matrix through `fromJSON`): balanced by size, greedy, largest repository first onto the
//!   lightest shard, ties broken by clone URL and then by shard number.
//! - [`select`]: every job lists on its own and keeps its shard (`--shard-index I --shard-count N`, a Kubernetes
//!   Indexed Job, GitLab's `parallel: N`): a repository's shard is a hash of its clone URL, so it stays in the same
//!   shard whatever else the organisation gains, loses or grows, and two jobs that list a moment apart never
//!   both skip it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::RepoEntry;

/// One shard of a [`Matrix`]: `include` entries of a GitHub Actions matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardEntry {
    /// 0-based.
    pub shard: usize,
    /// How many repositories.
    pub count: usize,
    /// Their total size, in kilobytes as the forge reports it.
    pub size: u64,
    /// The clone URLs, one a line: `printf '%s\n' "$REPOS" | keyhound git --repos-from -` reads them without
    /// the shell ever splitting or expanding them.
    pub repos: String,
}

/// `{"include": [...]}`: what `strategy.matrix: ${{ fromJSON(needs.list.outputs.matrix) }}` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub include: Vec<ShardEntry>,
}

/// Deals `repos` into at most `count` shards balanced by size. Empty shards are left out (a matrix entry with no
/// repository would scan nothing, or worse, the job's own checkout).
pub fn matrix(repos: &[RepoEntry], count: usize) -> Matrix {
    let count = count.max(1);
    let mut order: Vec<&RepoEntry> = repos.iter().collect();
    order.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.clone_url.cmp(&b.clone_url)));
    let mut shards: Vec<(u64, Vec<&RepoEntry>)> = vec![(0, Vec::new()); count];
    for repo in order {
        // The lightest shard; among equals, the lowest number (`min_by_key` keeps the first).
        if let Some((total, members)) = shards.iter_mut().min_by_key(|(total, members)| (*total, members.len())) {
            *total += repo.size;
            members.push(repo);
        }
    }
    let include = shards
        .into_iter()
        .filter(|(_, members)| !members.is_empty())
        .enumerate()
        .map(|(shard, (size, mut members))| {
            members.sort_by(|a, b| a.clone_url.cmp(&b.clone_url));
            ShardEntry {
                shard,
                count: members.len(),
                size,
                repos: members
                    .iter()
                    .map(|r| r.clone_url.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            }
        })
        .collect();
    Matrix { include }
}

/// The repositories of shard `index` of `count` (0-based), in clone-URL order.
pub fn select(repos: Vec<RepoEntry>, index: usize, count: usize) -> Vec<RepoEntry> {
    let count = count.max(1) as u64;
    let mut kept: Vec<RepoEntry> = repos
        .into_iter()
        .filter(|repo| shard_of(&repo.clone_url, count) == index as u64)
        .collect();
    kept.sort_by(|a, b| a.clone_url.cmp(&b.clone_url));
    kept
}

/// A repository's shard: the first 8 bytes of the SHA-256 of its clone URL, modulo `count`.
fn shard_of(clone_url: &str, count: u64) -> u64 {
    let digest = Sha256::digest(clone_url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, size: u64) -> RepoEntry {
        RepoEntry {
            name: name.into(),
            clone_url: format!("https://example.com/{name}.git"),
            default_branch: None,
            archived: false,
            fork: false,
            size,
            pushed_at: None,
        }
    }

    #[test]
    fn the_matrix_balances_by_size_and_is_deterministic() {
        let repos = vec![
            repo("a", 100),
            repo("b", 60),
            repo("c", 50),
            repo("d", 10),
            repo("e", 0),
        ];
        let m = matrix(&repos, 2);
        let sizes: Vec<u64> = m.include.iter().map(|s| s.size).collect();
        assert_eq!(sizes, [110, 110]);
        assert_eq!(
            m.include[0].repos,
            "https://example.com/a.git\nhttps://example.com/d.git\nhttps://example.com/e.git"
        );
        let mut reversed = repos.clone();
        reversed.reverse();
        assert_eq!(matrix(&reversed, 2), m);
        assert_eq!(matrix(&repos, 10).include.len(), 5, "no empty shards");
    }

    #[test]
    fn every_repository_is_in_exactly_one_shard() {
        let repos: Vec<RepoEntry> = (0..50).map(|i| repo(&format!("r{i}"), i)).collect();
        let mut seen: Vec<String> = (0..4)
            .flat_map(|i| select(repos.clone(), i, 4))
            .map(|r| r.name)
            .collect();
        seen.sort();
        let mut all: Vec<String> = repos.iter().map(|r| r.name.clone()).collect();
        all.sort();
        assert_eq!(seen, all);
        // Another repository does not move the others.
        let mut more = repos.clone();
        more.push(repo("new", 5));
        let before = select(repos, 1, 4);
        let after: Vec<RepoEntry> = select(more, 1, 4).into_iter().filter(|r| r.name != "new").collect();
        assert_eq!(before, after);
    }
}
