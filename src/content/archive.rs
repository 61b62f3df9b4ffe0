//! Archives opened in memory: zip (and jar, whl, apk, nupkg, which are zip files), gzip, bzip2 and xz (one
//! compressed file each), tar (and tgz, tbz2, txz: a tar compressed). Each member is handed back by name with
//! its bytes; limits guard against decompression bombs.

use std::borrow::Cow;
use std::io::{Cursor, Read};

/// How many members one archive may have; past that the rest is not read (a scan error says so).
pub const MAX_ENTRIES: usize = 100_000;
/// A member that inflates to more than this many times its compressed size, once past [`RATIO_FLOOR`] bytes,
/// is a decompression bomb: it is not read.
pub const MAX_RATIO: u64 = 1000;
const RATIO_FLOOR: u64 = 1 << 20;

/// The kinds of archive recognised, by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Gzip,
    Bzip2,
    Xz,
    Tar,
}

impl Kind {
    /// The format's name, as messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zip => "a zip",
            Kind::Gzip => "a gzip",
            Kind::Bzip2 => "a bzip2",
            Kind::Xz => "an xz",
            Kind::Tar => "a tar",
        }
    }
}

/// What kind of archive `bytes` is, if any.
pub fn kind(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(Kind::Zip)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Gzip)
    } else if is_bzip2(bytes) {
        Some(Kind::Bzip2)
    } else if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Kind::Xz)
    } else if bytes.get(257..262) == Some(b"ustar") {
        Some(Kind::Tar)
    } else {
        None
    }
}

/// `BZh`, a block size digit, then a block's magic number (or that of the end of an empty stream): a text
/// that starts with `BZh9` is not taken for a bzip2 file.
fn is_bzip2(bytes: &[u8]) -> bool {
    const BLOCK: &[u8] = &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: &[u8] = &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    bytes.starts_with(b"BZh")
        && bytes.get(3).is_some_and(|d| (b'1'..=b'9').contains(d))
        && bytes.get(4..10).is_some_and(|magic| magic == BLOCK || magic == END)
}

/// What opening an archive found: its members, and what could not be read (member name, reason). A tar's
/// members are slices of the tar (`'a`: the bytes opened); what was inflated is owned.
#[derive(Debug, Default)]
pub struct Opened<'a> {
    pub members: Vec<(String, Cow<'a, [u8]>)>,
    pub errors: Vec<(String, String)>,
}

/// Why the rest of an archive is not read once the budget is spent.
const OVER_BUDGET: &str = "over --max-archive-size: the archive holds more than the limit; the rest is not scanned";

impl<'a> Opened<'a> {
    fn too_many_members(&mut self) {
        self.errors.push((
            String::new(),
            format!("more than {MAX_ENTRIES} members; the rest is not scanned"),
        ));
    }

    /// The member at `index` (counted from 0, named by its place: its header could not be read) and why.
    fn unreadable(&mut self, index: usize, why: impl std::fmt::Display) {
        self.errors
            .push((format!("#{index}"), format!("cannot be read: {why}")));
    }

    /// Keeps a member read with [`read_bounded`] (or sliced with [`member_slice`]), or its error; whether to
    /// read on (not once the budget is spent).
    fn add_read(&mut self, name: String, read: Result<Cow<'a, [u8]>, String>, budget: u64) -> bool {
        match read {
            Ok(content) => self.members.push((name, content)),
            Err(reason) => {
                self.errors.push((name, reason));
                return budget != 0;
            }
        }
        true
    }
}

/// Opens `bytes` (an archive of `kind`, named `name`), reading at most `budget` bytes of members in all; the
/// budget left is written back.
pub fn open<'a>(bytes: &'a [u8], kind: Kind, name: &str, budget: &mut u64) -> Opened<'a> {
    let mut opened = Opened::default();
    match kind {
        Kind::Zip => open_zip(bytes, budget, &mut opened),
        Kind::Gzip => open_gzip(bytes, name, budget, &mut opened),
        Kind::Bzip2 => {
            let inner = decompressed_name(name, &[(".bz2", ""), (".tbz2", ".tar"), (".tbz", ".tar")], ".unbz2");
            let decoder = bzip2::read::MultiBzDecoder::new(bytes);
            open_compressed(decoder, bytes.len(), inner, budget, &mut opened);
        }
        Kind::Xz => {
            let inner = decompressed_name(name, &[(".xz", ""), (".txz", ".tar")], ".unxz");
            let decoder = liblzma::read::XzDecoder::new_multi_decoder(bytes);
            open_compressed(decoder, bytes.len(), inner, budget, &mut opened);
        }
        Kind::Tar => open_tar(bytes, budget, &mut opened),
    }
    opened
}

/// Reads at most `budget` bytes of `reader`, the member the archive says is `declared` bytes long; an error
/// names the limit hit.
fn read_bounded(reader: &mut dyn Read, declared: u64, budget: &mut u64) -> Result<Vec<u8>, String> {
    let mut bytes = with_room_for(declared, *budget);
    reader
        .take(budget.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    charge(bytes.len(), budget)?;
    bytes.shrink_to_fit();
    Ok(bytes)
}

/// An empty vector with room for `declared` bytes, at most `limit`: what is read into it then takes one
/// allocation instead of growing by doubling and being copied each time. `declared` is a size the archive
/// gives, only a hint (a hostile archive can say anything): a refusal is ignored, and whoever fills the vector
/// gives back the room it did not use (`shrink_to_fit`), since an archive's members are held together until
/// they are scanned.
fn with_room_for(declared: u64, limit: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = bytes.try_reserve_exact(usize::try_from(declared.min(limit)).unwrap_or(0));
    bytes
}

/// The `size` bytes at `start` of `bytes` (those there, where the archive is cut short), charged to the
/// budget as [`read_bounded`] charges what it reads.
fn member_slice<'a>(bytes: &'a [u8], start: u64, size: u64, budget: &mut u64) -> Result<&'a [u8], String> {
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
    let end = start
        .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
        .min(bytes.len());
    let member = &bytes[start..end];
    charge(member.len(), budget)?;
    Ok(member)
}

/// Takes a member of `len` bytes off the budget; past it, the budget is spent and the member is an error.
fn charge(len: usize, budget: &mut u64) -> Result<(), String> {
    if len as u64 > *budget {
        *budget = 0;
        return Err(OVER_BUDGET.into());
    }
    *budget -= len as u64;
    Ok(())
}

fn bomb(size: u64, compressed: u64) -> bool {
    size > RATIO_FLOOR && size / compressed.max(1) > MAX_RATIO
}

fn open_zip(bytes: &[u8], budget: &mut u64, opened: &mut Opened<'_>) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => {
            opened
                .errors
                .push((String::new(), format!("not a readable zip archive: {e}")));
            return;
        }
    };
    for index in 0..archive.len() {
        if index >= MAX_ENTRIES {
            opened.too_many_members();
            return;
        }
        let mut file = match archive.by_index(index) {
            Ok(file) => file,
            Err(e) => {
                opened.unreadable(index, e);
                continue;
            }
        };
        if file.is_dir() {
            continue;
        }
        let name = file
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{index}"));
        if bomb(file.size(), file.compressed_size()) {
            opened.errors.push((
                name,
                format!(
                    "inflates {} to {} bytes (over {MAX_RATIO} times): a decompression bomb, not read",
                    file.compressed_size(),
                    file.size()
                ),
            ));
            continue;
        }
        let declared = file.size();
        let read = read_bounded(&mut file, declared, budget).map(Cow::Owned);
        if !opened.add_read(name, read, *budget) {
            return;
        }
    }
}

/// A gzip file: its members one after another, as `gzip -d` reads them, inflated into one content. Bytes after
/// the last member that are not another member are ignored, as gzip ignores trailing garbage (tape padding,
/// data appended to the file). What a corrupt or cut-short member inflated before the damage is still scanned,
/// and the damage is a scan error.
fn open_gzip(bytes: &[u8], name: &str, budget: &mut u64, opened: &mut Opened<'_>) {
    let limit = inflate_limit(bytes.len(), *budget);
    // The last member's size as its trailer gives it (ISIZE, modulo 4 GiB) is the whole content's when there is
    // one member, as there almost always is.
    let declared = bytes.last_chunk::<4>().map_or(0, |isize| u32::from_le_bytes(*isize));
    let mut content = with_room_for(u64::from(declared), limit);
    let mut inner: Option<String> = None;
    let mut rest: &[u8] = bytes;
    let mut damage = None;
    while rest.starts_with(&[0x1f, 0x8b]) {
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        let room = limit - content.len() as u64;
        let before = content.len();
        let read = (&mut decoder).take(room.saturating_add(1)).read_to_end(&mut content);
        if inner.is_none() {
            inner = decoder
                .header()
                .and_then(|h| h.filename())
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .filter(|f| !f.is_empty());
        }
        if content.len() as u64 > limit {
            over_limit(inner.unwrap_or_else(|| gunzipped_name(name)), limit, budget, opened);
            return;
        }
        if let Err(e) = read {
            damage = Some(format!("corrupt or cut short after {} bytes of it: {e}", content.len()));
            break;
        }
        rest = decoder.into_inner();
        // A member that consumed nothing cannot be followed by another.
        if content.len() == before && rest.len() == bytes.len() {
            break;
        }
    }
    let inner = inner.unwrap_or_else(|| gunzipped_name(name));
    *budget -= content.len() as u64;
    content.shrink_to_fit();
    if let Some(reason) = damage {
        opened.errors.push((inner.clone(), reason));
    }
    opened.members.push((inner, Cow::Owned(content)));
}

/// How much one compressed file may inflate to: what is left of the budget, and no more than [`MAX_RATIO`] times
/// its compressed size (past [`RATIO_FLOOR`]).
fn inflate_limit(compressed: usize, budget: u64) -> u64 {
    budget.min((compressed as u64).saturating_mul(MAX_RATIO).max(RATIO_FLOOR))
}

/// Records a compressed file that inflated past `limit`: a bomb when the ratio stopped it, else the budget is
/// spent.
fn over_limit(inner: String, limit: u64, budget: &mut u64, opened: &mut Opened<'_>) {
    if limit < *budget {
        let reason = format!("inflates to over {MAX_RATIO} times its size: a decompression bomb, not read");
        opened.errors.push((inner, reason));
    } else {
        *budget = 0;
        opened.errors.push((inner, OVER_BUDGET.into()));
    }
}

/// A bzip2 or xz file (its streams one after another, as their tools read them), inflated under the same
/// limits as gzip. What a corrupt or cut-short stream inflated before the damage is still scanned, and the
/// damage is a scan error.
fn open_compressed(decoder: impl Read, compressed: usize, inner: String, budget: &mut u64, opened: &mut Opened<'_>) {
    let limit = inflate_limit(compressed, *budget);
    let mut content = Vec::new();
    let read = decoder.take(limit.saturating_add(1)).read_to_end(&mut content);
    if content.len() as u64 > limit {
        return over_limit(inner, limit, budget, opened);
    }
    *budget -= content.len() as u64;
    if let Err(e) = read {
        let reason = format!("corrupt or cut short after {} bytes of it: {e}", content.len());
        opened.errors.push((inner.clone(), reason));
    }
    opened.members.push((inner, Cow::Owned(content)));
}

/// The name of what a compressed file holds: its name less the first of `suffixes` it ends with (`app.log.bz2`
/// holds `app.log`, `site.txz` holds `site.tar`), else its name with `fallback` added.
fn decompressed_name(name: &str, suffixes: &[(&str, &str)], fallback: &str) -> String {
    let last = name.rsplit(['/', '!']).next().unwrap_or(name);
    suffixes
        .iter()
        .find_map(|(suffix, replacement)| last.strip_suffix(suffix).map(|stem| format!("{stem}{replacement}")))
        .filter(|inner| !inner.is_empty())
        .unwrap_or_else(|| format!("{last}{fallback}"))
}

/// `app.js.gz` holds `app.js`, `site.tgz` holds `site.tar`.
fn gunzipped_name(name: &str) -> String {
    decompressed_name(name, &[(".tgz", ".tar"), (".gz", "")], ".ungz")
}

fn open_tar<'a>(bytes: &'a [u8], budget: &mut u64, opened: &mut Opened<'a>) {
    // Over a seekable reader, the tar crate passes over a member's padding (and any part left unread) with a
    // seek; over a plain reader it reads it into a 32 KiB buffer that it zeroes each time, which was most of
    // the time spent on a tar of many small members.
    let mut archive = tar::Archive::new(Cursor::new(bytes));
    let mut yielded = 0;
    {
        let entries = match archive.entries_with_seek() {
            Ok(entries) => entries,
            Err(e) => {
                opened
                    .errors
                    .push((String::new(), format!("not a readable tar archive: {e}")));
                return;
            }
        };
        for (index, entry) in entries.enumerate() {
            yielded = index + 1;
            if index >= MAX_ENTRIES {
                opened.too_many_members();
                return;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    opened.unreadable(index, e);
                    return;
                }
            };
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path_bytes()
                .into_owned()
                .into_iter()
                .map(char::from)
                .collect::<String>();
            // A regular member's bytes lie whole in the tar (a sparse one is no regular member): a slice of
            // it, not a copy.
            let read = member_slice(bytes, entry.raw_file_position(), entry.size(), budget).map(Cow::Borrowed);
            if !opened.add_read(name, read, *budget) {
                return;
            }
        }
    }
    // A seek past the end, where a member is cut short, is no error to the reader; reading would have been.
    if archive.into_inner().position() > bytes.len() as u64 {
        opened.unreadable(yielded, "unexpected EOF during skip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in files {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            writer.write_all(content).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    /// A GNU tar of regular files (one 512-byte header and the data padded to 512 bytes each).
    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *body).expect("append");
        }
        builder.into_inner().expect("tar")
    }

    /// A tar's members are charged to the budget as they are read: the member that passes it is an error, and
    /// the rest is not read.
    #[test]
    fn a_tar_stops_at_the_member_over_the_budget() {
        let tar = tar_of(&[("a.txt", b"first"), ("b.bin", &[b'x'; 700]), ("c.txt", b"third")]);
        let over = |name: &str| vec![(name.to_string(), OVER_BUDGET.to_string())];
        for (room, members, left, errors) in [
            (704, 1, 0, over("b.bin")),
            (705, 2, 0, over("c.txt")),
            (710, 3, 0, Vec::new()),
            (2000, 3, 1290, Vec::new()),
        ] {
            let mut budget = room;
            let mut opened = Opened::default();
            open_tar(&tar, &mut budget, &mut opened);
            assert_eq!(opened.members.len(), members, "{room}: {:?}", opened.members);
            assert_eq!((budget, &opened.errors), (left, &errors), "{room}");
            if members > 1 {
                assert_eq!(opened.members[1].1.as_ref(), &[b'x'; 700][..]);
            }
        }
    }

    /// A tar cut anywhere: what it holds up to the cut is read, and the cut is an error unless it falls
    /// between members (or in the blocks of zeros that end a tar).
    #[test]
    fn a_tar_cut_short_anywhere_keeps_what_it_holds_and_says_so() {
        let members: [(&str, &[u8]); 2] = [("a.txt", b"first member"), ("b.txt", &[b'x'; 700])];
        let full = tar_of(&members);
        // Headers at 0 and 1024 (a.txt takes one block of data), the first block of zeros at 2560.
        for cut in 0..=full.len() {
            let mut budget = 1 << 20;
            let mut opened = Opened::default();
            open_tar(&full[..cut], &mut budget, &mut opened);
            for ((name, content), (expected_name, expected)) in opened.members.iter().zip(members) {
                assert_eq!(name, expected_name, "cut at {cut}");
                assert!(expected.starts_with(content), "cut at {cut}: {name}");
            }
            let clean = [0, 1024, 2560].contains(&cut) || cut >= 3072;
            assert_eq!(opened.errors.is_empty(), clean, "cut at {cut}: {:?}", opened.errors);
            if clean && cut >= 2560 {
                assert_eq!(opened.members.len(), 2, "cut at {cut}");
                assert_eq!(opened.members[1].1.len(), 700, "cut at {cut}");
            }
        }
        // Cut inside b.txt's data: its part is read, and the cut is told.
        let mut budget = 1 << 20;
        let mut opened = Opened::default();
        open_tar(&full[..1600], &mut budget, &mut opened);
        assert_eq!(opened.members[1].1.len(), 64);
        assert_eq!(budget, (1 << 20) - 12 - 64, "what was read is charged");
        assert_eq!(
            opened.errors,
            vec![(
                "#2".to_string(),
                "cannot be read: unexpected EOF during skip".to_string()
            )]
        );
    }

    #[test]
    fn zip_members_are_read_by_name() {
        let bytes = zip_of(&[("config/.env", b"KEY=1\n"), ("a.txt", b"a")]);
        assert_eq!(kind(&bytes), Some(Kind::Zip));
        let mut budget = 1 << 20;
        let opened = open(&bytes, Kind::Zip, "app.zip", &mut budget);
        let names: Vec<&str> = opened.members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["config/.env", "a.txt"]);
        assert!(opened.errors.is_empty());
    }

    #[test]
    fn bzip2_and_xz_files_are_opened_under_the_gzip_limits() {
        use std::io::Write;
        let text = b"KEY=sk-proj-abc\n".repeat(10);
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&text).expect("bzip2");
        let bz = bz.finish().expect("bzip2");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&text).expect("xz");
        let xz = xz.finish().expect("xz");
        for (bytes, kind, name, inner) in [
            (&bz, Kind::Bzip2, "logs/app.log.bz2", "app.log"),
            (&xz, Kind::Xz, "site.txz", "site.tar"),
            (&xz, Kind::Xz, "blob", "blob.unxz"),
        ] {
            assert_eq!(super::kind(bytes), Some(kind), "{name}");
            let mut budget = 1 << 20;
            let opened = open(bytes, kind, name, &mut budget);
            assert!(opened.errors.is_empty(), "{name}: {:?}", opened.errors);
            assert_eq!(
                opened.members,
                vec![(inner.to_string(), Cow::Owned(text.clone()))],
                "{name}"
            );
            // Cut short: what came before the damage is kept, and the damage is an error.
            let mut budget = 1 << 20;
            let cut = open(&bytes[..bytes.len() - 8], kind, name, &mut budget);
            assert_eq!(cut.errors.len(), 1, "{name}: {:?}", cut.errors);
            // A bomb: a small file that inflates past the ratio is not read.
            let zeros = vec![0u8; 4 << 20];
            let bomb = match kind {
                Kind::Bzip2 => {
                    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
                    e.write_all(&zeros).expect("bzip2");
                    e.finish().expect("bzip2")
                }
                _ => {
                    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 9);
                    e.write_all(&zeros).expect("xz");
                    e.finish().expect("xz")
                }
            };
            let mut budget = 64 << 20;
            let opened = open(&bomb, kind, name, &mut budget);
            assert!(opened.members.is_empty(), "{name}");
            assert!(
                opened.errors[0].1.contains("decompression bomb"),
                "{name}: {:?}",
                opened.errors
            );
        }
        assert_eq!(super::kind(b"BZh91AY&SY but text"), Some(Kind::Bzip2));
        assert_eq!(super::kind(b"BZh9 is how it starts"), None);
    }

    #[test]
    fn the_budget_and_the_ratio_stop_bombs() {
        let zeros = vec![0u8; 16 << 20];
        let bytes = zip_of(&[("zeros.bin", &zeros)]);
        let mut budget = 64 << 20;
        let opened = open(&bytes, Kind::Zip, "bomb.zip", &mut budget);
        assert!(opened.members.is_empty());
        assert!(opened.errors[0].1.contains("decompression bomb"), "{:?}", opened.errors);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&zeros).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let mut budget = 64 << 20;
        let opened = open(&gz, Kind::Gzip, "zeros.gz", &mut budget);
        assert!(opened.errors[0].1.contains("decompression bomb"), "{:?}", opened.errors);

        let small = zip_of(&[("a", &[b'a'; 4096]), ("b", &[b'b'; 4096])]);
        let mut budget = 5000;
        let opened = open(&small, Kind::Zip, "two.zip", &mut budget);
        assert_eq!(opened.members.len(), 1);
        assert!(opened.errors[0].1.contains("--max-archive-size"), "{:?}", opened.errors);
    }

    fn gzip_of(content: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(content).expect("gzip");
        gz.finish().expect("gzip")
    }

    /// gzip's own behaviour: members one after another are one content; trailing garbage is ignored.
    #[test]
    fn gzip_members_are_joined_and_trailing_garbage_is_ignored() {
        let mut bytes = gzip_of(b"hello ");
        bytes.extend(gzip_of(b"world\n"));
        bytes.extend(b"\0\0\0 trailing garbage");
        let mut budget = 1 << 20;
        let opened = open(&bytes, Kind::Gzip, "hello.txt.gz", &mut budget);
        assert!(opened.errors.is_empty(), "{:?}", opened.errors);
        assert_eq!(
            opened.members,
            vec![("hello.txt".to_string(), Cow::Owned(b"hello world\n".to_vec()))]
        );
    }

    /// A cut-short gzip: what it inflated before the cut is scanned, and the cut is a scan error (not a bomb).
    #[test]
    fn a_cut_short_gzip_keeps_what_it_inflated() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let bytes = gzip_of(&text);
        let cut = &bytes[..bytes.len() / 2];
        let mut budget = 1 << 20;
        let opened = open(cut, Kind::Gzip, "log.gz", &mut budget);
        assert_eq!(opened.members.len(), 1);
        assert!(opened.members[0].1.starts_with(b"line 0\nline 1\n"));
        assert!(!opened.members[0].1.is_empty() && opened.members[0].1.len() < text.len());
        assert_eq!(opened.errors.len(), 1, "{:?}", opened.errors);
        assert!(opened.errors[0].1.contains("cut short"), "{:?}", opened.errors);
        assert!(!opened.errors[0].1.contains("bomb"), "{:?}", opened.errors);
    }

    /// The sizes an archive declares only size the first allocation: a gzip trailer that says too much or too
    /// little changes neither what is read nor the limits, and the room a lie asked for is given back.
    #[test]
    fn declared_sizes_that_lie_change_nothing_read() {
        let text: Vec<u8> = (0..5_000u32).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
        for isize in [0u32, 1, u32::MAX] {
            let mut bytes = gzip_of(&text);
            let at = bytes.len() - 4;
            bytes[at..].copy_from_slice(&isize.to_le_bytes());
            let mut budget = 1 << 20;
            let opened = open(&bytes, Kind::Gzip, "log.gz", &mut budget);
            let content = &opened.members[0].1;
            assert_eq!(content.as_ref(), &text[..], "ISIZE {isize}");
            assert!(
                matches!(content, Cow::Owned(owned) if owned.capacity() == owned.len()),
                "ISIZE {isize}"
            );
            // gzip checks the trailer: the lie is reported, what inflated is kept.
            assert!(opened.errors[0].1.contains("corrupt"), "{:?}", opened.errors);
            assert_eq!(budget, (1 << 20) - text.len() as u64);
        }
        // A bomb that says it is small is still stopped at the ratio.
        let mut bomb = gzip_of(&vec![0u8; 4 << 20]);
        let at = bomb.len() - 4;
        bomb[at..].copy_from_slice(&10u32.to_le_bytes());
        let mut budget = 1 << 30;
        let opened = open(&bomb, Kind::Gzip, "zeros.gz", &mut budget);
        assert!(opened.members.is_empty());
        assert!(opened.errors[0].1.contains("bomb"), "{:?}", opened.errors);
    }

    #[test]
    fn gzip_names_follow_the_file() {
        assert_eq!(gunzipped_name("dist/app.js.gz"), "app.js");
        assert_eq!(gunzipped_name("x.zip!site.tgz"), "site.tar");
        assert_eq!(gunzipped_name("blob"), "blob.ungz");
    }
}
