//! The fan-out files a team runs an organisation audit with: the Kubernetes Indexed Job, the GitLab pipeline and
//! the reusable GitHub workflow. Each is checked as its engine would read it: the Job against Kubernetes' own
//! schema (`kubernetes-validate --strict`), the pipelines' YAML for the keys the engines act on.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::root;

/// The YAML documents of `path`, as JSON, read by Python's PyYAML (installed by .ci/run).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 runs (the test needs Python with PyYAML: pip install pyyaml)");
    assert!(
        output.status.success(),
        "{} is not YAML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from PyYAML")
}

/// Runs `kubernetes-validate --strict` (PyPI `kubernetes-validate`, installed by .ci/run) on `path`.
fn kubernetes_validate(path: &Path) -> std::process::Output {
    Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .arg(path)
        .output()
        .expect("kubernetes-validate runs (pip install kubernetes-validate)")
}

const JOB: &str = "deploy/kubernetes/org-audit-job.yaml";

#[test]
fn the_kubernetes_job_validates_against_the_job_schema() {
    let output = kubernetes_validate(&root().join(JOB));
    assert!(
        output.status.success(),
        "{JOB} does not validate:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_schema_check_catches_a_misspelt_job_field() {
    // The check above could pass for a file nothing reads: a wrong field name must fail it.
    let text = std::fs::read_to_string(root().join(JOB)).expect("the job manifest");
    let broken = text.replacen("backoffLimitPerIndex:", "backoffLimitPerIdx:", 1);
    assert_ne!(text, broken);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, broken).expect("write");
    assert!(!kubernetes_validate(&path).status.success());
}

#[test]
fn the_kubernetes_job_is_indexed_and_shards_by_its_completion_index() {
    let documents = yaml_documents(&root().join(JOB));
    let job = documents
        .iter()
        .find(|d| d["kind"] == "Job")
        .expect("a Job in the manifest");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert!(
        spec["backoffLimitPerIndex"].as_u64().is_some(),
        "each shard retried on its own"
    );
    let container = &spec["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().expect("env");
    let shards = env
        .iter()
        .find(|e| e["name"] == "SHARDS")
        .and_then(|e| e["value"].as_str())
        .expect("a SHARDS variable");
    assert_eq!(
        spec["completions"].as_u64().map(|n| n.to_string()).as_deref(),
        Some(shards),
        "one pod per shard"
    );
    let script = container["args"][0].as_str().expect("the pod's script");
    assert!(script.contains("--shard-count \"$SHARDS\""), "{script}");
    assert!(
        script.contains("$JOB_COMPLETION_INDEX"),
        "each shard writes its own report: {script}"
    );
    assert!(
        env.iter()
            .any(|e| e["name"] == "GITHUB_TOKEN" && e["valueFrom"]["secretKeyRef"].is_object()),
        "the token comes from a Secret, never from the manifest"
    );
}

#[test]
fn the_gitlab_pipeline_fans_out_with_parallel_and_merges() {
    let pipeline = &yaml_documents(&root().join("ci/gitlab/org-audit.gitlab-ci.yml"))[0];
    let audit = &pipeline["keyhound-audit"];
    let parallel = audit["parallel"].as_u64().expect("parallel: N");
    assert!(
        (2..=200).contains(&parallel),
        "GitLab allows 2 to 200 parallel jobs: {parallel}"
    );
    let script: Vec<&str> = audit["script"]
        .as_array()
        .expect("script")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(script.iter().any(|line| line.contains("keyhound org gitlab")));
    assert!(script.iter().any(|line| line.contains("report-$CI_NODE_INDEX.json")));
    assert_eq!(
        audit["artifacts"]["when"], "always",
        "a shard's report is kept even when it failed"
    );
    let report = &pipeline["keyhound-report"];
    assert_eq!(report["needs"], serde_json::json!(["keyhound-audit"]));
    assert!(report["script"].as_array().expect("script").iter().any(|line| {
        line.as_str()
            .is_some_and(|l| l.contains("keyhound merge report-*.json"))
    }));
}

/// The reusable workflow, as GitHub reads it (PyYAML reads the key `on` as `true`, as YAML 1.1 says).
fn org_workflow() -> Value {
    yaml_documents(&root().join(".github/workflows/org-audit.yml"))
        .into_iter()
        .next()
        .expect("one document")
}

#[test]
fn the_github_workflow_is_reusable_and_fans_out_on_the_matrix_keyhound_prints() {
    let workflow = org_workflow();
    let on = &workflow["true"];
    assert!(on["workflow_call"]["inputs"]["owner"]["required"] == true, "{on:#}");
    let jobs = &workflow["jobs"];
    let enumerate = jobs["enumerate"]["steps"].to_string();
    assert!(enumerate.contains("keyhound org github"), "{enumerate}");
    assert!(enumerate.contains("--matrix"), "{enumerate}");
    let scan = &jobs["scan"];
    assert_eq!(scan["needs"], "enumerate");
    assert_eq!(
        scan["strategy"]["matrix"],
        "${{ fromJSON(needs.enumerate.outputs.matrix) }}"
    );
    assert_eq!(
        scan["strategy"]["fail-fast"], false,
        "one failed shard does not cancel the others"
    );
    let steps = scan["steps"].to_string();
    for key in ["matrix.shard", "matrix.repos", "matrix.count"] {
        assert!(steps.contains(key), "the scan job reads {key}: {steps}");
    }
    // Every `matrix.KEY` the job reads is one `keyhound org --matrix` prints (tests/cli/org.rs checks those).
    for (at, _) in steps.match_indices("matrix.") {
        let key: String = steps[at + "matrix.".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            ["shard", "count", "size", "repos"].contains(&key.as_str()),
            "the matrix has no `{key}`"
        );
    }
    assert!(steps.contains("keyhound git --repos-from"), "{steps}");
    assert!(steps.contains("actions/upload-artifact@v4"), "{steps}");
    let report = jobs["report"]["steps"].to_string();
    assert!(
        report.contains("keyhound merge reports/*.json --format sarif"),
        "{report}"
    );
    assert!(report.contains("GITHUB_STEP_SUMMARY"), "{report}");
    assert_eq!(jobs["report"]["permissions"]["security-events"], "write");
}
