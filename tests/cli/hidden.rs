//! Keys where they hide: encoded (base64, percent-encoding, escapes) and in archives (zip, gzip, bzip2, xz, tar),
//! nested, in files and in git blobs, with limits against decompression bombs.

use std::fs;
use std::io::{Cursor, Write};

use base64::Engine as _;
use serde_json::Value;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2, Repo, code, json_findings, keyhound_in, run, stderr, stdout,
    tree,
};

pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start a member");
        writer.write_all(content).expect("write a member");
    }
    writer.finish().expect("finish the zip").into_inner()
}

pub fn gzip_of(content: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(content).expect("gzip");
    gz.finish().expect("gzip")
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *content).expect("append");
    }
    builder.into_inner().expect("tar")
}

fn scan_json(dir: &std::path::Path, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let output = run(keyhound_in(dir)
        .args(["scan", ".", "-f", "json", "--show-secrets"])
        .args(extra));
    (code(&output), json_findings(&stdout(&output)), stderr(&output))
}

fn by_path<'a>(findings: &'a [Value], path: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no finding at {path}: {findings:#?}"))
}

#[test]
fn encoded_keys_are_found_at_the_encoded_text() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("OPENAI_API_KEY={PROJECT_KEY}\n"));
    let k8s = format!("apiVersion: v1\nkind: Secret\ndata:\n  env: {b64}\n");
    let url = format!(
        "curl 'https://example.com/hook?token={}'\n",
        PROJECT_KEY.replace('-', "%2D")
    );
    let json = format!("{{\"key\":\"{}\"}}\n", LEGACY_KEY.replacen("sk-", "sk\\u002d", 1));
    let dir = tree(&[
        ("secret.yaml", k8s.as_bytes()),
        ("hook.sh", url.as_bytes()),
        ("config.json", json.as_bytes()),
    ]);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    let secret = by_path(&findings, "secret.yaml");
    assert_eq!(secret["secret"], PROJECT_KEY);
    assert_eq!(secret["decoded"], "base64");
    assert_eq!(secret["line"], 4);
    assert_eq!(secret["column"], 8, "the encoded text's column");
    assert_eq!(by_path(&findings, "hook.sh")["decoded"], "percent");
    assert_eq!(by_path(&findings, "config.json")["decoded"], "escape");
    assert_eq!(by_path(&findings, "config.json")["secret"], LEGACY_KEY);
    // The context line never shows the encoded key: it would be the key in another form.
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json"]));
    let text = stdout(&output);
    assert!(!text.contains(&b64), "{text}");
    assert!(text.contains("[base64: sk-proj-"), "{text}");
    // --decode-depth 0 turns it off (and so does decode_depth = 0 in keyhound.toml).
    let (status, findings, _) = scan_json(dir.path(), &["--decode-depth", "0"]);
    assert_eq!((status, findings.len()), (0, 0));
    fs::write(dir.path().join("keyhound.toml"), "decode_depth = 0\n").expect("write");
    let (status, _, _) = scan_json(dir.path(), &[]);
    assert_eq!(status, 0);
}

#[test]
fn archives_are_opened_nested_and_members_named() {
    let env = format!("OPENAI_API_KEY={PROJECT_KEY}\n");
    let inner = zip_of(&[("config/.env", env.as_bytes())]);
    let outer = zip_of(&[("lib/inner.jar", &inner), ("README", b"nothing")]);
    let tgz = gzip_of(&tar_of(&[(
        "site/app.js",
        format!("const k = '{LEGACY_KEY}';").as_bytes(),
    )]));
    let gz = gzip_of(format!("key={LEGACY_KEY}\n").as_bytes());
    let dir = tree(&[("dist/app.zip", &outer), ("site.tgz", &tgz), ("logs/app.log.gz", &gz)]);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    let paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    assert!(paths.contains(&"dist/app.zip!lib/inner.jar!config/.env"), "{paths:?}");
    assert!(paths.contains(&"site.tgz!site.tar!site/app.js"), "{paths:?}");
    assert!(paths.contains(&"logs/app.log.gz!app.log"), "{paths:?}");
    assert!(err.contains("archive members"), "the summary counts members: {err}");
    // One level: the nested jar is not opened.
    let (_, findings, _) = scan_json(dir.path(), &["--archive-depth", "1"]);
    let paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    assert!(!paths.iter().any(|p| p.contains("inner.jar!")), "{paths:?}");
    assert!(paths.contains(&"logs/app.log.gz!app.log"), "{paths:?}");
    let (_, findings, _) = scan_json(dir.path(), &["--archive-depth", "0"]);
    assert!(
        findings
            .iter()
            .all(|f| !f["path"].as_str().unwrap_or_default().contains('!'))
    );
}

fn bzip2_of(content: &[u8]) -> Vec<u8> {
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(content).expect("bzip2");
    bz.finish().expect("bzip2")
}

fn xz_of(content: &[u8]) -> Vec<u8> {
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(content).expect("xz");
    xz.finish().expect("xz")
}

#[test]
fn bzip2_and_xz_files_and_tarballs_are_opened_in_trees_and_history() {
    let env = format!("OPENAI_API_KEY={PROJECT_KEY}\n");
    let tar = tar_of(&[("site/.env", env.as_bytes())]);
    let log = format!("key={LEGACY_KEY}\n");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("backup.tar.xz", xz_of(&tar)),
        ("backup.tbz2", bzip2_of(&tar)),
        ("logs/app.log.bz2", bzip2_of(log.as_bytes())),
        ("logs/app.log.xz", xz_of(log.as_bytes())),
    ];
    let expected = [
        "backup.tar.xz!backup.tar!site/.env",
        "backup.tbz2!backup.tar!site/.env",
        "logs/app.log.bz2!app.log",
        "logs/app.log.xz!app.log",
    ];
    let as_tree: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    let dir = tree(&as_tree);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    let mut paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    paths.sort();
    assert_eq!(paths, expected);
    let repo = Repo::new();
    for (name, bytes) in &files {
        let path = repo.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "backups"]);
    let output = run(keyhound_in(repo.path()).args(["git", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    let mut paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    paths.sort();
    assert_eq!(paths, expected);
}

#[test]
fn kubernetes_secrets_with_keys_of_other_providers_and_registry_configs_are_read() {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let hf = "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh";
    let auth = b64(&format!("ci-bot:{PROJECT_KEY}"));
    let config = format!("{{\n\t\"auths\": {{\n\t\t\"ghcr.io\": {{\n\t\t\t\"auth\": \"{auth}\"\n\t\t}}\n\t}}\n}}");
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n---\n\
         apiVersion: v1\nkind: Secret\ndata:\n  HF_TOKEN: {}\n",
        b64(&config),
        b64(hf)
    );
    let dir = tree(&[("deploy/secrets.yaml", manifest.as_bytes())]);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    let found: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap_or_default(),
                f["decoded"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(found.contains(&(PROJECT_KEY, "base64>base64")), "{found:?}");
    assert!(found.contains(&(hf, "base64")), "{found:?}");
}

#[test]
fn keys_broken_up_by_invisible_characters_are_found_where_they_are() {
    let invisible = ["\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}", "\u{AD}"];
    for (n, mark) in invisible.iter().enumerate() {
        let hidden = format!(
            "{}{mark}{}{mark}{}",
            &PROJECT_KEY[..9],
            &PROJECT_KEY[9..30],
            &PROJECT_KEY[30..]
        );
        let text = format!("# pasted from chat\nOPENAI_API_KEY={hidden}  # prod\n");
        let dir = tree(&[(".env", text.as_bytes())]);
        let (status, findings, err) = scan_json(dir.path(), &[]);
        assert_eq!(status, 1, "{n}: {err}");
        assert_eq!(findings.len(), 1, "{n}: {findings:?}");
        let f = &findings[0];
        assert_eq!(f["secret"], PROJECT_KEY, "{n}");
        assert_eq!(f["decoded"], "invisible", "{n}");
        assert_eq!((f["line"].as_u64(), f["column"].as_u64()), (Some(2), Some(16)), "{n}");
        // The span covers the key with its invisible characters, in the original text.
        let end = f["end_column"].as_u64().unwrap_or_default() as usize;
        assert_eq!(end - 16, hidden.len(), "{n}");
    }
    // No new findings: invisible characters in text without keys, or beside a key in the clear.
    let text = format!("caf\u{e9}\u{200B} \u{AD}x\nKEY={PROJECT_KEY}\u{200B}\n\u{FEFF}sk-\u{200B}not-a-key\n");
    let dir = tree(&[("notes.md", text.as_bytes())]);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].get("decoded").is_none(), "{findings:?}");
}

#[test]
fn decompression_bombs_are_stopped_and_reported() {
    let zeros = vec![0u8; 32 << 20];
    let bomb = zip_of(&[("zeros.bin", &zeros), (".env", format!("K={LEGACY_KEY}\n").as_bytes())]);
    let big = gzip_of(&vec![b'a'; 4 << 20]);
    let dir = tree(&[("bomb.zip", &bomb), ("big.gz", &big)]);
    let (status, findings, err) = scan_json(dir.path(), &["--max-archive-size", "1MiB"]);
    assert_eq!(status, 1, "what is under the limits is still scanned: {err}");
    assert_eq!(by_path(&findings, "bomb.zip!.env")["secret"], LEGACY_KEY);
    assert!(err.contains("decompression bomb"), "{err}");
    assert!(err.contains("over --max-archive-size"), "{err}");
    assert!(err.contains("could not be read"), "an incomplete scan says so: {err}");
    let output =
        run(keyhound_in(dir.path()).args(["scan", ".", "--max-archive-size", "1MiB", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2);
    // A corrupt archive is scanned as bytes and reported.
    let mut cut = zip_of(&[(".env", format!("K={LEGACY_KEY}\n").as_bytes())]);
    cut.truncate(cut.len() / 2);
    let dir = tree(&[("cut.zip", &cut)]);
    let (_, _, err) = scan_json(dir.path(), &[]);
    assert!(err.contains("cut.zip") && err.contains("not a readable zip"), "{err}");
}

/// gzip files as they are found: several members, trailing garbage (which gzip ignores), or cut short.
#[test]
fn gzip_files_with_trailing_bytes_or_cut_short_are_read_like_gzip_reads_them() {
    let mut padded = gzip_of(format!("A={LEGACY_KEY}\n").as_bytes());
    padded.extend(b"\0\0\0\0 appended by a tool");
    let mut two = gzip_of(b"first member\n");
    two.extend(gzip_of(format!("B={LEGACY_KEY_2}\n").as_bytes()));
    let log: Vec<u8> = format!("C={PROJECT_KEY}\n")
        .into_bytes()
        .into_iter()
        .chain((0..20_000u32).flat_map(|i| format!("line {i}\n").into_bytes()))
        .collect();
    let mut cut = gzip_of(&log);
    cut.truncate(cut.len() / 2);
    let dir = tree(&[("padded.txt.gz", &padded), ("two.txt.gz", &two), ("app.log.gz", &cut)]);
    let (status, findings, err) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(by_path(&findings, "padded.txt.gz!padded.txt")["secret"], LEGACY_KEY);
    assert_eq!(by_path(&findings, "two.txt.gz!two.txt")["secret"], LEGACY_KEY_2);
    assert_eq!(by_path(&findings, "app.log.gz!app.log")["secret"], PROJECT_KEY);
    // Only the cut file is incomplete, and it is not called a bomb.
    assert!(err.contains("1 could not be read: 1 member"), "{err}");
    assert!(err.contains("app.log.gz!app.log") && err.contains("cut short"), "{err}");
    assert!(!err.contains("bomb"), "{err}");
}

#[test]
fn archives_and_encodings_in_git_history() {
    let repo = Repo::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("token: {PROJECT_KEY}"));
    repo.commit(&[("k8s/secret.yaml", &format!("data:\n  token: {b64}\n"))], "secret");
    let zip = zip_of(&[("app/.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    fs::write(repo.path().join("release.zip"), &zip).expect("write");
    repo.git(&["add", "release.zip"]);
    repo.git(&["commit", "-q", "-m", "release"]);
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(by_path(&findings, "k8s/secret.yaml")["decoded"], "base64");
    assert_eq!(by_path(&findings, "release.zip!app/.env")["secret"], LEGACY_KEY);
    // Staged too.
    let zip = zip_of(&[("new/.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    fs::write(repo.path().join("next.zip"), &zip).expect("write");
    repo.git(&["add", "next.zip"]);
    let output = run(keyhound_in(repo.path()).args(["git", "--staged", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output))[0]["path"], "next.zip!new/.env");
}

#[test]
fn revoke_reads_decoded_and_archived_keys_back() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("OPENAI_API_KEY={PROJECT_KEY}\n"));
    let zip = zip_of(&[("conf/.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    let split = format!("{}\u{200B}{}", &LEGACY_KEY_2[..20], &LEGACY_KEY_2[20..]);
    // Base64 wrapped over lines: the finding spans lines, and is read back across them.
    let wrapped: Vec<String> = base64::engine::general_purpose::STANDARD
        .encode(format!("# settings\nregion=eu\nOPENAI_API_KEY={PROJECT_KEY_2}\n"))
        .as_bytes()
        .chunks(48)
        .map(|c| format!("    {}", String::from_utf8_lossy(c)))
        .collect();
    let dir = tree(&[
        ("secret.yaml", format!("data:\n  env: {b64}\n").as_bytes()),
        ("bundle.zip", &zip),
        ("chat.md", format!("here: {split}\n").as_bytes()),
        ("folded.yaml", format!("env: >-\n{}\n", wrapped.join("\n")).as_bytes()),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1);
    // A server that answers nothing useful: what matters is that the keys were read back and probed.
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let base = format!("http://127.0.0.1:{}", server.server_addr().to_ip().expect("ip").port());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = std::sync::Arc::clone(&seen);
    let server = std::sync::Arc::new(server);
    let serving = std::sync::Arc::clone(&server);
    std::thread::spawn(move || {
        for request in serving.incoming_requests() {
            let bearer = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.as_str().to_string())
                .unwrap_or_default();
            recorded.lock().expect("lock").push(bearer);
            let body =
                r#"{"error":{"message":"no","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
            let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(401));
        }
    });
    let output = run(keyhound_in(dir.path())
        .env("OPENAI_ADMIN_KEY", "sk-admin-not-used")
        .args(["revoke", "--from", "report.json", "--api-base", &base]));
    server.unblock();
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "both keys read back and found dead: {out}");
    let probed = seen.lock().expect("lock").clone();
    assert!(probed.contains(&format!("Bearer {PROJECT_KEY}")), "{probed:?}");
    assert!(probed.contains(&format!("Bearer {LEGACY_KEY}")), "{probed:?}");
    assert!(probed.contains(&format!("Bearer {LEGACY_KEY_2}")), "{probed:?}");
    assert!(probed.contains(&format!("Bearer {PROJECT_KEY_2}")), "{probed:?}");
    assert!(!out.contains(PROJECT_KEY) && !out.contains(LEGACY_KEY) && !out.contains(LEGACY_KEY_2));
}

#[test]
fn a_large_minified_file_with_many_hints_is_scanned_whole() {
    // 20 MB on one line, full of percent signs, escapes and base64-ish runs (the benchmark measures the time).
    let mut line = String::with_capacity(20 << 20);
    while line.len() < 20 << 20 {
        line.push_str("var a=\"\\u0041\\u0042\",b='100%20x',c=\"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\";");
    }
    line.push_str(&format!("var k=\"{PROJECT_KEY}\";"));
    let dir = tree(&[("bundle.min.js", line.as_bytes())]);
    let (status, findings, _) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["secret"], PROJECT_KEY);
}
