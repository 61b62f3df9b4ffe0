//! `keyhound image TARGET...` (issue 21): images written by `image_builder` (OCI layout directory and tar,
//! `docker save` archives) and pulled from the fake registry of `fake_registry`, scanned the way a user runs
//! it. Every run has a timeout, so a hang fails the test, not the suite.

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2, assert_valid_sarif, code, json_report, jsonl_findings,
    keyhound, run, stderr, stdout,
};
use crate::fake_registry::{Auth, FakeRegistry, TOKEN};
use crate::image_builder::{
    Built, Compression, DockerFormat, Image, Layer, RawEntry, build_index, hex_of, host_platform, write_docker_save,
    write_oci_layout, write_oci_layout_index, write_oci_tar, write_self_referencing_layout,
};

/// No run may take longer than this.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `keyhound image` (with no registry credentials: see `keyhound()`), and no home directory whose docker config it
/// could read.
fn image_cmd() -> Command {
    let mut cmd = keyhound();
    cmd.timeout(TIMEOUT)
        .env("HOME", "/nonexistent/keyhound-tests/home")
        .arg("image");
    cmd
}

/// `keyhound image ARGS -f json --show-secrets`: the exit code, the report (Null when stdout is not JSON), and
/// the output.
fn scan_json(cmd: &mut Command, args: &[&str]) -> (i32, Value, Output) {
    let output = run(cmd.args(args).args(["-f", "json", "--show-secrets"]));
    let code = code(&output);
    assert_ne!(code, 101, "keyhound panicked:\n{}", stderr(&output));
    let report = if code == 2 && stdout(&output).trim().is_empty() {
        Value::Null
    } else {
        json_report(&stdout(&output))
    };
    (code, report, output)
}

fn findings(report: &Value) -> Vec<Value> {
    report["findings"].as_array().expect("`findings` is an array").clone()
}

fn scan_errors(report: &Value) -> Vec<Value> {
    report["scan_errors"]
        .as_array()
        .expect("`scan_errors` is an array")
        .clone()
}

/// The one finding of `secret`.
fn finding_of(report: &Value, secret: &str) -> Value {
    let matching: Vec<Value> = findings(report).into_iter().filter(|f| f["secret"] == secret).collect();
    assert_eq!(matching.len(), 1, "one finding of {}… in:\n{report:#}", &secret[..12]);
    matching[0].clone()
}

fn secrets(report: &Value) -> Vec<String> {
    let mut secrets: Vec<String> = findings(report)
        .iter()
        .map(|f| f["secret"].as_str().expect("secret").to_string())
        .collect();
    secrets.sort();
    secrets
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

/// Some scan error's place or reason names `needle` (a layer digest, a path...).
fn assert_scan_error_naming(report: &Value, needle: &str) {
    let errors = scan_errors(report);
    assert!(
        errors.iter().any(|e| {
            e["place"].as_str().unwrap_or("").contains(needle) || e["reason"].as_str().unwrap_or("").contains(needle)
        }),
        "no scan error names {needle}: {errors:#?}"
    );
    for error in &errors {
        assert!(error["kind"].is_string() && error["reason"].is_string(), "{error}");
    }
}

/// A target that cannot be scanned: exit 2 with an error on stderr naming it, or (when the implementation goes
/// on with the run) a scan error naming `needle`. Either way a clear error, and no finding made up.
fn assert_clear_failure(code: i32, report: &Value, output: &Output, target: &str, needle: &str) {
    if code == 2 {
        assert!(
            stderr(output).contains(target),
            "stderr names {target}:\n{}",
            stderr(output)
        );
    } else {
        assert_eq!(code, 0, "no findings:\n{}", stdout(output));
        assert_scan_error_naming(report, needle);
    }
}

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn env_line(key: &str) -> String {
    format!("OPENAI_API_KEY={key}\n")
}

/// A small base layer (a few clean files).
fn base_layer() -> Layer {
    Layer::new()
        .dir("etc")
        .file("etc/os-release", "NAME=Fake Linux\nID=fake\n")
        .dir("bin")
        .symlink("bin/sh", "busybox")
        .created_by("/bin/sh -c #(nop) ADD file:0123abcd in / ")
}

// ---------------------------------------------------------------------------------------------------------------
// Where a finding is: layer files and the config.

#[test]
fn a_key_in_a_layer_file_says_which_layer() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(base_layer())
            .layer(
                Layer::new()
                    .dir("app")
                    .file("app/.env", env_line(PROJECT_KEY))
                    .created_by("COPY .env /app/.env # buildkit"),
            )
            .tag("app:1")],
    );
    let target = path_str(&layout);
    let (code, report, _) = scan_json(&mut image_cmd(), &[target]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    let finding = finding_of(&report, PROJECT_KEY);
    assert_eq!(finding["path"], "app/.env");
    assert_eq!(finding["rule_id"], "openai-project-key");
    assert_eq!(finding["line"], 1);
    assert_eq!(
        finding["image"],
        json!({
            "reference": target,
            "digest": built[0].manifest_digest,
            "platform": "linux/amd64",
            "layer": built[0].layers[1].digest,
            "layer_index": 1,
            "created_by": "COPY .env /app/.env # buildkit",
        })
    );
    assert!(scan_errors(&report).is_empty(), "{report:#}");
}

#[test]
fn keys_in_the_config_are_found_with_their_field() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .env(&format!("OPENAI_API_KEY={PROJECT_KEY}"))
            .label("org.example.key", LEGACY_KEY)
            .cmd(&["/app/run", "--key", PROJECT_KEY_2])
            .entrypoint(&["/bin/sh", "-c", &format!("export K={LEGACY_KEY_2}; exec app")])
            .empty_history("ARG BUILD_TOKEN")
            .layer(base_layer())
            .empty_history(&format!(
                "RUN |1 BUILD_TOKEN={PROJECT_KEY} /bin/sh -c ./build.sh # buildkit"
            ))],
    );
    let target = path_str(&layout);
    let (code, report, _) = scan_json(&mut image_cmd(), &[target]);
    assert_eq!(code, 1);
    let mut found: Vec<(String, String)> = findings(&report)
        .iter()
        .map(|f| {
            assert_eq!(f["image"]["digest"], built[0].manifest_digest, "{f:#}");
            assert_eq!(f["image"]["reference"], target);
            for absent in ["layer", "layer_index", "deleted_in"] {
                assert!(
                    f["image"].get(absent).is_none(),
                    "a config finding has no {absent}: {f:#}"
                );
            }
            (
                f["path"].as_str().expect("path").to_string(),
                f["secret"].as_str().expect("secret").to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        ("<config:Cmd>".to_string(), PROJECT_KEY_2.to_string()),
        ("<config:Entrypoint>".to_string(), LEGACY_KEY_2.to_string()),
        ("<config:Env>".to_string(), PROJECT_KEY.to_string()),
        ("<config:Labels>".to_string(), LEGACY_KEY.to_string()),
        ("<config:history>".to_string(), PROJECT_KEY.to_string()),
    ];
    expected.sort();
    assert_eq!(found, expected, "{report:#}");
}

// ---------------------------------------------------------------------------------------------------------------
// What later layers deleted is still in the image.

#[test]
fn a_file_deleted_by_a_whiteout_is_found_and_marked_deleted() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(
                base_layer()
                    .dir("app")
                    .file("app/.env", env_line(PROJECT_KEY))
                    .dir("old")
                    .file("old/creds.txt", format!("key: {LEGACY_KEY}\n")),
            )
            .layer(
                Layer::new()
                    .file("app/main.py", "print('hello')\n")
                    .created_by("COPY main.py /app/"),
            )
            .layer(
                Layer::new()
                    .whiteout("app/.env")
                    .whiteout("old")
                    .created_by("RUN rm -rf /app/.env /old"),
            )],
    );
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1, "deleted keys are still findings");
    let layers = &built[0].layers;
    for (secret, path) in [(PROJECT_KEY, "app/.env"), (LEGACY_KEY, "old/creds.txt")] {
        let finding = finding_of(&report, secret);
        assert_eq!(finding["path"], path);
        assert_eq!(finding["image"]["layer"], layers[0].digest);
        assert_eq!(finding["image"]["layer_index"], 0);
        assert_eq!(
            finding["image"]["deleted_in"],
            json!({"layer": layers[2].digest, "layer_index": 2, "by": "whiteout"}),
            "{finding:#}"
        );
    }
}

#[test]
fn a_file_hidden_by_an_opaque_directory_is_marked_deleted() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(
                base_layer()
                    .dir("secrets")
                    .file("secrets/key.txt", env_line(PROJECT_KEY)),
            )
            .layer(
                Layer::new()
                    .dir("secrets")
                    .opaque("secrets")
                    .file("secrets/other.txt", "nothing here\n")
                    .created_by("RUN rm -rf /secrets && mkdir /secrets && echo > /secrets/other.txt"),
            )],
    );
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    let finding = finding_of(&report, PROJECT_KEY);
    assert_eq!(finding["path"], "secrets/key.txt");
    assert_eq!(finding["image"]["layer_index"], 0);
    assert_eq!(
        finding["image"]["deleted_in"],
        json!({"layer": built[0].layers[1].digest, "layer_index": 1, "by": "opaque"})
    );
    assert_eq!(
        findings(&report).len(),
        1,
        "the marker and the new file are no findings: {report:#}"
    );
}

#[test]
fn a_file_overwritten_later_is_marked_and_its_new_content_is_not() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(
                base_layer()
                    .dir("config")
                    .file("config/settings.py", format!("KEY = \"{LEGACY_KEY}\"\n")),
            )
            .layer(
                Layer::new()
                    .dir("config")
                    .file("config/settings.py", format!("KEY = \"{LEGACY_KEY_2}\"\n"))
                    .created_by("COPY settings.py /config/"),
            )],
    );
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    let old = finding_of(&report, LEGACY_KEY);
    assert_eq!(old["path"], "config/settings.py");
    assert_eq!(old["image"]["layer_index"], 0);
    assert_eq!(
        old["image"]["deleted_in"],
        json!({"layer": built[0].layers[1].digest, "layer_index": 1, "by": "overwritten"})
    );
    let new = finding_of(&report, LEGACY_KEY_2);
    assert_eq!(new["path"], "config/settings.py");
    assert_eq!(new["image"]["layer_index"], 1);
    assert_eq!(new["image"]["created_by"], "COPY settings.py /config/");
    assert!(new["image"].get("deleted_in").is_none(), "in the final image: {new:#}");
}

// ---------------------------------------------------------------------------------------------------------------
// Compressions and storage formats.

#[test]
fn plain_gzip_and_zstd_layers_are_read() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let keys = [LEGACY_KEY, PROJECT_KEY, PROJECT_KEY_2];
    let compressions = [Compression::None, Compression::Gzip, Compression::Zstd];
    let mut image = Image::new();
    for (i, (key, compression)) in keys.iter().zip(compressions).enumerate() {
        image = image.layer(
            Layer::new()
                .file(&format!("layer{i}/key.env"), env_line(key))
                .compressed(compression),
        );
    }
    let built = write_oci_layout(&layout, &[image]);
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    for (i, key) in keys.iter().enumerate() {
        let finding = finding_of(&report, key);
        assert_eq!(finding["path"], format!("layer{i}/key.env"));
        assert_eq!(finding["image"]["layer"], built[0].layers[i].digest);
        assert_eq!(finding["image"]["layer_index"], i);
    }
}

/// The image every storage format holds in the test below.
fn two_layer_image() -> Image {
    Image::new()
        .env(&format!("OPENAI_API_KEY={PROJECT_KEY_2}"))
        .layer(base_layer().dir("app").file("app/.env", env_line(PROJECT_KEY)))
        .layer(
            Layer::new()
                .whiteout("app/.env")
                .file("app/key.py", format!("K = '{LEGACY_KEY}'\n")),
        )
        .tag("app:1")
}

/// (path, secret, layer index, deleted) of each finding, sorted.
fn summary(report: &Value) -> Vec<(String, String, Option<u64>, bool)> {
    let mut rows: Vec<_> = findings(report)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["secret"].as_str().expect("secret").to_string(),
                f["image"]["layer_index"].as_u64(),
                f["image"].get("deleted_in").is_some(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_storage_format_gives_the_same_findings() {
    let dir = TempDir::new().expect("temp dir");
    let mut expected = vec![
        ("<config:Env>".to_string(), PROJECT_KEY_2.to_string(), None, false),
        ("app/.env".to_string(), PROJECT_KEY.to_string(), Some(0), true),
        ("app/key.py".to_string(), LEGACY_KEY.to_string(), Some(1), false),
    ];
    expected.sort();

    let layout = dir.path().join("layout");
    let oci_tar = dir.path().join("oci.tar");
    let classic = dir.path().join("classic.tar");
    let docker25 = dir.path().join("docker25.tar");
    let built: Vec<(&std::path::Path, Built, bool)> = vec![
        (&layout, write_oci_layout(&layout, &[two_layer_image()]).remove(0), true),
        (&oci_tar, write_oci_tar(&oci_tar, &[two_layer_image()]).remove(0), true),
        (
            &classic,
            write_docker_save(&classic, &[two_layer_image()], DockerFormat::Classic).remove(0),
            false,
        ),
        (
            &docker25,
            write_docker_save(&docker25, &[two_layer_image()], DockerFormat::Docker25).remove(0),
            true,
        ),
    ];
    for (path, built, has_manifest_digest) in built {
        let target = path_str(path);
        let (code, report, output) = scan_json(&mut image_cmd(), &[target]);
        assert_eq!(code, 1, "{target}: {}", stderr(&output));
        assert_eq!(summary(&report), expected, "{target}: {report:#}");
        for finding in findings(&report) {
            assert_eq!(finding["image"]["reference"], target);
            assert!(
                finding["image"]["digest"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("sha256:")),
                "{target}: {finding:#}"
            );
            if has_manifest_digest {
                assert_eq!(finding["image"]["digest"], built.manifest_digest, "{target}");
            }
            if let Some(index) = finding["image"]["layer_index"].as_u64() {
                assert_eq!(
                    finding["image"]["layer"], built.layers[index as usize].digest,
                    "{target}"
                );
            }
        }
        assert!(scan_errors(&report).is_empty(), "{target}: {report:#}");
    }
}

#[test]
fn several_targets_in_one_run() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let save = dir.path().join("save.tar");
    write_oci_layout(
        &layout,
        &[Image::new().layer(Layer::new().file("a.env", env_line(PROJECT_KEY)))],
    );
    write_docker_save(
        &save,
        &[Image::new()
            .layer(Layer::new().file("b.env", env_line(LEGACY_KEY)))
            .tag("b:1")],
        DockerFormat::Classic,
    );
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout), path_str(&save)]);
    assert_eq!(code, 1);
    assert_eq!(
        finding_of(&report, PROJECT_KEY)["image"]["reference"],
        path_str(&layout)
    );
    assert_eq!(finding_of(&report, LEGACY_KEY)["image"]["reference"], path_str(&save));
}

// ---------------------------------------------------------------------------------------------------------------
// Multi-platform images.

fn platform_images() -> Vec<Image> {
    vec![
        Image::new().layer(Layer::new().file("amd64.env", env_line(PROJECT_KEY))),
        Image::new()
            .platform("linux/arm64")
            .layer(Layer::new().file("arm64.env", env_line(LEGACY_KEY))),
        Image::new()
            .platform("linux/arm/v7")
            .layer(Layer::new().file("armv7.env", env_line(PROJECT_KEY_2))),
    ]
}

#[test]
fn a_multi_platform_index_scans_the_machines_platform_by_default() {
    let host = host_platform();
    let key = match host.as_str() {
        "linux/amd64" => PROJECT_KEY,
        "linux/arm64" => LEGACY_KEY,
        _ => return, // no image of this machine's platform in the index
    };
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout_index(&layout, &platform_images(), "multi");
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [key.to_string()], "{report:#}");
    let finding = finding_of(&report, key);
    assert_eq!(finding["image"]["platform"], host);
    assert_eq!(finding["image"]["digest"], built.image(&host).manifest_digest);
}

#[test]
fn platform_picks_one_image_of_an_index() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout_index(&layout, &platform_images(), "multi");
    let target = path_str(&layout);

    let (code, report, _) = scan_json(&mut image_cmd(), &[target, "--platform", "linux/arm64"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [LEGACY_KEY.to_string()], "{report:#}");
    let finding = finding_of(&report, LEGACY_KEY);
    assert_eq!(finding["path"], "arm64.env");
    assert_eq!(finding["image"]["platform"], "linux/arm64");
    assert_eq!(finding["image"]["digest"], built.image("linux/arm64").manifest_digest);
    assert_eq!(finding["image"]["layer"], built.image("linux/arm64").layers[0].digest);

    let (code, report, _) = scan_json(&mut image_cmd(), &[target, "--platform", "linux/arm/v7"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY_2.to_string()], "{report:#}");
    assert_eq!(finding_of(&report, PROJECT_KEY_2)["image"]["platform"], "linux/arm/v7");

    // A platform the index does not have is an error about the target, not an empty scan.
    let (code, _, output) = scan_json(&mut image_cmd(), &[target, "--platform", "linux/s390x"]);
    assert_eq!(code, 2);
    assert!(stderr(&output).contains("linux/s390x"), "{}", stderr(&output));
}

#[test]
fn a_registry_index_gives_the_chosen_platform() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    let index = build_index(&platform_images());
    registry.push_index("multi", "latest", &index);
    let reference = registry.reference("multi", "latest");
    let (code, report, _) = scan_json(&mut image_cmd(), &[&reference, "--platform", "linux/arm64"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [LEGACY_KEY.to_string()], "{report:#}");
    let finding = finding_of(&report, LEGACY_KEY);
    assert_eq!(finding["image"]["platform"], "linux/arm64");
    assert_eq!(finding["image"]["digest"], index.image("linux/arm64").manifest_digest);
    let amd64 = index.image("linux/amd64").layer_digests();
    assert_eq!(
        registry.blob_gets(&amd64[0]),
        0,
        "other platforms' layers are not fetched"
    );

    let (code, report, _) = scan_json(&mut image_cmd(), &[&reference, "--all-platforms"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), sorted(&[PROJECT_KEY, LEGACY_KEY, PROJECT_KEY_2]));
}

#[test]
fn all_platforms_scans_each_and_labels_its_findings() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout_index(&layout, &platform_images(), "multi");
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout), "--all-platforms"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), sorted(&[PROJECT_KEY, LEGACY_KEY, PROJECT_KEY_2]));
    for (key, platform) in [
        (PROJECT_KEY, "linux/amd64"),
        (LEGACY_KEY, "linux/arm64"),
        (PROJECT_KEY_2, "linux/arm/v7"),
    ] {
        let finding = finding_of(&report, key);
        assert_eq!(finding["image"]["platform"], platform);
        assert_eq!(finding["image"]["digest"], built.image(platform).manifest_digest);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Registries.

#[test]
fn an_anonymous_registry_pull_by_tag_and_by_digest() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    registry.redirect_blobs();
    let built = Image::new()
        .env(&format!("K={LEGACY_KEY}"))
        .layer(base_layer())
        .layer(Layer::new().file("srv/app.env", env_line(PROJECT_KEY)).gzip())
        .build();
    registry.push("team/app", "1.0", &built);
    for reference in [
        registry.reference("team/app", "1.0"),
        registry.reference_by_digest("team/app", &built.manifest_digest),
    ] {
        let (code, report, output) = scan_json(&mut image_cmd(), &[&reference]);
        assert_eq!(code, 1, "{reference}: {}", stderr(&output));
        let finding = finding_of(&report, PROJECT_KEY);
        assert_eq!(finding["path"], "srv/app.env");
        assert_eq!(finding["image"]["reference"], reference.as_str());
        assert_eq!(finding["image"]["digest"], built.manifest_digest);
        assert_eq!(finding["image"]["layer"], built.layers[1].digest);
        assert_eq!(finding["image"]["layer_index"], 1);
        assert_eq!(finding_of(&report, LEGACY_KEY)["path"], "<config:Env>");
    }
    assert!(
        registry.requests().iter().all(|r| r.authorization.is_none()),
        "no credentials sent: {:#?}",
        registry.requests()
    );
}

#[test]
fn a_layer_shared_by_two_images_is_fetched_once_and_reported_for_each() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    let shared = Layer::new().file("etc/base.env", env_line(PROJECT_KEY)).gzip();
    let one = Image::new()
        .layer(shared.clone())
        .layer(Layer::new().file("one.txt", "1"))
        .build();
    let two = Image::new()
        .layer(shared)
        .layer(Layer::new().file("two.txt", "2"))
        .build();
    assert_eq!(one.layer_digests()[0], two.layer_digests()[0], "the same base layer");
    registry.push("one", "1", &one);
    registry.push("two", "1", &two);
    let (ref_one, ref_two) = (registry.reference("one", "1"), registry.reference("two", "1"));
    let (code, report, _) = scan_json(&mut image_cmd(), &[&ref_one, &ref_two]);
    assert_eq!(code, 1);
    assert_eq!(
        registry.blob_gets(&one.layers[0].digest),
        1,
        "{:#?}",
        registry.requests()
    );
    assert_eq!(registry.blob_gets(&one.layers[1].digest), 1);
    assert_eq!(registry.blob_gets(&two.layers[1].digest), 1);
    let mut seen: Vec<(String, String)> = findings(&report)
        .iter()
        .map(|f| {
            assert_eq!(f["secret"], PROJECT_KEY);
            assert_eq!(f["path"], "etc/base.env");
            assert_eq!(f["image"]["layer"], one.layers[0].digest);
            (
                f["image"]["reference"].as_str().expect("reference").to_string(),
                f["image"]["digest"].as_str().expect("digest").to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (ref_one, one.manifest_digest.clone()),
        (ref_two, two.manifest_digest.clone()),
    ];
    expected.sort();
    assert_eq!(seen, expected, "one finding per image");
}

#[test]
fn a_429_and_a_500_are_retried() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    let built = Image::new()
        .layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)).gzip())
        .build();
    registry.push("flaky", "1", &built);
    registry.fail_once("/manifests/1", 429);
    registry.fail_once(&built.layers[0].digest, 500);
    let started = Instant::now();
    let (code, report, output) = scan_json(&mut image_cmd(), &[&registry.reference("flaky", "1")]);
    assert_eq!(code, 1, "{}", stderr(&output));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 is honoured"
    );
    assert_eq!(finding_of(&report, PROJECT_KEY)["path"], "app/.env");
    assert!(scan_errors(&report).is_empty(), "{report:#}");
    let gets = |fragment: &str| {
        registry
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains(fragment))
            .count()
    };
    assert!(gets("/manifests/1") >= 2, "{:#?}", registry.requests());
    assert_eq!(gets(&built.layers[0].digest), 2, "{:#?}", registry.requests());
}

/// Fails when the password (or the Basic credential made of it) is anywhere in `text`.
fn assert_no_password(text: &str, user: &str, password: &str, what: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    assert!(!text.contains(password), "{what} holds the password:\n{text}");
    assert!(!text.contains(&basic), "{what} holds the Basic credential:\n{text}");
    assert!(!text.contains(TOKEN), "{what} holds the registry token:\n{text}");
}

/// Scans `reference` with `-o report.json`, and checks the password is in none of stdout, stderr and report.
fn scan_with_credentials(cmd: &mut Command, reference: &str, user: &str, password: &str) -> (i32, Value) {
    let dir = TempDir::new().expect("temp dir");
    let report_path = dir.path().join("report.json");
    let output = run(cmd.args([reference, "-f", "json", "--show-secrets", "-o", path_str(&report_path)]));
    let code = code(&output);
    assert_ne!(code, 101, "keyhound panicked:\n{}", stderr(&output));
    assert_no_password(&stdout(&output), user, password, "stdout");
    assert_no_password(&stderr(&output), user, password, "stderr");
    let report_text = fs::read_to_string(&report_path).unwrap_or_default();
    assert_no_password(&report_text, user, password, "the report");
    let report = if report_text.is_empty() {
        Value::Null
    } else {
        json_report(&report_text)
    };
    (code, report)
}

fn registry_with_key(auth: Auth) -> (FakeRegistry, Built) {
    let registry = FakeRegistry::start(auth);
    let built = Image::new()
        .layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)).gzip())
        .build();
    registry.push("private/app", "2", &built);
    (registry, built)
}

#[test]
fn bearer_token_auth_with_credentials_from_the_environment() {
    let (user, password) = ("robot$ci", "pw-Ee3xq-never-printed");
    let (registry, built) = registry_with_key(Auth::Bearer(Some((user.into(), password.into()))));
    let reference = registry.reference("private/app", "2");
    let (code, report) = scan_with_credentials(
        image_cmd()
            .env("KEYHOUND_REGISTRY_USERNAME", user)
            .env("KEYHOUND_REGISTRY_PASSWORD", password),
        &reference,
        user,
        password,
    );
    assert_eq!(code, 1);
    assert_eq!(
        finding_of(&report, PROJECT_KEY)["image"]["layer"],
        built.layers[0].digest
    );
    let requests = registry.requests();
    let token_requests: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/token")).collect();
    assert!(
        !token_requests.is_empty(),
        "the token endpoint was asked: {requests:#?}"
    );
    for request in &token_requests {
        assert!(request.path.contains("service=fake"), "{request:?}");
        assert!(
            request.path.contains("repository%3Aprivate%2Fapp%3Apull")
                || request.path.contains("repository:private/app:pull"),
            "{request:?}"
        );
    }
    let blob = requests
        .iter()
        .find(|r| r.path.ends_with(&built.layers[0].digest))
        .expect("the layer was fetched");
    assert_eq!(blob.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
}

#[test]
fn basic_auth_with_credentials_from_the_docker_config() {
    let (user, password) = ("bob", "pw-Zq81-from-docker-config");
    let (registry, _) = registry_with_key(Auth::Basic(user.into(), password.into()));
    let config = TempDir::new().expect("temp dir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    fs::write(
        config.path().join("config.json"),
        serde_json::to_vec(&json!({"auths": {registry.host.clone(): {"auth": auth}}})).expect("JSON"),
    )
    .expect("write config.json");
    let reference = registry.reference("private/app", "2");
    let (code, report) = scan_with_credentials(
        image_cmd().env("DOCKER_CONFIG", config.path()),
        &reference,
        user,
        password,
    );
    assert_eq!(code, 1);
    assert_eq!(finding_of(&report, PROJECT_KEY)["path"], "app/.env");
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.path.contains("/blobs/") && r.authorization.as_deref() == Some(&format!("Basic {auth}"))),
        "{:#?}",
        registry.requests()
    );
}

#[test]
fn the_bearer_flow_from_the_docker_config_and_anonymous_tokens() {
    // Credentials in the docker config reach the token endpoint.
    let (user, password) = ("carol", "pw-Kd02-token-flow");
    let (registry, _) = registry_with_key(Auth::Bearer(Some((user.into(), password.into()))));
    let config = TempDir::new().expect("temp dir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    fs::write(
        config.path().join("config.json"),
        serde_json::to_vec(&json!({"auths": {registry.host.clone(): {"auth": auth}}})).expect("JSON"),
    )
    .expect("write config.json");
    let reference = registry.reference("private/app", "2");
    let (code, _) = scan_with_credentials(
        image_cmd().env("DOCKER_CONFIG", config.path()),
        &reference,
        user,
        password,
    );
    assert_eq!(code, 1);

    // A public image behind a token service that hands tokens to anyone (as Docker Hub does).
    let (registry, _) = registry_with_key(Auth::Bearer(None));
    let (code, report, _) = scan_json(&mut image_cmd(), &[&registry.reference("private/app", "2")]);
    assert_eq!(code, 1);
    assert_eq!(finding_of(&report, PROJECT_KEY)["path"], "app/.env");
}

#[test]
fn wrong_credentials_fail_the_target_without_printing_them() {
    let (user, password) = ("dave", "pw-wrong-Yt55");
    let (registry, _) = registry_with_key(Auth::Bearer(Some((user.into(), "the-right-one".into()))));
    let reference = registry.reference("private/app", "2");
    let (code, _) = scan_with_credentials(
        image_cmd()
            .env("KEYHOUND_REGISTRY_USERNAME", user)
            .env("KEYHOUND_REGISTRY_PASSWORD", password),
        &reference,
        user,
        password,
    );
    assert_eq!(code, 2, "a registry that refuses the pull is a bad target");
}

#[test]
fn credentials_are_never_taken_from_the_command_line() {
    let (registry, _) = registry_with_key(Auth::Basic("eve".into(), "pw-cli".into()));
    let output = run(image_cmd().args([
        &registry.reference("private/app", "2"),
        "--username",
        "eve",
        "--password",
        "pw-cli",
    ]));
    assert_eq!(code(&output), 2, "no such options");
    assert!(
        registry.requests().is_empty(),
        "nothing was fetched: {:#?}",
        registry.requests()
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Output formats and exit codes.

#[test]
fn sarif_of_an_image_scan_validates_and_uses_logical_locations() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .env(&format!("K={LEGACY_KEY}"))
            .layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)))],
    );
    let output = run(image_cmd().args([path_str(&layout), "-f", "sarif"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let sarif = stdout(&output);
    assert_valid_sarif(&sarif);
    let doc: Value = serde_json::from_str(&sarif).expect("JSON");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for result in results {
        let logical = &result["locations"][0]["logicalLocations"];
        assert!(
            logical.as_array().is_some_and(|l| !l.is_empty()),
            "a logical location: {result:#}"
        );
    }
    let text = serde_json::to_string(&doc["runs"][0]["results"]).expect("JSON");
    assert!(
        text.contains(hex_of(&built[0].layers[0].digest)),
        "the layer is named: {text}"
    );
    assert!(
        text.contains("<config:Env>") || text.contains("config:Env"),
        "the config field is named: {text}"
    );
    assert!(!text.contains(PROJECT_KEY), "secrets redacted by default");
}

#[test]
fn jsonl_and_human_output() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    write_oci_layout(
        &layout,
        &[Image::new().layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)))],
    );
    let output = run(image_cmd().args([path_str(&layout), "-f", "jsonl", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    let lines = jsonl_findings(&stdout(&output));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], "app/.env");
    assert_eq!(lines[0]["image"]["layer_index"], 0);

    let output = run(image_cmd().args([path_str(&layout)]));
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.contains("app/.env"), "{text}");
    assert!(!text.contains(PROJECT_KEY), "redacted by default: {text}");
}

#[test]
fn exit_codes() {
    let dir = TempDir::new().expect("temp dir");
    let clean = dir.path().join("clean");
    write_oci_layout(&clean, &[Image::new().layer(base_layer())]);
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&clean)]);
    assert_eq!(code, 0);
    assert!(findings(&report).is_empty());

    let missing = dir.path().join("missing.tar");
    let (code, _, output) = scan_json(&mut image_cmd(), &[path_str(&missing)]);
    assert_eq!(code, 2);
    assert!(stderr(&output).contains("missing.tar"), "{}", stderr(&output));

    let broken = dir.path().join("broken");
    write_oci_layout(&broken, &[Image::new().layer(base_layer())]);
    fs::write(broken.join("index.json"), "{\"schemaVersion\": 2, \"manifests\": [").expect("write");
    let (code, _, output) = scan_json(&mut image_cmd(), &[path_str(&broken)]);
    assert_eq!(code, 2);
    assert!(stderr(&output).contains(path_str(&broken)), "{}", stderr(&output));

    // A manifest blob that is not JSON (stored under its true digest, so only the parse fails).
    let garbage_manifest = dir.path().join("garbage-manifest");
    let built = write_oci_layout(&garbage_manifest, &[Image::new().layer(base_layer())]);
    let garbage = b"not a manifest".to_vec();
    let garbage_digest = crate::image_builder::digest(&garbage);
    fs::write(
        garbage_manifest.join("blobs/sha256").join(hex_of(&garbage_digest)),
        &garbage,
    )
    .expect("write");
    let index = fs::read_to_string(garbage_manifest.join("index.json")).expect("read");
    let index = index.replace(&built[0].manifest_digest, &garbage_digest).replace(
        &format!("\"size\":{}", built[0].manifest.len()),
        &format!("\"size\":{}", garbage.len()),
    );
    fs::write(garbage_manifest.join("index.json"), index).expect("write");
    let (code, _, output) = scan_json(&mut image_cmd(), &[path_str(&garbage_manifest)]);
    assert_eq!(code, 2);
    assert!(
        stderr(&output).contains(path_str(&garbage_manifest)),
        "{}",
        stderr(&output)
    );

    let not_an_image = dir.path().join("not-an-image.tar");
    fs::write(&not_an_image, Layer::new().file("README", "just a tar").tar()).expect("write");
    let (code, _, output) = scan_json(&mut image_cmd(), &[path_str(&not_an_image)]);
    assert_eq!(code, 2);
    assert!(stderr(&output).contains("not-an-image.tar"), "{}", stderr(&output));

    let registry = FakeRegistry::start(Auth::Anonymous);
    let unknown = registry.reference("nothing", "here");
    let (code, _, output) = scan_json(&mut image_cmd(), &[&unknown]);
    assert_eq!(code, 2);
    assert!(stderr(&output).contains(&unknown), "{}", stderr(&output));

    // --exit-code changes the code of a run with findings, as for `scan`.
    let found = dir.path().join("found");
    write_oci_layout(
        &found,
        &[Image::new().layer(Layer::new().file("k.env", env_line(PROJECT_KEY)))],
    );
    let output = run(image_cmd().args([path_str(&found), "--exit-code", "0"]));
    assert_eq!(crate::common::code(&output), 0, "{}", stderr(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile images: bounded time and memory, a clear scan error, nothing lost of what was already found.

#[test]
fn hostile_entry_names_are_reported_escaped() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let name = b"../../etc/e\x1b]0;pwned\x07.env";
    write_oci_layout(
        &layout,
        &[Image::new().layer(
            Layer::new()
                .raw(RawEntry::file(name, env_line(PROJECT_KEY).as_bytes()))
                .raw(RawEntry::file(b"/abs/\x1b[2Jkey.env", env_line(LEGACY_KEY).as_bytes())),
        )],
    );
    let output = run(image_cmd().args([path_str(&layout), "--color", "never"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    for text in [stdout(&output), stderr(&output)] {
        let control = text.chars().find(|&c| c.is_control() && c != '\n');
        assert!(
            control.is_none(),
            "a raw control character {control:?} on the terminal:\n{text}"
        );
    }
    assert!(
        stdout(&output).contains("\\x1b]0;pwned\\x07.env"),
        "{}",
        stdout(&output)
    );

    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    let path = finding_of(&report, PROJECT_KEY)["path"]
        .as_str()
        .expect("path")
        .to_string();
    assert!(path.ends_with("e\u{1b}]0;pwned\u{7}.env"), "{path:?}");
    let path = finding_of(&report, LEGACY_KEY)["path"]
        .as_str()
        .expect("path")
        .to_string();
    assert!(!path.starts_with('/'), "no leading slash: {path:?}");
}

#[test]
fn a_tar_entry_whose_size_lies_is_a_scan_error() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
            .layer(
                Layer::new()
                    .file("early.env", env_line(LEGACY_KEY))
                    .raw(RawEntry::file(b"liar.bin", b"short").claiming(1 << 40)),
            )],
    );
    let started = Instant::now();
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code, 1);
    assert_eq!(
        secrets(&report),
        sorted(&[PROJECT_KEY, LEGACY_KEY]),
        "both kept: {report:#}"
    );
    assert_scan_error_naming(&report, hex_of(&built[0].layers[1].digest));
}

#[test]
fn a_layer_descriptor_claiming_gigabytes_is_bounded() {
    let image = Image::new()
        .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
        .layer(Layer::new().file("small.txt", "small").claiming_size(16 << 30));
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(&layout, std::slice::from_ref(&image));
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY.to_string()]);
    assert_scan_error_naming(&report, hex_of(&built[0].layers[1].digest));

    let registry = FakeRegistry::start(Auth::Anonymous);
    let built = image.build();
    registry.push("huge", "1", &built);
    let started = Instant::now();
    let (code, report, _) = scan_json(&mut image_cmd(), &[&registry.reference("huge", "1")]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY.to_string()]);
    assert_scan_error_naming(&report, hex_of(&built.layers[1].digest));
}

#[test]
fn a_gzip_bomb_layer_ends_in_a_scan_error_and_keeps_earlier_findings() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    // 2 GiB of zeros in about 2 MiB of gzip, against a layer budget of 64 MiB (the default budget is sized for
    // real layers of several GiB, too slow to reach in a test).
    let built = write_oci_layout(
        &layout,
        &[Image::new()
            .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
            .layer(
                Layer::new()
                    .file("early.env", env_line(LEGACY_KEY))
                    .gzip_bomb("zeros.bin", 2 << 10),
            )],
    );
    let started = Instant::now();
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout), "--max-layer-size", "64MiB"]);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(code, 1);
    assert_eq!(
        secrets(&report),
        sorted(&[PROJECT_KEY, LEGACY_KEY]),
        "both kept: {report:#}"
    );
    assert_scan_error_naming(&report, hex_of(&built[0].layers[1].digest));
}

#[test]
fn a_self_referencing_index_is_a_clear_error() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let self_digest = write_self_referencing_layout(&layout);
    let target = path_str(&layout);
    let (code, report, output) = scan_json(&mut image_cmd(), &[target]);
    assert_clear_failure(code, &report, &output, target, hex_of(&self_digest));

    let registry = FakeRegistry::start(Auth::Anonymous);
    let self_digest = registry.push_self_referencing("loop", "1");
    let reference = registry.reference("loop", "1");
    let (code, report, output) = scan_json(&mut image_cmd(), &[&reference]);
    assert_clear_failure(code, &report, &output, &reference, hex_of(&self_digest));
    let manifest_gets = registry
        .requests()
        .iter()
        .filter(|r| r.path.contains("/manifests/"))
        .count();
    assert!(manifest_gets < 10, "no loop: {manifest_gets} manifest requests");
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_a_scan_error() {
    let image = Image::new()
        .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
        .layer(Layer::new().file("other.txt", "clean").gzip());
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout(&layout, std::slice::from_ref(&image));
    let blob_path = layout.join("blobs/sha256").join(hex_of(&built[0].layers[1].digest));
    let mut blob = fs::read(&blob_path).expect("read");
    let last = blob.len() - 1;
    blob[last] ^= 0x55;
    fs::write(&blob_path, blob).expect("write");
    let (code, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout)]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY.to_string()]);
    assert_scan_error_naming(&report, hex_of(&built[0].layers[1].digest));

    let registry = FakeRegistry::start(Auth::Anonymous);
    let built = image.build();
    registry.push("corrupt", "1", &built);
    registry.corrupt_blob(&built.layers[1].digest);
    let (code, report, _) = scan_json(&mut image_cmd(), &[&registry.reference("corrupt", "1")]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY.to_string()]);
    assert_scan_error_naming(&report, hex_of(&built.layers[1].digest));
}

#[test]
fn a_slow_registry_blob_ends_within_the_request_timeout() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    let built = Image::new()
        .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
        .layer(Layer::new().file("slow.txt", vec![b'x'; 4096]))
        .build();
    registry.push("slow", "1", &built);
    registry.slow_blob(&built.layers[1].digest, Duration::from_secs(45));
    assert_cut_off(&registry.reference("slow", "1"), &built.layers[1].digest);
}

/// A scan of `reference` with a 2 s request timeout ends well before the registry would, keeps the key of the
/// good layer, and names the layer `digest` the registry never finished sending in a scan error.
fn assert_cut_off(reference: &str, digest: &str) {
    let started = Instant::now();
    let (code, report, _) = scan_json(&mut image_cmd(), &[reference, "--request-timeout", "2"]);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "bounded by the request timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(code, 1);
    assert_eq!(secrets(&report), [PROJECT_KEY.to_string()]);
    assert_scan_error_naming(&report, hex_of(digest));
}

#[test]
fn an_endless_registry_blob_ends_within_the_request_timeout() {
    let registry = FakeRegistry::start(Auth::Anonymous);
    // The endless layer is a tar whose one entry claims a terabyte: the fake streams its header, then `A`s.
    let built = Image::new()
        .layer(Layer::new().file("good.env", env_line(PROJECT_KEY)))
        .layer(
            Layer::new()
                .raw(RawEntry::file(b"endless.bin", b"").claiming(1 << 40))
                .without_end(),
        )
        .build();
    registry.push("endless", "1", &built);
    registry.endless_blob(&built.layers[1].digest, Duration::from_secs(60));
    assert_cut_off(&registry.reference("endless", "1"), &built.layers[1].digest);
}

// ---------------------------------------------------------------------------------------------------------------
// Naming images: files that are not there, transports, compressed archives, archives of some platforms.

#[test]
fn a_file_name_that_does_not_exist_is_never_taken_for_a_registry_image() {
    let dir = TempDir::new().expect("temp dir");
    for target in ["app.tar", "./image", "images/app.tar.gz", "oci:/nonexistent/layout"] {
        let output = run(image_cmd().current_dir(dir.path()).arg(target));
        assert_eq!(code(&output), 2, "{target}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(target) && stderr(&output).contains("no such file or directory"),
            "{target}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn skopeo_transports_name_archives_layouts_and_registry_images() {
    let dir = TempDir::new().expect("temp dir");
    let image = Image::new().layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)));
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, std::slice::from_ref(&image));
    let archive = dir.path().join("app.tar");
    write_docker_save(&archive, std::slice::from_ref(&image), DockerFormat::Classic);
    let registry = FakeRegistry::start(Auth::Anonymous);
    registry.push("team/app", "1", &image.build());
    for target in [
        format!("oci:{}", path_str(&layout)),
        format!("docker-archive:{}", path_str(&archive)),
        format!("docker://{}", registry.reference("team/app", "1")),
    ] {
        let (code, report, output) = scan_json(&mut image_cmd(), &[&target]);
        assert_eq!(code, 1, "{target}: {}", stderr(&output));
        assert_eq!(finding_of(&report, PROJECT_KEY)["path"], "app/.env");
        assert_eq!(finding_of(&report, PROJECT_KEY)["image"]["reference"], target.as_str());
    }
}

#[test]
fn a_compressed_archive_is_refused_with_what_to_do() {
    let dir = TempDir::new().expect("temp dir");
    let archive = dir.path().join("app.tar");
    let image = Image::new().layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)));
    write_docker_save(&archive, &[image], DockerFormat::Classic);
    let gzipped = dir.path().join("app.tar.gz");
    fs::write(
        &gzipped,
        crate::image_builder::gzip(&fs::read(&archive).expect("archive")),
    )
    .expect("write");
    let output = run(image_cmd().arg(&gzipped));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("decompress it first"), "{}", stderr(&output));
}

#[test]
fn an_archive_without_the_chosen_platforms_image_says_which_it_holds() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    let built = write_oci_layout_index(&layout, &platform_images(), "multi");
    // As `docker save` with the containerd image store writes it: the index names every platform, the archive
    // holds one.
    for platform in ["linux/amd64", "linux/arm/v7"] {
        let digest = &built.image(platform).manifest_digest;
        fs::remove_file(layout.join("blobs/sha256").join(hex_of(digest))).expect("remove a manifest");
    }
    let (status, report, _) = scan_json(&mut image_cmd(), &[path_str(&layout), "--platform", "linux/arm64"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&report), [LEGACY_KEY.to_string()]);
    let output = run(image_cmd().arg(&layout).args(["--platform", "linux/amd64"]));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("linux/arm64") && stderr(&output).contains("lacks the images of linux/amd64"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn image_reports_merge_and_take_a_baseline() {
    let dir = TempDir::new().expect("temp dir");
    let base = Image::new().layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)));
    let top = Image::new()
        .layer(Layer::new().file("app/.env", env_line(PROJECT_KEY)))
        .layer(Layer::new().whiteout("app/.env"));
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    write_oci_layout(&one, &[base]);
    write_oci_layout(&two, &[top]);
    let report = dir.path().join("report.json");
    let baseline = dir.path().join("baseline.json");
    let output = run(image_cmd()
        .arg(&one)
        .arg(&two)
        .args(["-f", "json", "-o"])
        .arg(&report)
        .arg("--write-baseline")
        .arg(&baseline));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    // Two images, one layer blob between them: the key is reported in each.
    let written = json_report(&fs::read_to_string(&report).expect("report"));
    assert_eq!(findings(&written).len(), 2, "{written:#}");
    let merged = run(keyhound().arg("merge").arg(&report).args(["-f", "json"]));
    let merged = json_report(&stdout(&merged));
    assert_eq!(findings(&merged).len(), 2);
    let deleted: Vec<Value> = findings(&merged)
        .iter()
        .map(|f| f["image"]["deleted_in"]["by"].clone())
        .filter(|by| !by.is_null())
        .collect();
    assert_eq!(deleted, [json!("whiteout")], "{merged:#}");
    let human = run(keyhound().arg("merge").arg(&report));
    assert!(
        stdout(&human).contains("deleted by a whiteout in layer 1"),
        "{}",
        stdout(&human)
    );
    let again = run(image_cmd().arg(&one).arg(&two).arg("--baseline").arg(&baseline));
    assert_eq!(code(&again), 0, "{}", stderr(&again));
}

#[test]
fn verify_probes_keys_found_in_images() {
    let dir = TempDir::new().expect("temp dir");
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[Image::new().env(&format!("OPENAI_API_KEY={PROJECT_KEY}"))]);
    // The provider is a closed port (see `keyhound()`): the key is probed, and its status is unknown.
    let (code, report, output) = scan_json(&mut image_cmd(), &[path_str(&layout), "--verify"]);
    assert_eq!(code, 1, "{}", stderr(&output));
    let finding = finding_of(&report, PROJECT_KEY);
    assert_eq!(finding["path"], "<config:Env>");
    assert_eq!(finding["verification"]["status"], "unknown", "{finding:#}");
}
