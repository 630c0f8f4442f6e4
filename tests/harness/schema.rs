//! Validation against the official OCI JSON schemas (vendored in tests/oci-schemas/).

use std::path::PathBuf;
use std::sync::OnceLock;

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

fn schema_dir() -> PathBuf {
    super::repo_root().join("tests/oci-schemas")
}

fn load(name: &str) -> Value {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schemas refer to each other by relative names under shifting base URIs (draft-04 `id`);
/// every reference is answered by the local file of the same name.
struct LocalFiles;

impl Retrieve for LocalFiles {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .path()
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(load(&name))
    }
}

fn validator(name: &str) -> Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_retriever(LocalFiles)
        .build(&load(name))
        .unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

/// Fails the test unless `bytes` is a valid document of the schema (index, manifest, config, layout).
#[track_caller]
pub fn assert_valid(kind: Kind, bytes: &[u8]) {
    static VALIDATORS: OnceLock<[Validator; 4]> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        [
            validator("image-index-schema.json"),
            validator("image-manifest-schema.json"),
            validator("config-schema.json"),
            validator("image-layout-schema.json"),
        ]
    });
    check(
        &validators[kind as usize],
        bytes,
        &format!("the OCI {kind:?} schema"),
    );
}

#[track_caller]
fn check(validator: &Validator, bytes: &[u8], schema: &str) {
    let document: Value = serde_json::from_slice(bytes).expect("document is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "does not match {schema}: {errors:?}\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Index = 0,
    Manifest = 1,
    Config = 2,
    Layout = 3,
}

#[test]
fn the_validators_refuse_what_the_spec_refuses() {
    let bad_index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256-no-colon"}]}"#;
    let result = std::panic::catch_unwind(|| assert_valid(Kind::Index, bad_index));
    assert!(
        result.is_err(),
        "a descriptor without size and with a malformed digest must fail validation"
    );
    assert_valid(Kind::Index, br#"{"schemaVersion":2,"manifests":[]}"#);
}

/// Fails the test unless `bytes` matches one of the project's published schemas (docs/schemas/).
#[track_caller]
pub fn assert_project_schema(name: &str, bytes: &[u8]) {
    let path = super::repo_root().join("docs/schemas").join(name);
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("project schema"))
        .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
    check(&validator, bytes, name);
}
