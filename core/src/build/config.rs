//! The image config a build produces, kept as JSON so fields this project does not model (Docker's
//! `Healthcheck`, `Shell`, `OnBuild`, …) survive from the base image untouched.

use serde_json::{Map, Value, json};

use crate::digest::Digest;
use crate::platform::Platform;

/// Docker's default `PATH`, given to images built `FROM scratch` as BuildKit does.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An image config under construction.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    document: Map<String, Value>,
}

impl ImageConfig {
    /// The config of an image built `FROM scratch`.
    pub fn scratch(platform: &Platform) -> Self {
        let mut config = ImageConfig {
            document: Map::new(),
        };
        config.set_platform(platform);
        config.document.insert(
            "rootfs".to_owned(),
            json!({"type": "layers", "diff_ids": []}),
        );
        if platform.os == "linux" {
            config.set_env("PATH", DEFAULT_PATH);
        }
        config
    }

    /// A copy of a base image's config, to build on.
    pub fn from_base(base: &Value, platform: &Platform) -> Self {
        let mut document = base.as_object().cloned().unwrap_or_default();
        // Settings of the base build that do not describe the new image.
        document.remove("container");
        document.remove("container_config");
        document.remove("docker_version");
        let mut config = ImageConfig { document };
        config.set_platform(platform);
        config
    }

    fn set_platform(&mut self, platform: &Platform) {
        let platform = platform.normalized();
        self.document.insert(
            "architecture".to_owned(),
            Value::from(platform.architecture),
        );
        self.document
            .insert("os".to_owned(), Value::from(platform.os));
        match platform.variant {
            Some(variant) => self
                .document
                .insert("variant".to_owned(), Value::from(variant)),
            None => self.document.remove("variant"),
        };
    }

    /// The `config` object (the runtime settings), created when missing.
    fn runtime(&mut self) -> &mut Map<String, Value> {
        let entry = self
            .document
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry.as_object_mut().expect("made an object above")
    }

    /// Sets a runtime setting (`WorkingDir`, `User`, `Entrypoint`, …); `Value::Null` clears it.
    pub fn set(&mut self, key: &str, value: Value) {
        if value.is_null() {
            self.runtime().remove(key);
        } else {
            self.runtime().insert(key.to_owned(), value);
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.document.get("config")?.get(key)
    }

    /// The environment, in order, as `(name, value)` pairs.
    pub fn env(&self) -> Vec<(String, String)> {
        self.get("Env")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|entry| match entry.split_once('=') {
                        Some((name, value)) => (name.to_owned(), value.to_owned()),
                        None => (entry.to_owned(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets one variable, in place when it exists (Docker keeps the order of first definition).
    pub fn set_env(&mut self, name: &str, value: &str) {
        let mut env = self.env();
        match env.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => env.push((name.to_owned(), value.to_owned())),
        }
        let entries = env
            .into_iter()
            .map(|(n, v)| Value::from(format!("{n}={v}")))
            .collect();
        self.set("Env", Value::Array(entries));
    }

    /// Adds a key to an object-valued setting (`Labels`, `ExposedPorts`, `Volumes`); `value` is
    /// the string for labels, `None` for the `{}` that ports and volumes map to.
    pub fn insert(&mut self, setting: &str, key: &str, value: Option<&str>) {
        let runtime = self.runtime();
        let map = runtime
            .entry(setting)
            .or_insert_with(|| Value::Object(Map::new()));
        if !map.is_object() {
            *map = Value::Object(Map::new());
        }
        let value = value.map_or_else(|| Value::Object(Map::new()), Value::from);
        map.as_object_mut()
            .expect("made an object above")
            .insert(key.to_owned(), value);
    }

    /// Appends a layer's uncompressed digest to `rootfs.diff_ids`.
    pub fn push_diff_id(&mut self, diff_id: &Digest) {
        let rootfs = self
            .document
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        if let Some(ids) = rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            ids.push(Value::from(diff_id.to_string()));
        } else {
            *rootfs = json!({"type": "layers", "diff_ids": [diff_id.to_string()]});
        }
    }

    /// Appends a history entry, as BuildKit and buildah write them.
    pub fn push_history(&mut self, created: &str, created_by: &str, empty_layer: bool) {
        let mut entry = json!({
            "created": created,
            "created_by": created_by,
            "comment": "multiarch.dockerfile.v0",
        });
        if empty_layer {
            entry["empty_layer"] = Value::Bool(true);
        }
        let history = self
            .document
            .entry("history")
            .or_insert_with(|| Value::Array(Vec::new()));
        match history.as_array_mut() {
            Some(entries) => entries.push(entry),
            None => *history = Value::Array(vec![entry]),
        }
    }

    pub fn set_author(&mut self, author: &str) {
        self.document
            .insert("author".to_owned(), Value::from(author));
    }

    /// The finished config: `created` set, serialised with sorted keys.
    pub fn finish(mut self, created: &str) -> Vec<u8> {
        self.document
            .insert("created".to_owned(), Value::from(created));
        crate::manifest::canonical_json(&Value::Object(self.document))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keeps_first_definition_order() {
        let mut config = ImageConfig::scratch(&Platform::new("linux", "arm64", None));
        config.set_env("A", "1");
        config.set_env("PATH", "/bin");
        assert_eq!(
            config.env(),
            vec![
                ("PATH".to_owned(), "/bin".to_owned()),
                ("A".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn base_platform_is_replaced_and_build_leftovers_dropped() {
        let base = json!({"architecture": "arm", "variant": "v7", "os": "linux",
            "container_config": {"Cmd": ["x"]}, "config": {"Cmd": ["sh"]}});
        let config = ImageConfig::from_base(&base, &Platform::new("linux", "arm64", None));
        let bytes = config.finish("1970-01-01T00:00:00Z");
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["architecture"], "arm64");
        assert!(value.get("variant").is_none());
        assert!(value.get("container_config").is_none());
        assert_eq!(value["config"]["Cmd"], json!(["sh"]));
    }
}
