//! Image references and repositories (`HOST[:PORT]/REPO[:TAG][@DIGEST]`, `oci:DIR[:TAG]`): any
//! text parses or is refused without a panic, and what parses prints as text that parses back to
//! the same reference (the form records, logs and `--tag` outputs rely on).

#![no_main]

use libfuzzer_sys::fuzz_target;
use multiarch_core::reference::{ImageRef, Location};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reference) = text.parse::<ImageRef>() {
        let shown = reference.to_string();
        let again: ImageRef = shown
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
        assert_eq!(again, reference, "{text:?} printed as {shown:?}");
        let _ = reference.target().to_string();
        if let Some(registry) = reference.location.registry() {
            let _ = multiarch_core::reference::is_loopback(registry);
        }
    }
    if let Ok(location) = text.parse::<Location>() {
        let shown = location.to_string();
        let again: Location = shown
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
        assert_eq!(again, location, "{text:?} printed as {shown:?}");
    }
});
