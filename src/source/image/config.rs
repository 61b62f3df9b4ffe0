//! The image config as text to scan: `ENV OPENAI_API_KEY=...` in a Dockerfile lands in `Env` for everyone who
//! pulls the image, build arguments and `RUN` lines in the history's `created_by`. Each field is scanned under a
//! name of its own (`<config:Env>`), one entry a line; then the whole config, for keys in fields no name covers
//! (`Healthcheck`, `OnBuild`, `User`, ...).

use serde_json::Value;

/// The config's fields, as (name, text) pairs, with the whole config last as `<config>`.
pub fn texts(config: &[u8]) -> Vec<(String, String)> {
    let Ok(value) = serde_json::from_slice::<Value>(config) else {
        return vec![(WHOLE.to_string(), String::from_utf8_lossy(config).into_owned())];
    };
    // Docker writes the run settings under `config`; old images also kept `container_config`.
    let settings = value.get("config");
    let mut texts = Vec::new();
    let mut add = |name: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            texts.push((format!("<config:{name}>"), lines.join("\n")));
        }
    };
    add("Env", strings(settings.and_then(|s| s.get("Env"))));
    add(
        "Labels",
        settings
            .and_then(|s| s.get("Labels"))
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    );
    add("Cmd", one_line(settings.and_then(|s| s.get("Cmd"))));
    add("Entrypoint", one_line(settings.and_then(|s| s.get("Entrypoint"))));
    add(
        "history",
        history(&value, false)
            .into_iter()
            .map(|step| step.unwrap_or_default())
            .collect(),
    );
    texts.push((WHOLE.to_string(), String::from_utf8_lossy(config).into_owned()));
    texts
}

/// The name findings in the whole config carry.
pub const WHOLE: &str = "<config>";

/// The `created_by` of each layer, in layer order: history entries marked `empty_layer` made no layer.
pub fn layer_steps(config: &[u8]) -> Vec<Option<String>> {
    serde_json::from_slice::<Value>(config).map_or_else(|_| Vec::new(), |value| history(&value, true))
}

/// The `created_by` of every history entry, or (`layers_only`) of those that made a layer.
fn history(value: &Value, layers_only: bool) -> Vec<Option<String>> {
    value
        .get("history")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|entry| !(layers_only && entry.get("empty_layer").and_then(Value::as_bool).unwrap_or(false)))
                .map(|entry| entry.get("created_by").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// An array of strings, one a line.
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// An array of strings (a command) on one line; a plain string as it is.
fn one_line(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(_)) => {
            let words = strings(value);
            if words.is_empty() {
                Vec::new()
            } else {
                vec![words.join(" ")]
            }
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields_become_named_texts() {
        let config = br#"{"architecture":"amd64","os":"linux",
            "config":{"Env":["PATH=/usr/bin","OPENAI_API_KEY=sk-x"],"Labels":{"a":"b"},
                      "Cmd":["python","app.py"],"Entrypoint":"/bin/sh"},
            "history":[{"created_by":"ADD file:1 in /"},{"created_by":"ENV A=b","empty_layer":true},
                       {"created_by":"RUN make"}]}"#;
        let texts = texts(config);
        let names: Vec<&str> = texts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "<config:Env>",
                "<config:Labels>",
                "<config:Cmd>",
                "<config:Entrypoint>",
                "<config:history>",
                "<config>"
            ]
        );
        assert_eq!(texts[0].1, "PATH=/usr/bin\nOPENAI_API_KEY=sk-x");
        assert_eq!(texts[2].1, "python app.py");
        assert_eq!(texts[4].1, "ADD file:1 in /\nENV A=b\nRUN make");
        assert_eq!(
            layer_steps(config),
            [Some("ADD file:1 in /".to_string()), Some("RUN make".to_string())]
        );
    }

    #[test]
    fn a_config_that_is_not_json_is_scanned_whole() {
        assert_eq!(texts(b"not json"), [("<config>".to_string(), "not json".to_string())]);
    }
}
