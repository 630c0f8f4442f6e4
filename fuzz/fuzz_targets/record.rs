//! Records, the JSON a build job hands to the fan-in: any bytes parse or are refused without a
//! panic, and a record that parses writes out (`to_json`) as a document that parses back equal.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use multiarch_core::record::Record;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    let Ok(record) = Record::parse(data, path) else {
        return;
    };
    let json = record.to_json();
    let again = Record::parse(&json, path).unwrap_or_else(|e| {
        panic!(
            "a parsed record wrote {} that does not parse: {e}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(again, record);
    record
        .location()
        .expect("a parsed record names a repository");
});
