//! Platforms (`OS/ARCH[/VARIANT]`) and platform lists: any text parses or is refused without a
//! panic; what parses prints as text that parses back equal; normalising is idempotent, keeps a
//! platform parseable, and agrees with `matches`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use multiarch_core::platform::Platform;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(platform) = text.parse::<Platform>() {
        check(text, &platform);
    }
    if let Ok(list) = Platform::parse_list(text) {
        assert!(!list.is_empty(), "{text:?} gave an empty list");
        for platform in &list {
            check(text, platform);
        }
    }
});

fn check(text: &str, platform: &Platform) {
    let shown = platform.to_string();
    let again: Platform = shown
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
    assert_eq!(&again, platform, "{text:?} printed as {shown:?}");

    let normal = platform.normalized();
    assert_eq!(normal.normalized(), normal, "normalising {text:?} twice");
    let shown = normal.to_string();
    let again: Platform = shown
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} normalised to {shown:?}, which does not parse: {e}"));
    assert_eq!(again, normal, "{text:?} normalised to {shown:?}");
    assert!(
        platform.matches(&normal),
        "{text:?} does not match its normal form"
    );
    assert!(
        normal.matches(platform),
        "the normal form of {text:?} does not match it"
    );
}
