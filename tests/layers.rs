//! The house rule of `src/lib.rs`: a module imports only modules of its own layer or below, and two modules of
//! one layer never import each other (nor run in a longer circle).
//!
//! Every `src/**/*.rs` file is read as text; its `crate::X` references (in `use` lines and in paths, grouped
//! `crate::{X, Y}` too) are the imports of its top-level module. Comments, string and character literals and
//! `#[cfg(test)]` items (test modules, whole test-only files) are left out: tests may reach up for fixtures.
//! The one table of layers is [`LAYERS`]; the module map in `src/lib.rs` must say the same.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer, bottom first. Keep in sync with the map in `src/lib.rs`
/// (the test [`lib_rs_map_matches_the_table`] checks it).
const LAYERS: &[(&str, u32)] = &[
    // 0: values
    ("severity", 0),
    ("finding", 0),
    ("inspection", 0),
    ("decoder", 0),
    ("format", 0),
    ("paths", 0),
    ("invisible", 0),
    ("exit", 0),
    ("progress", 0),
    // 1: untrusted text
    ("text", 1),
    // 2: input and messages
    ("input", 2),
    ("output_file", 2),
    ("diag", 2),
    ("counts", 2),
    ("http", 2),
    // 3: rules
    ("rules", 3),
    // 4: matcher
    ("scan", 4),
    // 5: content stage
    ("content", 5),
    // 6: configuration
    ("config", 6),
    // 7: sources
    ("source", 7),
    ("remote", 7),
    // 8: reports and filters
    ("report", 8),
    ("filter", 8),
    // 9: command-line arguments
    ("cli", 9),
    // 10: revocation
    ("revoke", 10),
    // 11: commands
    ("command", 11),
];

/// One `crate::X` reference: where, from which module, to which.
#[derive(Debug, Clone)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn layer_of(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

/// `text` with comments, string literals and character literals blanked (newlines kept, so line numbers hold).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || c == 'b')
            && (i == 0 || !is_ident(chars[i - 1]))
            && raw_string_hashes(&chars[i..]).is_some()
        {
            // r"…", r#"…"#, br"…": runs to a quote followed by as many hashes.
            let (prefix, hashes) = raw_string_hashes(&chars[i..]).unwrap_or_default();
            for _ in 0..prefix {
                out.push(' ');
            }
            i += prefix;
            while i < chars.len() {
                if chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{7f}'.
            out.push_str("  ");
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            // Code, and lifetimes ('a), which are code too.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// For a raw string literal starting at `chars[0]`: the length of its opening (`r#"`) and its number of hashes.
fn raw_string_hashes(chars: &[char]) -> Option<(usize, usize)> {
    let mut i = 0;
    if chars.first() == Some(&'b') {
        i += 1;
    }
    if chars.get(i) != Some(&'r') {
        return None;
    }
    i += 1;
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    (chars.get(i) == Some(&'"')).then_some((i + 1, hashes))
}

/// Blanks the `#[cfg(test)]` items of code (comments already gone): the attribute's item up to its `;` or to
/// the brace closing its body. Returns the code left and the names of test-only `mod x;` files it declares.
fn without_test_items(code: &str) -> (String, Vec<String>) {
    let mut out: Vec<char> = code.chars().collect();
    let mut test_files = Vec::new();
    let needle: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + needle.len() <= out.len() {
        if out[i..i + needle.len()] != needle[..] {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + needle.len();
        while j < out.len() && out[j] != '{' && out[j] != ';' {
            j += 1;
        }
        if j < out.len() && out[j] == ';' {
            let item: String = out[start + needle.len()..j].iter().collect();
            let words: Vec<&str> = item.split_whitespace().collect();
            if let [.., "mod", name] = words.as_slice() {
                test_files.push((*name).to_string());
            }
        } else {
            let mut depth = 0;
            while j < out.len() {
                match out[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        let end = (j + 1).min(out.len());
        for c in &mut out[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    (out.into_iter().collect(), test_files)
}

/// The top-level modules that `code` (of a file of module `from`) names as `crate::X`, with their lines.
fn imports_of(file: &str, from: &str, code: &str) -> Vec<Import> {
    let mut found = Vec::new();
    for (index, line) in code.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(at) = rest.find("crate::") {
            let before = line[..offset + at].chars().next_back();
            let after = &rest[at + "crate::".len()..];
            rest = after;
            offset = line.len() - rest.len();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let names: Vec<String> = if let Some(group) = after.strip_prefix('{') {
                // crate::{a::b, c}: the first name of each part at the group's top level.
                let mut depth = 0;
                let mut parts = vec![String::new()];
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => parts.push(String::new()),
                        _ => {}
                    }
                    if let Some(part) = parts.last_mut() {
                        part.push(c);
                    }
                }
                parts
                    .iter()
                    .map(|p| {
                        p.trim_start_matches([',', ' '])
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .collect()
            } else {
                vec![after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()]
            };
            for to in names {
                if !to.is_empty() && to != from && to != "self" {
                    found.push(Import {
                        file: file.to_string(),
                        line: index + 1,
                        from: from.to_string(),
                        to,
                    });
                }
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The imports of the crate whose source files are `files` (paths relative to `src/`, and their text).
fn crate_imports(files: &[(String, String)]) -> Vec<Import> {
    let mut test_only: BTreeSet<String> = BTreeSet::new();
    let mut prepared = Vec::new();
    for (path, text) in files {
        let (code, test_mods) = without_test_items(&code_only(text));
        let dir = match Path::new(path).file_name().and_then(|f| f.to_str()) {
            Some("mod.rs" | "lib.rs" | "main.rs") => Path::new(path).parent().map(Path::to_path_buf),
            _ => Some(Path::new(path).with_extension("")),
        }
        .unwrap_or_default();
        for name in test_mods {
            test_only.insert(dir.join(format!("{name}.rs")).to_string_lossy().into_owned());
            test_only.insert(dir.join(&name).join("mod.rs").to_string_lossy().into_owned());
        }
        prepared.push((path, code));
    }
    let mut imports = Vec::new();
    for (path, code) in prepared {
        let module = path.split('/').next().unwrap_or_default().trim_end_matches(".rs");
        if module == "lib" || module == "main" || test_only.contains(path.as_str()) {
            continue;
        }
        imports.extend(imports_of(&format!("src/{path}"), module, &code));
    }
    imports
}

/// What breaks the rule, one line each; empty when the house holds.
fn violations(imports: &[Import]) -> Vec<String> {
    let mut problems = BTreeSet::new();
    let mut same_layer: BTreeMap<&str, BTreeMap<&str, &Import>> = BTreeMap::new();
    for import in imports {
        let (Some(from), Some(to)) = (layer_of(&import.from), layer_of(&import.to)) else {
            let unknown = if layer_of(&import.from).is_none() {
                &import.from
            } else {
                &import.to
            };
            problems.insert(format!(
                "{}:{}: module `{unknown}` is not in the layer table (tests/layers.rs and src/lib.rs)",
                import.file, import.line
            ));
            continue;
        };
        if to > from {
            problems.insert(format!(
                "{}:{}: `{}` (layer {from}) imports `{}` (layer {to}), a higher layer",
                import.file, import.line, import.from, import.to
            ));
        } else if to == from {
            same_layer
                .entry(&import.from)
                .or_default()
                .entry(&import.to)
                .or_insert(import);
        }
    }
    // Within a layer: an import from a to b, when b leads back to a, is a circle.
    for (from, targets) in &same_layer {
        for (to, import) in targets {
            if let Some(path) = path_between(&same_layer, to, from) {
                let back = same_layer[path[path.len() - 2]][from];
                problems.insert(format!(
                    "{}:{}: `{from}` imports `{to}`, and `{to}` leads back to `{from}` ({}; {}:{}): a circle in layer {}",
                    import.file,
                    import.line,
                    path.join(" -> "),
                    back.file,
                    back.line,
                    layer_of(from).unwrap_or_default()
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// The shortest chain of same-layer imports from `start` to `goal`, both included.
fn path_between<'a>(
    graph: &BTreeMap<&'a str, BTreeMap<&'a str, &Import>>,
    start: &'a str,
    goal: &'a str,
) -> Option<Vec<&'a str>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        if node == goal {
            let mut path = vec![goal];
            let mut at = goal;
            while at != start {
                at = came_from[at];
                path.push(at);
            }
            path.reverse();
            return Some(path);
        }
        for next in graph.get(node).into_iter().flat_map(|targets| targets.keys()) {
            if *next != start && !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

fn source_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths
        .iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (relative, text)
        })
        .collect()
}

#[test]
fn modules_import_only_their_own_layer_or_below_and_never_in_circles() {
    let files = source_files();
    let imports = crate_imports(&files);
    assert!(
        imports.len() > 100,
        "the scan found too few imports ({}) to be working",
        imports.len()
    );
    let problems = violations(&imports);
    let mut message = String::new();
    for problem in &problems {
        let _ = writeln!(message, "  {problem}");
    }
    assert!(problems.is_empty(), "the layering of src/lib.rs is broken:\n{message}");
    // Every top-level module is in the table, and the table names no module that is gone.
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(path, _)| {
            path.split('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let table: BTreeSet<String> = LAYERS.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(modules, table, "the modules of src/ and the layer table differ");
}

#[test]
fn lib_rs_map_matches_the_table() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("src/lib.rs");
    // Rows of the map: //! | `module` | what it holds | layer |
    let mut map = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | `") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let module = cells[0].trim_end_matches('`').to_string();
        let layer = cells
            .iter()
            .rev()
            .find(|c| !c.is_empty())
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("src/lib.rs: the map's row for `{module}` has no layer number last"));
        map.insert(module, layer);
    }
    let table: BTreeMap<String, u32> = LAYERS.iter().map(|(name, layer)| (name.to_string(), *layer)).collect();
    assert_eq!(
        map, table,
        "the module map of src/lib.rs and the table of tests/layers.rs differ"
    );
}

/// The check itself catches an import upward, a circle within a layer, and no false ones in comments, strings
/// and test modules.
#[test]
fn the_check_finds_violations() {
    let files = vec![
        (
            "finding.rs".to_string(),
            "// crate::command in a comment\nuse crate::severity::Severity;\nfn f() { let _ = \"crate::command\"; }\n\
             #[cfg(test)]\nmod tests {\n    use crate::command::main;\n    fn g() { let _ = '{'; }\n}\nuse crate::report::Format;\n"
                .to_string(),
        ),
        ("rules/mod.rs".to_string(), "use crate::{text, scan::Scanner};\n".to_string()),
        ("report/mod.rs".to_string(), "pub use crate::filter::x;\n".to_string()),
        ("filter/mod.rs".to_string(), "fn f() -> crate::report::Format { todo!() }\n".to_string()),
    ];
    let problems = violations(&crate_imports(&files));
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].starts_with("src/filter/mod.rs:1: `filter` imports `report`, and `report` leads back"));
    assert!(problems[1].starts_with("src/finding.rs:9: `finding` (layer 0) imports `report` (layer 8)"));
    assert!(problems[2].starts_with("src/report/mod.rs:1: `report` imports `filter`, and `filter` leads back"));
    assert!(problems[3].starts_with("src/rules/mod.rs:1: `rules` (layer 3) imports `scan` (layer 4)"));
}
