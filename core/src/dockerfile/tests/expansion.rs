use super::*;

/// A = "a", EMPTY = "", SP = "x  y", PATH = "/usr/bin:/bin", FILE = "dir/archive.tar.gz".
fn vars(name: &str) -> Option<String> {
    let value = match name {
        "A" => "a",
        "EMPTY" => "",
        "SP" => "x  y",
        "PATH" => "/usr/bin:/bin",
        "FILE" => "dir/archive.tar.gz",
        "_u9" => "under",
        _ => return None,
    };
    Some(value.to_owned())
}

fn ex(word: &str) -> String {
    expand(word, '\\', &vars).unwrap_or_else(|e| panic!("{word}: {e}"))
}

fn ex_err(word: &str) -> String {
    expand(word, '\\', &vars).unwrap_err().to_string()
}

fn words(input: &str) -> Vec<String> {
    expand_words(input, '\\', &vars).unwrap_or_else(|e| panic!("{input}: {e}"))
}

#[test]
fn variables() {
    let cases = [
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}b", "ab"),
        ("$Ab", ""),
        ("$A-b", "a-b"),
        ("$_u9!", "under!"),
        ("$UNSET.", "."),
        ("${UNSET}", ""),
        ("pre${PATH}post", "pre/usr/bin:/binpost"),
        ("$SP", "x  y"),
    ];
    for (word, want) in cases {
        assert_eq!(ex(word), want, "{word}");
    }
}

#[test]
fn dollar_without_a_name_is_literal() {
    for (word, want) in [
        ("$", "$"),
        ("a$", "a$"),
        ("$/x", "$/x"),
        ("$ x", "$ x"),
        ("$%", "$%"),
        ("\"$\"", "$"),
    ] {
        assert_eq!(ex(word), want, "{word}");
    }
    // Positional and special parameters are names, normally unset, as in BuildKit.
    assert_eq!(ex("a$1b"), "ab");
    assert_eq!(ex("$$"), "");
}

#[test]
fn quotes_and_escapes() {
    let cases = [
        ("'$A \"q\"'", "$A \"q\""),
        ("\"$A '$A'\"", "a 'a'"),
        (r#""\$A \"q\" \\ \x""#, r#"$A "q" \ \x"#),
        (r"\$A", "$A"),
        (r"a\ b", "a b"),
        (r"\'x\'", "'x'"),
        (r"C:\\dir", r"C:\dir"),
        (r"end\", "end"),
        (r#"mix"ed"'qu'otes"#, "mixedquotes"),
        ("\"\"", ""),
    ];
    for (word, want) in cases {
        assert_eq!(ex(word), want, "{word}");
    }
}

#[test]
fn backtick_escape() {
    let got = expand(r"C:\app\$A`$A`` `", '`', &vars).unwrap();
    assert_eq!(got, r"C:\app\a$A` ");
    assert_eq!(expand("\"`\"`$\"", '`', &vars).unwrap(), "\"$");
}

#[test]
fn defaults_alternatives_and_required() {
    let cases = [
        ("${A:-d}", "a"),
        ("${EMPTY:-d}", "d"),
        ("${UNSET:-d}", "d"),
        ("${A-d}", "a"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${A:?must be set}", "a"),
        ("${EMPTY?x}", ""),
        ("${UNSET:-${A}}", "a"),
        ("${UNSET:-${NONE:-$A-deep}}", "a-deep"),
        ("${UNSET:-\"x  y\"}", "x  y"),
        ("${UNSET:-'$A}'}", "$A}"),
        (r"${UNSET:-a\}b}", "a}b"),
        ("${UNSET:-}", ""),
    ];
    for (word, want) in cases {
        assert_eq!(ex(word), want, "{word}");
    }
    assert_eq!(
        ex_err("${UNSET:?VERSION must be set}"),
        "UNSET: VERSION must be set"
    );
    assert_eq!(ex_err("${UNSET?}"), "UNSET: is not allowed to be unset");
    assert_eq!(ex_err("${EMPTY:?}"), "EMPTY: is not allowed to be empty");
    let err = expand("${X:?need X}", '\\', &vars).unwrap_err();
    assert_eq!(
        err,
        ExpandError::Required {
            name: "X".into(),
            message: "need X".into()
        }
    );
}

#[test]
fn prefix_suffix_and_replace() {
    let cases = [
        ("${FILE#*/}", "archive.tar.gz"),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "dir/archive.tar"),
        ("${FILE%%.*}", "dir/archive"),
        ("${FILE%.t?r.gz}", "dir/archive"),
        ("${FILE#nomatch}", "dir/archive.tar.gz"),
        ("${PATH/bin/sbin}", "/usr/sbin:/bin"),
        ("${PATH//bin/sbin}", "/usr/sbin:/sbin"),
        ("${PATH//\\//|}", "|usr|bin:|bin"),
        ("${PATH/*:/}", "/bin"),
        ("${PATH//b?n/x}", "/usr/x:/x"),
        ("${UNSET/a/b}", ""),
        ("${UNSET#x}", ""),
        ("${FILE#\\*}", "dir/archive.tar.gz"),
    ];
    for (word, want) in cases {
        assert_eq!(ex(word), want, "{word}");
    }
    assert_eq!(
        ex_err("${FILE#\\x}"),
        "`${FILE#\\x}`: bad substitution: invalid escape `\\x` in pattern `\\x`; only *, ?, }, / and \\ can be escaped"
    );
}

#[test]
fn syntax_errors() {
    let missing = |w: &str| format!("`{w}`: missing `}}` to close `${{`");
    for word in ["${A", "${", "${A:-x", "${A:", "${A#x", "${A/x/y"] {
        assert_eq!(ex_err(word), missing(word), "{word}");
    }
    assert_eq!(
        ex_err("${}"),
        "`${}`: bad substitution: `${` must be followed by a variable name"
    );
    assert_eq!(
        ex_err("${:-x}"),
        "`${:-x}`: bad substitution: `${` must be followed by a variable name"
    );
    assert_eq!(
        ex_err("${A=x}"),
        "`${A=x}`: bad substitution: unsupported modifier `=` in `${A…}`; expected one of :- - :+ + :? ? # ## % %% / //"
    );
    assert!(ex_err("${A:=x}").contains("unsupported modifier `:=`"));
    assert!(ex_err("${A B}").contains("unsupported modifier ` `"));
    assert_eq!(
        ex_err("${A/x}"),
        "`${A/x}`: bad substitution: missing `/` after the pattern of `${NAME/pattern/replacement}`"
    );
    assert_eq!(
        ex_err("'open"),
        "`'open`: unterminated ' quote; add the closing '"
    );
    assert_eq!(
        ex_err("\"open\\\""),
        "`\"open\\\"`: unterminated \" quote; add the closing \""
    );
    assert_eq!(
        ex_err("${A:-\"x}"),
        "`${A:-\"x}`: unterminated \" quote; add the closing \""
    );
}

#[test]
fn word_splitting() {
    assert_eq!(
        words("  80  443/tcp\t53 "),
        strings(&["80", "443/tcp", "53"])
    );
    assert_eq!(
        words(r#""a b" 'c d'e f\ g"#),
        strings(&["a b", "c de", "f g"])
    );
    assert_eq!(words("$SP z"), strings(&["x", "y", "z"]));
    assert_eq!(words("\"$SP\" z"), strings(&["x  y", "z"]));
    assert_eq!(words("pre$SP"), strings(&["prex", "y"]));
    assert_eq!(words("${UNSET:-8080 9090}"), strings(&["8080", "9090"]));
    assert!(words("\"\" $UNSET  ").is_empty());
    assert!(expand_words("'x", '\\', &vars).is_err());
}

#[test]
fn parsed_values_expand_to_what_docker_builds() {
    let Instruction::Env(env) = one(r#"ENV B="two $A" C=x\ y D='$A' E=${UNSET:-"d e"}"#) else {
        panic!()
    };
    let values: Vec<String> = env.iter().map(|(_, v)| ex(v)).collect();
    assert_eq!(values, strings(&["two a", "x y", "$A", "d e"]));
    let Instruction::Copy(copy) = one(r#"COPY "my file" ${A}.txt /dst/"#) else {
        panic!()
    };
    let sources: Vec<String> = copy.sources.iter().map(|s| ex(s)).collect();
    assert_eq!(sources, strings(&["my file", "a.txt"]));
}

#[test]
fn pattern_edges() {
    let cases = [
        ("${FILE%/*}", "dir"),
        ("${FILE##*/}", "archive.tar.gz"),
        ("${A#*}", "a"),
        ("${A##*}", ""),
        ("${A%%*}", ""),
        ("${A///-}", "-a-"),
        ("${SP// /_}", "x__y"),
        ("${PATH/\\*/x}", "/usr/bin:/bin"),
    ];
    for (word, want) in cases {
        assert_eq!(ex(word), want, "{word}");
    }
}

#[test]
fn long_values_stay_fast() {
    let long = "ab".repeat(500);
    let lookup = |_: &str| Some(long.clone());
    let start = std::time::Instant::now();
    assert_eq!(expand("${V//*z/x}", '\\', &lookup).unwrap(), long);
    assert_eq!(expand("${V%%b*}", '\\', &lookup).unwrap(), "a");
    assert_eq!(expand("${V//?b/}", '\\', &lookup).unwrap(), "");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn heredoc_content_keeps_quotes() {
    let content = "name=\"$A\" '${UNSET:-d}'\nescaped=\\$A path=C:\\\\x\n";
    let got = expand_heredoc(content, &vars).unwrap();
    assert_eq!(got, "name=\"a\" 'd'\nescaped=$A path=C:\\x\n");
    assert!(expand_heredoc("${A", &vars).is_err());
}
