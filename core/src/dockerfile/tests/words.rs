use super::super::words::{JsonArray, extract_flags, json_array, split_raw};
use super::strings;

#[test]
fn split_raw_keeps_quotes_and_escapes() {
    let got = split_raw(r#"  A="x y" B='p q'r C=a\ b D=\"e "" '' end\"#, '\\');
    let want = [
        r#"A="x y""#,
        "B='p q'r",
        r"C=a\ b",
        r#"D=\"e"#,
        "\"\"",
        "''",
        "end",
    ];
    assert_eq!(got, strings(&want));
    assert_eq!(
        split_raw(r#""a\"b c" 'a\'"#, '\\'),
        strings(&[r#""a\"b c""#, r"'a\'"])
    );
    assert_eq!(split_raw(r"a`  b\ c", '`'), strings(&["a` ", r"b\", "c"]));
    assert!(split_raw(" \t ", '\\').is_empty());
}

#[test]
fn flags_are_taken_off_the_front() {
    let (flags, rest) = extract_flags("--a=1 --b=\"x y\" --c='q'\\ r  src dst --d");
    assert_eq!(flags, strings(&["--a=1", "--b=x y", "--c=q r"]));
    assert_eq!(rest, "src dst --d");
    assert_eq!(extract_flags("-- --x y"), (vec![], " --x y"));
    assert_eq!(extract_flags("--link"), (strings(&["--link"]), ""));
    assert_eq!(extract_flags("--link --"), (strings(&["--link"]), ""));
    assert_eq!(extract_flags("-x --y"), (vec![], "-x --y"));
    assert_eq!(extract_flags(""), (vec![], ""));
}

#[test]
fn json_arrays() {
    let strings_of = |text: &str| match json_array(text) {
        JsonArray::Strings(items) => items,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(strings_of("[]"), Vec::<String>::new());
    assert_eq!(strings_of(" [ \"a\" ,\n\"b\" ] "), strings(&["a", "b"]));
    assert_eq!(
        strings_of(r#"["\"\\\/\b\f\n\r\t", "\u00e9\ud83d\ude00", "\ud800x"]"#),
        strings(&["\"\\/\u{8}\u{c}\n\r\t", "é😀", "\u{fffd}x"])
    );
    for text in [
        r#"["a", 1]"#,
        "[null]",
        "[true, false]",
        "[[\"a\"]]",
        r#"[{"k": [1.5e3, -0, {}]}]"#,
    ] {
        assert_eq!(json_array(text), JsonArray::NotStrings, "{text}");
    }
    let not_json = [
        "a b",
        "[",
        "[\"a\"",
        "[\"a\",]",
        "['a']",
        "[\"a\"] x",
        "[01]",
        "[1.]",
        "[\"\\x\"]",
        "[\"\t\"]",
        "[tru]",
        "[{1: 2}]",
    ];
    for text in not_json {
        assert_eq!(json_array(text), JsonArray::NotJson, "{text}");
    }
}
